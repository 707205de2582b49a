"""Politeness per origin: one Scrapy download slot per origin, and `Retry-After` on 429/503 honoured.

Downloader middleware, order 950: the innermost one, so its `process_request` runs just before the download
and its `process_response` sees a 429/503 before Scrapy's `RetryMiddleware` (550) turns it into a retry.
Scrapy keys download slots by host name, so two origins on one host share a slot; this middleware sets the
`download_slot` meta key of every request — the spider's and consentry's own site-file, licence and
manifest fetches — to the request's origin (`scheme://host[:port]`, RFC 6454 §4), unless the request
already names a slot (`DOWNLOAD_SLOTS` keys are therefore origins). Scrapy's slot does not bound what is in
flight when many requests reach it in one event-loop turn (it hands them to the download handler before
counting them as transferring), so the per-origin limit — `DOWNLOAD_SLOTS[origin]["concurrency"]`, else
`CONCURRENT_REQUESTS_PER_IP`, else `CONCURRENT_REQUESTS_PER_DOMAIN` — is also held here, by one semaphore
per origin taken in `process_request` and released when the response or the error comes back.

A 429 or 503 carrying `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) holds every later
request to that origin until the delay has passed, capped at `CONSENT_MAX_RETRY_AFTER` seconds; the
retry Scrapy schedules waits too. A 429 robots.txt is `unreachable` (`consentry.policies.model`), so the
origin is denied until it is fetched again after `CONSENT_UNREACHABLE_TTL`.

`Crawl-delay` and `Request-rate` of the robots.txt group that applies to our product token
(`consentry.policies.robots.pacing`; neither is defined by RFC 9309) pace the origin once its robots.txt is
known: one request in flight at a time, each starting at least that many seconds after the previous request
to the origin ended (the interval is capped at `CONSENT_MAX_CRAWL_DELAY`; the site files fetched together
before robots.txt is read are the only requests not paced). This holds on top of Scrapy's own concurrency,
`DOWNLOAD_DELAY` and AutoThrottle, which can only make the origin slower still.

In a distributed crawl (`CONSENT_REDIS_URL`, `consentry.middlewares.cluster`) the origin's next free slot and
its Retry-After hold are also kept in Redis: every request waits for the cluster's slot, so the Crawl-delay
holds between the requests of all workers, and a Retry-After one worker received holds the others too; the
per-origin limit of requests in flight counts the requests of every worker (one place per request, given back
with the response or the error; renewed by the worker's heartbeat, it expires after `CONSENT_LEASE_TIMEOUT`
should its worker die).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from consentry.middlewares._config import consent_settings
from consentry.middlewares._sitecache import site_cache
from consentry.policies.evaluate import origin_of

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from consentry.middlewares._sitecache import SiteCache

__all__ = ["RETRY_AFTER_STATUSES", "OriginPolitenessMiddleware", "retry_after_seconds"]

logger = logging.getLogger(__name__)

#: Statuses whose `Retry-After` holds the origin (RFC 6585 §4, RFC 9110 §15.6.4).
RETRY_AFTER_STATUSES = frozenset({429, 503})
_SLOT_META = "download_slot"


def retry_after_seconds(value: str, *, now: float) -> float | None:
    """Seconds to wait for a `Retry-After` value (delay-seconds or HTTP-date, RFC 9110 §10.2.3), measured
    from `now` (a POSIX time); None when the value is neither."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


