"""Use control per asset: response, document and embedded signals (docs/decision-record.md).

Downloader middleware, order 120: its `process_response` runs after decompression and redirects. It
fetches what the response links to (RSL licences, remote C2PA manifests) through the engine, evaluates
with `consentry.policies.evaluate.evaluate_response`, puts the `Decision` on `response.meta["consent"]`, emits it
(`consentry.middlewares.signals.consent_decision`) and raises `IgnoreRequest` for `drop`. Site-file fetches and
`dont_check_consent` requests pass untouched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import IgnoreRequest

from consentry.middlewares._config import consent_settings
from consentry.middlewares._scrapyio import INHERITED_META, asset_response, emit_decision, wants_check
from consentry.middlewares._sitecache import SiteCache, site_cache
from consentry.middlewares.adapters.clock import now
from consentry.middlewares.adapters.manifestreader import C2paReader
from consentry.policies.evaluate import HTML_TYPES, evaluate_asset, origin_of
from consentry.policies.gather import asset_needs
from consentry.policies.model import Action

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from consentry.middlewares.adapters.registry import Registry
    from consentry.policies.config import PolicyConfig
    from consentry.policies.record import Decision

__all__ = ["AssetConsentMiddleware"]

logger = logging.getLogger(__name__)


def _open_registry(path: str | None) -> Registry | None:
    """The `CONSENT_REGISTRY` works registry, opened for reading (checked by `consent_settings`)."""
    if path is None:
        return None
    from consentry.middlewares.adapters.registry import Registry

    return Registry.open(path)


class AssetConsentMiddleware:
    """Evaluates every fetched asset and drops what its creators withheld."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        config: PolicyConfig,
        cache: SiteCache,
        trust_anchors_pem: str | None = None,
        follow_dropped_pages: bool = True,
        registry: Registry | None = None,
    ) -> None:
        self.crawler = crawler
        self.config = config
        self.cache = cache
        self.reader = C2paReader(trust_anchors_pem)
        self.follow_dropped_pages = follow_dropped_pages
        self.registry = registry

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Validate `CONSENT_*` at start-up; `NotConfigured` when `CONSENT_ENABLED` is false."""
        settings = consent_settings(crawler.settings)
        middleware = cls(
            crawler,
            config=settings.config,
            cache=site_cache(crawler, settings),
            trust_anchors_pem=settings.trust_anchors_pem,
            follow_dropped_pages=settings.follow_dropped_pages,
            registry=_open_registry(settings.registry_path),
        )
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    def close(self) -> None:
        """Close the works registry, if one was opened (on `spider_closed`)."""
        if self.registry is not None:
            self.registry.close()

    async def evaluate(self, request: Request, response: Response) -> Decision:
        """The decision for one downloaded response (linked documents fetched first)."""
        site = await self.cache.policy(origin_of(response.url))
        asset = asset_response(response, tuple(request.meta.get(INHERITED_META, ())))
        documents = await self.cache.answer(asset_needs(asset, self.config))
        return evaluate_asset(site, asset, self.config, fetched_at=now(), documents=documents, reader=self.reader,
                              registry=self.registry)

    async def process_response(self, request: Request, response: Response) -> Response:
        """Attach the decision; raise `IgnoreRequest` after emitting it when the asset is not kept.

        A dropped HTML page is passed on when `CONSENT_FOLLOW_DROPPED_PAGES` is true (the default): its
        links are still followed (fetching was allowed; only its use is withheld), while
        `ConsentTagMiddleware` withholds every item made from it.
        """
        if not wants_check(request):
            return response
        decision = await self.evaluate(request, response)
        request.meta["consent"] = decision
        emit_decision(self.crawler, decision, request, response)
        if decision.action is Action.KEEP:
            return response
        page = decision.response is not None and decision.response.content_type in HTML_TYPES
        if decision.action is Action.DROP and self.follow_dropped_pages and page:
            return response
        raise IgnoreRequest(f"consent {decision.action.value}: {decision.reason}")
