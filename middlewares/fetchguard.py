"""Scheme and address policy for every request of a crawl (`consentry.middlewares.adapters.addresses`).

Downloader middleware, order 50 (before the site-file middleware, so site files, licences, manifests and
every redirect hop pass it too: a redirect is a new request through the whole chain). A request whose scheme
is not http(s), or whose host resolves to a non-public address, is refused with `IgnoreRequest` before a
connection is opened; the site-file cache turns that into an unreachable site file with the reason, an
asset is not fetched and the refusal is logged and counted (`consent/refused/...` stats). The host is resolved
with the reactor's resolver (Scrapy's DNS cache). The connection resolves the name again: the same policy
filters that answer too (`consentry.middlewares.dialguard`, around the reactor's name resolver), so a
name that answers differently the second time (DNS rebinding, or Scrapy's DNS cache off) is still never
dialled on a refused address; that failure is reported with the same reason. The addresses of the spider's
`start_urls` are allowed, and every address when `CONSENT_ALLOW_PRIVATE_ADDRESSES` is true.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import exceptions as scrapy_exceptions
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from twisted.internet.error import DNSLookupError

from consentry.middlewares import dialguard
from consentry.middlewares._config import consent_settings
from consentry.middlewares._scrapyio import SITE_FILE_META, emit_decision
from consentry.middlewares.adapters.addresses import FetchGuard, TargetRefused, resolve_host
from consentry.middlewares.adapters.clock import now
from consentry.middlewares.signals import consent_fetch_failed
from consentry.policies.evaluate import evaluate_refused

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

    from consentry.policies.config import PolicyConfig

__all__ = ["FetchGuardMiddleware"]

logger = logging.getLogger(__name__)

#: How a connection whose every address was refused fails: Twisted's lookup error (Scrapy ≥ 2.19 re-raises it
#: as its own `CannotResolveHostError`).
_LOOKUP_FAILURES: tuple[type[Exception], ...] = (
    DNSLookupError, getattr(scrapy_exceptions, "CannotResolveHostError", DNSLookupError))


def _reactor() -> Any:
    """The installed Twisted reactor (None without Twisted)."""
    try:
        from twisted.internet import reactor
    except ImportError:  # pragma: no cover - Scrapy without a Twisted reactor
        return None
    return reactor


async def _reactor_resolve(host: str) -> list[str]:
    """`host`'s address from the Twisted reactor's resolver (the one Scrapy connects with)."""
    reactor = _reactor()
    if reactor is None:  # pragma: no cover - Scrapy without a Twisted reactor
        return await asyncio.to_thread(resolve_host, host)
    from scrapy.utils.defer import maybe_deferred_to_future

    address: str = await maybe_deferred_to_future(reactor.resolve(host))
    return [address]


class FetchGuardMiddleware:
    """Refuses non-http(s) requests and non-public addresses before connecting."""

    def __init__(self, crawler: Crawler, guard: FetchGuard, config: PolicyConfig) -> None:
        self.crawler = crawler
        self.guard = guard
        self.config = config
        self._start_hosts: set[str] = set()
        self._started: asyncio.Future[None] | None = None
        self._dial_guard: dialguard.DialGuard | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` when `CONSENT_ENABLED` is false."""
        settings = consent_settings(crawler.settings)
        middleware = cls(crawler, FetchGuard(allow_private=settings.allow_private_addresses), settings.config)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self, spider: Spider) -> None:
        """Allow the addresses of the crawl's own start URLs (resolved on the first request, with the resolver
        the crawl dials with)."""
        urls = [str(url) for url in getattr(spider, "start_urls", ()) or ()]
        self._start_hosts = {host for host in (urlsplit(url).hostname for url in urls) if host}
        self._dial_guard = dialguard.install(_reactor(), self.guard)

    def spider_closed(self, spider: Spider) -> None:
        """Take this crawl's guard off the reactor's name resolver."""
        dialguard.uninstall(_reactor(), self.guard)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A connection whose every address the dial guard refused: `IgnoreRequest` with the refusal as reason
        (other failures pass on unchanged)."""
        host = urlsplit(request.url).hostname or ""
        why = self._dial_guard.refusal(host) if self._dial_guard is not None else None
        if why is not None and isinstance(exception, _LOOKUP_FAILURES):
            self._refuse(request, why, "address")

    async def _allow_start_hosts(self) -> None:
        for host in self._start_hosts:
            try:
                self.guard.allowed.update(await _reactor_resolve(host))
            except Exception:  # an unresolvable start URL fails on its own request
                logger.debug("start URL host %s does not resolve", host)

    def _refuse(self, request: Request, why: str, kind: str) -> None:
        """Log and count the refusal; an asset (not a site file, licence or manifest: their fetchers record the
        refusal as the document's failure) gets its `skip` decision, tagged `unverifiable`, and the refusal is
        archived as a fetch failure so an audit replays it. Then `IgnoreRequest`."""
        logger.warning("not fetched: %s", why)
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"consent/refused/{kind}")
        meta = request.meta
        if not meta.get("dont_check_consent") and SITE_FILE_META not in meta:
            hops = meta.get("redirect_urls") or ()
            if hops:
                why = f"{why} (redirected from {hops[0]})"
            self.crawler.signals.send_catch_log(consent_fetch_failed, url=request.url, detail=why)
            emit_decision(self.crawler, evaluate_refused(request.url, why, self.config, fetched_at=now()),
                          request, None)
        raise IgnoreRequest(why)

    async def process_request(self, request: Request) -> None:
        """Pass `request` on, or `IgnoreRequest` naming why its target may not be dialled."""
        if self._started is None:  # every request waits for the one resolution of the start hosts
            self._started = asyncio.ensure_future(self._allow_start_hosts())
        if self._started.done():
            self._started.result()  # raises what the resolution raised, as awaiting it would
        else:
            await asyncio.shield(self._started)
        try:
            self.guard.check_url(request.url)
        except TargetRefused as exc:
            self._refuse(request, str(exc), "scheme" if "scheme" in str(exc) else "address")
        host = urlsplit(request.url).hostname or ""
        if self.guard.allow_private or host in self.guard.allowed:
            return
        try:
            addresses = await _reactor_resolve(host)
        except Exception:
            return
        try:
            for address in addresses:
                self.guard.check_address(host, address)
        except TargetRefused as exc:
            self._refuse(request, str(exc), "address")
