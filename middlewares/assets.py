"""Use control per asset: response, document and embedded signals (docs/decision-record.md).

Downloader middleware, order 120: its `process_response` runs after decompression and redirects. It
fetches what the response links to (RSL licences, remote C2PA manifests) through the engine, evaluates
with `consentry.policies.evaluate.evaluate_response`, puts the `Decision` on `response.meta["consent"]`, emits it
(`consentry.middlewares.signals.consent_decision`) and raises `IgnoreRequest` for `drop`. Site-file fetches and
`dont_check_consent` requests pass untouched.

On Scrapy's `headers_received` signal it judges the response on its headers (empty body) with the site policy
and the linked documents already fetched; when that decision denies every declared purpose for good
(`consentry.policies.withhold.final_denial`: deny > allow across mechanisms, TDMRep excepted) the transfer stops
there (`StopDownload(fail=False)`: no body byte is read), unless the spider follows the page's links
(`consentry.middlewares._scrapyio.body_needed` and an HTML media type). The headers-only response is then
decided as any other — on what was received — and never reaches the spider.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, StopDownload

from consentry.middlewares._config import consent_settings
from consentry.middlewares._scrapyio import (
    INHERITED_META,
    body_needed,
    emit_decision,
    evaluated_asset,
    field_lines,
    wants_check,
)
from consentry.middlewares._sitecache import SiteCache, site_cache
from consentry.middlewares.adapters.clock import now
from consentry.middlewares.adapters.manifestreader import C2paReader
from consentry.policies.evaluate import HTML_TYPES, evaluate_asset, origin_of
from consentry.policies.gather import asset_needs
from consentry.policies.model import Action, AssetResponse, Signal, media_type
from consentry.policies.withhold import final_denial

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

    from consentry.middlewares.adapters.registry import Registry
    from consentry.policies.config import PolicyConfig
    from consentry.policies.record import Decision

__all__ = ["STOPPED_AFTER_HEADERS_META", "STOPPED_STAT", "AssetConsentMiddleware"]

logger = logging.getLogger(__name__)

#: request.meta key: the transfer was stopped after the headers (their signals deny every declared purpose).
STOPPED_AFTER_HEADERS_META = "consent_stopped_after_headers"
#: Stats key counting transfers stopped after the headers.
STOPPED_STAT = "consent/withheld/after_headers"
_STOPPED_FLAG = "download_stopped"  # Scrapy's flag on a response whose transfer a signal handler stopped


def _media_type(headers: Headers) -> str:
    """The media type of the last Content-Type field, as `AssetResponse.content_type` reads it."""
    values = headers.getlist(b"Content-Type")
    return media_type(values[-1].decode("latin-1")) if values else ""


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
        crawler.signals.connect(middleware.headers_received, signal=signals.headers_received)
        return middleware

    def close(self) -> None:
        """Close the works registry, if one was opened (on `spider_closed`)."""
        if self.registry is not None:
            self.registry.close()

    def headers_received(self, headers: Headers, request: Request, **_: object) -> None:
        """Stop the transfer (`StopDownload(fail=False)`) when the headers already decide a `drop` for good."""
        request.meta.pop(STOPPED_AFTER_HEADERS_META, None)  # a retried request is judged afresh
        if not wants_check(request):
            return
        if body_needed(request, follow_dropped_pages=self.follow_dropped_pages) and _media_type(headers) in HTML_TYPES:
            return
        site = self.cache.peek(origin_of(request.url))
        if site is None:
            return
        inherited = tuple(s for s in request.meta.get(INHERITED_META, ()) if isinstance(s, Signal))
        asset = AssetResponse(request.url, 200, field_lines(headers), b"", inherited)
        documents = self.cache.peek_documents(asset_needs(asset, self.config))
        decision = evaluate_asset(site, asset, self.config, fetched_at=None, documents=documents, reader=self.reader)
        if not final_denial(decision, self.config):
            return
        request.meta[STOPPED_AFTER_HEADERS_META] = True
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(STOPPED_STAT)
        raise StopDownload(fail=False)

    async def evaluate(self, request: Request, response: Response) -> Decision:
        """The decision for one downloaded response (linked documents fetched first)."""
        site = await self.cache.policy(origin_of(response.url))
        asset = evaluated_asset(request, response, tuple(request.meta.get(INHERITED_META, ())))
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
        if request.meta.get(STOPPED_AFTER_HEADERS_META) and _STOPPED_FLAG in response.flags:  # no body was read
            raise IgnoreRequest(f"consent {decision.action.value} (transfer stopped after the headers): "
                                f"{decision.reason}")
        if decision.action is Action.KEEP:
            return response
        page = decision.response is not None and decision.response.content_type in HTML_TYPES
        if decision.action is Action.DROP and self.follow_dropped_pages and page:
            return response
        raise IgnoreRequest(f"consent {decision.action.value}: {decision.reason}")