class OriginPolitenessMiddleware:
    """Download slots per origin; an origin that answered `Retry-After` is left alone until then."""

    def __init__(
        self, *, max_retry_after: int, concurrency: int, slot_concurrency: Mapping[str, int] | None = None,
        cache: SiteCache | None = None, max_crawl_delay: float = 0.0, crawler: Crawler | None = None,
    ) -> None:
        self.max_retry_after = max_retry_after
        self.concurrency = concurrency
        self.slot_concurrency = dict(slot_concurrency or {})
        self.cache = cache
        self.max_crawl_delay = max_crawl_delay
        self._held_until: dict[str, float] = {}  # origin -> time.monotonic() deadline
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._holding: dict[Request, asyncio.Semaphore] = {}
        self._paced: dict[str, asyncio.Lock] = {}  # origin -> the one request in flight while paced
        self._pacing: dict[Request, tuple[str, asyncio.Lock]] = {}
        self._ended: dict[str, float] = {}  # origin -> time.monotonic() the last paced request ended
        self._crawler = crawler  # a distributed crawl's: its run keeps the slots and holds in Redis
        self._places: dict[Request, tuple[str, str]] = {}  # request -> (origin, token) of its cluster place
        self._tokens = itertools.count()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` when `CONSENT_ENABLED` is false."""
        settings = crawler.settings
        slots = {
            key: int(value["concurrency"])
            for key, value in settings.getdict("DOWNLOAD_SLOTS").items()
            if isinstance(value, dict) and "concurrency" in value
        }
        concurrency = settings.getint("CONCURRENT_REQUESTS_PER_IP") or settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        consent = consent_settings(settings)
        return cls(
            max_retry_after=consent.max_retry_after,
            concurrency=max(1, concurrency),
            slot_concurrency=slots,
            cache=site_cache(crawler, consent),
            max_crawl_delay=float(consent.max_crawl_delay),
            crawler=crawler if settings.get("CONSENT_REDIS_URL") else None,
        )

    def _run(self) -> Any:
        if self._crawler is None:
            return None
        from consentry.middlewares.cluster import run_of

        return run_of(self._crawler)

    async def _shared_slot(self, request: Request, origin: str, delay: float) -> None:
        """A distributed crawl: wait for one of the origin's places in the whole cluster, then for its next slot
        (its Crawl-delay after any worker's last request, and any worker's Retry-After hold)."""
        run = self._run()
        if run is None:
            return
        limit = max(1, self.slot_concurrency.get(origin, self.concurrency)) if delay <= 0 else 1
        token = f"{run.worker}:{next(self._tokens)}"
        hold = run.lease_ms / 1000 + delay  # renewed by the run's heartbeat while the request is in flight
        pause = 0.02
        from consentry.middlewares._redisrun import RunMismatch, SharedViewUnavailable

        try:
            while (wait := await run.call("pacing", run.store.next_slot, origin, delay, limit, token, hold)) is None:
                await asyncio.sleep(pause)  # every place of the origin is taken by the cluster
                pause = min(0.5, pause * 2)
        except RunMismatch as exc:  # Redis lost the run: nothing more is requested, nor decided
            run.stop("redis_run_lost", str(exc))
            raise SharedViewUnavailable(str(exc)) from None
        self._places[request] = (origin, token)
        run.places[token] = origin
        if wait > 0:
            logger.debug("pacing a request to %s: %.1f s (shared slot)", origin, wait)
            await asyncio.sleep(wait)

    def _give_back(self, request: Request) -> None:
        place = self._places.pop(request, None)
        run = self._run() if place is not None else None
        if run is None or place is None:
            return
        run.places.pop(place[1], None)
        try:
            run.store.release(*place)
        except Exception as exc:  # retried in the background (else the place expires by itself)
            logger.warning("Redis error giving back a place of %s: %s; retrying", place[0], exc)
            run.later("giving back a place", run.store.release, *place)

    def crawl_delay(self, origin: str) -> float:
        """Seconds between two requests to `origin` that its robots.txt asks for (0 while it is not known yet —
        robots.txt itself and the site files fetched with it are not paced), capped at `max_crawl_delay`."""
        policy = self.cache.peek(origin) if self.cache is not None else None
        asked = policy.robots.pacing.delay if policy is not None else None
        return min(asked or 0.0, self.max_crawl_delay)

    async def _pace(self, request: Request, origin: str) -> None:
        """With a crawl delay: wait for the origin's one place, then until the delay after the last request
        ended has passed."""
        delay = self.crawl_delay(origin)
        if delay <= 0:
            await self._shared_slot(request, origin, 0.0)
            return
        lock = self._paced.setdefault(origin, asyncio.Lock())
        await lock.acquire()
        self._pacing[request] = (origin, lock)
        while (wait := self._ended.get(origin, float("-inf")) + delay - time.monotonic()) > 0:
            logger.debug("pacing a request to %s: %.1f s (robots.txt crawl delay)", origin, wait)
            await asyncio.sleep(wait)
        await self._shared_slot(request, origin, delay)

    def _semaphore(self, slot: str) -> asyncio.Semaphore:
        semaphore = self._semaphores.get(slot)
        if semaphore is None:
            semaphore = asyncio.Semaphore(max(1, self.slot_concurrency.get(slot, self.concurrency)))
            self._semaphores[slot] = semaphore
        return semaphore

    async def _wait_while_held(self, origin: str) -> None:
        while (wait := self._held_until.get(origin, 0.0) - time.monotonic()) > 0:
            logger.debug("holding a request to %s for %.1f s (Retry-After)", origin, wait)
            await asyncio.sleep(wait)

    async def process_request(self, request: Request) -> None:
        """Key the request's download slot by its origin; wait while the origin is held by a `Retry-After`,
        then for a free place among the origin's requests in flight."""
        if not request.url.startswith(("http://", "https://")) or request in self._holding:
            return
        origin = origin_of(request.url)
        slot = str(request.meta.setdefault(_SLOT_META, origin))
        semaphore = self._semaphore(slot)
        while True:
            await self._wait_while_held(origin)
            await semaphore.acquire()
            if self._held_until.get(origin, 0.0) <= time.monotonic():
                break
            semaphore.release()  # a Retry-After arrived while this request waited
        self._holding[request] = semaphore
        try:
            await self._pace(request, origin)
        except BaseException:
            self._release(request)
            raise

    def _release(self, request: Request) -> None:
        self._give_back(request)
        semaphore = self._holding.pop(request, None)
        if semaphore is None:
            return
        semaphore.release()
        self._ended[origin_of(request.url)] = time.monotonic()  # robots.txt's own fetch counts too
        paced = self._pacing.pop(request, None)
        if paced is not None:
            paced[1].release()

    def process_exception(self, request: Request, exception: BaseException) -> None:
        """Free the request's place in its origin's slot."""
        self._release(request)

    def process_response(self, request: Request, response: Response) -> Response:
        """Free the request's place; remember a 429/503 `Retry-After` for the origin (capped)."""
        self._release(request)
        if response.status not in RETRY_AFTER_STATUSES:
            return response
        header = response.headers.get(b"Retry-After")
        if not header:
            return response
        seconds = retry_after_seconds(header.decode("latin-1"), now=time.time())
        if seconds is None:
            logger.info("ignoring malformed Retry-After %r from %s", header, response.url)
            return response
        seconds = min(seconds, float(self.max_retry_after))
        origin = origin_of(request.url)
        until = time.monotonic() + seconds
        self._held_until[origin] = max(self._held_until.get(origin, 0.0), until)
        run = self._run()
        if run is not None:
            try:
                run.store.hold(origin, seconds)
            except Exception as exc:  # the hold still applies here; other workers learn it from their own 429
                logger.warning("Retry-After of %s not shared: %s", origin, exc)
        logger.info("%s answered %d with Retry-After: holding the origin %.1f s", origin, response.status, seconds)
        return response
