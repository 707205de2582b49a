"""Access control per origin: robots.txt, ai.txt, tdmrep.json fetched through the engine (RFC 9309 §2.3).

Downloader middleware, order 100, replacing Scrapy's `RobotsTxtMiddleware` (set `ROBOTSTXT_OBEY = False`).
A URL our product token may not fetch — including every URL of an origin whose robots.txt is unreachable
(5xx, timeout, connection error, > 5 redirects) — is never requested, nor is a URL on an excluded domain
(`CONSENT_EXCLUDED_DOMAINS`, checked before any site file of its origin is fetched; a redirect to one is a
new request and is skipped here too): its `skip` decision is emitted
(`consentry.middlewares.signals.consent_decision`) and the request raises `IgnoreRequest`. Nor is a URL whose
site files alone deny every declared purpose while `CONSENT_ON_DENY` is `drop`
(`consentry.policies.withhold.withheld_before_download`): its `drop` decision has no response — unless the
spider follows the page's links (`consentry.middlewares._scrapyio.body_needed`). A request is sent
with the URL robots.txt was matched against (RFC 9309 §2.2.2: `/public/../private/` is requested as
`/private/`, never as written). Bypass: meta `dont_check_consent`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from consentry.middlewares._config import consent_settings
from consentry.middlewares._scrapyio import body_needed, emit_decision, wants_check
from consentry.middlewares._sitecache import SiteCache, site_cache
from consentry.middlewares.adapters.addresses import request_url
from consentry.middlewares.adapters.clock import now
from consentry.policies.evaluate import evaluate_access, evaluate_exclusion, origin_of
from consentry.policies.withhold import withheld_before_download

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

    from consentry.policies.config import PolicyConfig

__all__ = ["WITHHELD_STAT", "SiteFilesMiddleware"]

logger = logging.getLogger(__name__)

_NORMALISED = "consent_normalised_url"
#: Stats key counting URLs decided without being requested (withheld before download).
WITHHELD_STAT = "consent/withheld/before_download"


class SiteFilesMiddleware:
    """Skips what robots.txt denies our product token; never fails open."""

    def __init__(
        self, crawler: Crawler, *, config: PolicyConfig, cache: SiteCache, follow_dropped_pages: bool = True
    ) -> None:
        self.crawler = crawler
        self.config = config
        self.cache = cache
        self.follow_dropped_pages = follow_dropped_pages

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Validate `CONSENT_*` at start-up; `NotConfigured` when `CONSENT_ENABLED` is false."""
        settings = consent_settings(crawler.settings)
        if crawler.settings.getbool("ROBOTSTXT_OBEY"):
            logger.warning(
                "ROBOTSTXT_OBEY is True: Scrapy's RobotsTxtMiddleware fails open; set it to "
                "False and let SiteFilesMiddleware apply robots.txt"
            )
        user_agent = str(crawler.settings.get("USER_AGENT") or "")
        if settings.config.agent.lower() not in user_agent.lower():
            logger.warning(
                "USER_AGENT %r does not carry the product token %r (CONSENT_AGENT)",
                user_agent,
                settings.config.agent,
            )
        return cls(crawler, config=settings.config, cache=site_cache(crawler, settings),
                   follow_dropped_pages=settings.follow_dropped_pages)

    async def process_request(self, request: Request) -> Request | None:
        """Raise `IgnoreRequest` (after emitting the `skip` decision) when access is denied; a URL not in its
        normalised spelling (`request_url`) is replaced by it, so what is requested is what was matched."""
        if not wants_check(request):
            return None
        decision = evaluate_exclusion(request.url, self.config, fetched_at=now())  # before any site file
        if decision is None:
            normalised = request_url(request.url)
            if normalised != request.url and not request.meta.get(_NORMALISED):
                # the original passed the duplicate filter already, and its fingerprint is the normalised one
                return request.replace(url=normalised, meta={**request.meta, _NORMALISED: True}, dont_filter=True)
            site = await self.cache.policy(origin_of(request.url))
            decision = evaluate_access(site, request.url, self.config, fetched_at=now())
            if decision is None and not body_needed(request, follow_dropped_pages=self.follow_dropped_pages):
                decision = withheld_before_download(site, request.url, self.config, fetched_at=now())
                self._count_withheld(decision)
        if decision is None:
            return None
        emit_decision(self.crawler, decision, request, None)
        raise IgnoreRequest(f"consent {decision.action.value}: {decision.reason}")

    def _count_withheld(self, decision: object) -> None:
        if decision is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(WITHHELD_STAT)
