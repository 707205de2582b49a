"""Many workers, one crawl: the shared run in Redis seen from one Scrapy crawler (docs/distributed.md).

Enabled by `CONSENT_REDIS_URL` and `CONSENT_RUN_ID` (`consentry crawl --redis URL --run-id ID`). One
`ClusterRun` per crawler (`run_of(crawler)`) holds the worker's leases of the run's reliable queue
(`consentry.middlewares._redisrun`) and gives every consent component the run's shared view:

* the spider's `start()` takes its requests from `ClusterRun.requests` — rows leased by half batches (at most
  2 × `CONCURRENT_REQUESTS` in progress, so the downloader never waits for a refill), leases renewed by a
  heartbeat every third of `CONSENT_LEASE_TIMEOUT`;
  the generator ends when the whole run has stayed empty (nothing pending, nothing leased by any worker) for
  `CONSENT_IDLE_TIMEOUT` seconds.
* a lease is acknowledged once its outcome is on disk: a `skip`/`drop` decision after the decision log and the
  WARC wrote it (`ClusterExtension` listens after them), a `keep` once its item went through the pipelines
  (with a dataset: once its shard is published), a download error in the errback the run gives each request,
  a response whose callback yields no item when its output is exhausted (`LeaseOutputMiddleware`). A worker
  killed before that leaves the lease to expire: another worker re-queues and decides the URL again, its
  record marked `run.attempt` > 1.
* site files (`SharedSiteFiles`): one worker fetches each document per TTL under a Redis lock and stores the
  capture (status, content type, body, fetched_at, SHA-256); the others wait for it and decide on the same bytes.
  Each decision records the captures of its origin (`run.sitefiles`: URL -> SHA-256).
* politeness (`consentry.middlewares.politeness`): the places among an origin's requests in flight, its
  Crawl-delay slot and its Retry-After hold are kept in Redis, so the limits hold for the whole cluster; the
  heartbeat renews this worker's places as it renews its leases.

A Redis error is retried for `CONSENT_REDIS_RETRY` seconds (a restarted server that kept its data is simply
reconnected to); past that, or when the run's state is gone, the crawl is stopped (`redis_unavailable`,
`redis_run_lost`) and the URLs it held are left to their leases: no decision is ever made without the
shared view.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from consentry.middlewares._redisrun import Lease, RunMismatch, RunStore, SharedViewUnavailable, connect
from consentry.middlewares.signals import consent_decision
from consentry.policies.evaluate import origin_of
from consentry.policies.model import FetchStatus, SiteFile
from consentry.policies.version import VERSION

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

__all__ = [
    "LEASE_META",
    "ClusterExtension",
    "ClusterRun",
    "LeaseOutputMiddleware",
    "SharedSiteFiles",
    "SharedViewUnavailable",
    "run_fields",
    "run_identity",
    "run_of",
]

logger = logging.getLogger(__name__)

#: Request meta holding the `Lease` a listed request was made from.
LEASE_META = "consentry_lease"
_RUNS: weakref.WeakKeyDictionary[Crawler, ClusterRun | None] = weakref.WeakKeyDictionary()
_POLL = 0.2  # seconds between two looks at an empty queue


_SECONDS = ("CONSENT_LEASE_TIMEOUT", "CONSENT_IDLE_TIMEOUT", "CONSENT_REDIS_RETRY")


def _seconds(settings: Any, name: str) -> float:
    """A positive duration setting (its settings-table default when unset); `ValueError` naming it otherwise."""
    from consentry.policies.settings_table import default

    try:
        value = float(settings.get(name) if settings.get(name) is not None else default(name))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected seconds, got {settings.get(name)!r}") from None
    if not value > 0:
        raise ValueError(f"{name}: must be more than 0 seconds, got {value}")
    return value


def run_identity(config_sha256: str) -> dict[str, str]:
    """What every worker of a run must share: the consentry version and the policy digest."""
    return {"consentry": VERSION, "config_sha256": config_sha256}


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class ClusterRun:
    """One worker's membership of a run: its leases, the shared site files, the politeness slots."""

    def __init__(self, crawler: Crawler, store: RunStore, worker: str, *, lease_timeout: float,
                 idle_timeout: float, retry: float, batch: int) -> None:
        self.crawler = crawler
        self.store = store
        self.worker = worker
        self.lease_ms = int(lease_timeout * 1000)
        self.idle_timeout = idle_timeout
        self.retry = retry
        self.batch = max(1, batch)
        self.held: dict[str, Lease] = {}  # leased, outcome not on disk yet
        self.parked: dict[str, Lease] = {}  # kept, waiting for their dataset shard to be published
        self.flushers: list[Callable[[], None]] = []  # publish the open dataset shard (`DatasetWriter`)
        self.places: dict[str, str] = {}  # token -> origin of this worker's places among requests in flight
        self.stopped = ""
        self.shared: SharedSiteFiles | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._room = asyncio.Event()  # set when the leases in progress fall to half a batch
        self._background: set[asyncio.Future[None]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterRun | None:
        """The run `CONSENT_REDIS_URL`/`CONSENT_RUN_ID` name, joined (`RunMismatch`, `ValueError`); None when
        `CONSENT_REDIS_URL` is unset."""
        from consentry.middlewares._config import consent_settings

        settings = crawler.settings
        url = settings.get("CONSENT_REDIS_URL")
        if not url:
            return None
        run_id = str(settings.get("CONSENT_RUN_ID") or "")
        if not run_id:
            raise ValueError("CONSENT_RUN_ID: a distributed crawl needs a run id (CONSENT_REDIS_URL is set)")
        store = RunStore(connect(str(url)), run_id)
        store.join(run_identity(consent_settings(settings).config.config_sha256))
        worker = str(settings.get("CONSENT_WORKER_ID") or f"{socket.gethostname()}-{os.getpid()}")
        seconds = {name: _seconds(settings, name) for name in _SECONDS}
        return cls(crawler, store, worker, lease_timeout=seconds["CONSENT_LEASE_TIMEOUT"],
                   idle_timeout=seconds["CONSENT_IDLE_TIMEOUT"], retry=seconds["CONSENT_REDIS_RETRY"],
                   batch=2 * settings.getint("CONCURRENT_REQUESTS"))

    # -- Redis calls, retried ------------------------------------------------------------------------------------
    async def call(self, what: str, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)`, retried on connection errors for `retry` seconds; then `SharedViewUnavailable`
        (and the crawl is stopped)."""
        errors = _redis_errors()
        deadline = time.monotonic() + self.retry
        pause = 0.1
        while True:
            try:
                return function(*args)
            except errors as exc:
                if time.monotonic() >= deadline:
                    self.stop("redis_unavailable", f"Redis unreachable for {self.retry:.0f} s ({what}: {exc})")
                    raise SharedViewUnavailable(f"Redis unreachable ({what}): {exc}") from None
                logger.warning("Redis error during %s (%s); retrying", what, exc)
                await asyncio.sleep(pause)
                pause = min(2.0, pause * 2)

    def later(self, what: str, function: Callable[..., Any], *args: Any) -> None:
        """Call `function(*args)` in the background, retried like `call` (a Redis error in synchronous code: an
        acknowledgement, a place given back)."""
        async def attempt() -> None:
            with contextlib.suppress(SharedViewUnavailable):
                await self.call(what, function, *args)

        task = asyncio.ensure_future(attempt())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stop(self, reason: str, message: str) -> None:
        """Log `message` once and close the spider with `reason`."""
        if self.stopped:
            return
        self.stopped = reason
        logger.error("%s; stopping this worker (its unacknowledged URLs go back to the queue when their "
                     "leases expire)", message)
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("consent/cluster/error", message)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason=reason))

    # -- the queue -----------------------------------------------------------------------------------------------
    async def requests(self, build: Callable[[Lease], Request], limit: int = 0) -> AsyncIterator[Request]:
        """Requests built from leased rows until the run stays empty for `idle_timeout` seconds (or, with
        `limit`, once this worker has leased that many rows)."""
        self._start_heartbeat()
        idle_since: float | None = None
        leased_here = 0
        while not self.stopped and not (limit and leased_here >= limit):
            if len(self.held) > self.batch // 2:  # refill by half batches: one lease call per batch/2 URLs
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), _POLL)
                continue
            room = self.batch - len(self.held)
            if limit:
                room = min(room, limit - leased_here)
            try:
                leases, requeued, pending, leased = await self.call(
                    "leasing", self.store.lease, self.worker, room, self.lease_ms)
            except SharedViewUnavailable:
                return
            except RunMismatch as exc:
                self.stop("redis_run_lost", str(exc))
                return
            self._count("consent/cluster/requeued", requeued)
            leased_here += len(leases)
            for lease in leases:
                self.held[lease.member] = lease
                self._count("consent/cluster/leased", 1)
                if lease.attempt > 1:
                    self._count("consent/cluster/redecided", 1)
                request = build(lease)
                if request.errback is None:
                    request = request.replace(errback=self.failed)
                yield request
            if leases:
                idle_since = None
                continue
            if not pending and self.parked and not self.held:
                for flush in self.flushers:  # the queue ran dry: publish the open shard, acknowledging it
                    flush()
                await asyncio.sleep(_POLL)
                continue
            if pending or leased:
                idle_since = None
            else:
                idle_since = idle_since if idle_since is not None else time.monotonic()
                if time.monotonic() - idle_since >= self.idle_timeout:
                    logger.info("the run's queue stayed empty for %.1f s: this worker is done", self.idle_timeout)
                    return
            await asyncio.sleep(_POLL)

    def _count(self, key: str, value: int) -> None:
        if value and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, value)

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        errors = _redis_errors()
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                self.store.renew(self.worker, [*self.held, *self.parked], self.lease_ms)
                self.store.renew_places([(o, t) for t, o in self.places.items()], self.lease_ms / 1000)
            except errors as exc:  # the leases may expire: other workers then decide those URLs again
                logger.warning("Redis error renewing leases: %s", exc)

    def close(self) -> None:
        """Stop renewing leases (the spider closed)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def failed(self, failure: Any) -> Any:
        """A leased request ended without a response (a download error, a `skip` or `drop` before download):
        its outcome is final and acknowledged — unless the shared view was unreachable, which leaves the URL
        to its lease (the errback `requests` gives a request that has none). The failure is returned, so
        Scrapy handles it as if there were no errback (the download error is logged and counted)."""
        request = getattr(failure, "request", None)
        lease = request.meta.get(LEASE_META) if request is not None else None
        if isinstance(lease, Lease) and not failure.check(SharedViewUnavailable):
            self.acknowledge(lease)
        return failure

    def park(self, lease: Lease) -> None:
        """A kept asset waits for its dataset shard: still leased (renewed), no longer in progress."""
        if self.held.pop(lease.member, None) is not None:
            self.parked[lease.member] = lease
            self._freed()

    def _freed(self) -> None:
        if len(self.held) <= self.batch // 2:
            self._room.set()

    def acknowledge(self, lease: Lease) -> None:
        """The lease's outcome is on disk: mark its row done (once)."""
        self.acknowledge_all((lease,))

    def acknowledge_all(self, leases: Sequence[Lease]) -> None:
        """`acknowledge` each of `leases` in one Redis round trip (a dataset shard just published: the shorter the
        time between its publication and its acknowledgement, the smaller the window in which a killed worker
        leaves published samples to be written again; docs/distributed.md)."""
        mine = [lease for lease in leases
                if self.held.pop(lease.member, None) is not None or self.parked.pop(lease.member, None) is not None]
        if not mine:
            return
        self._freed()
        members = [lease.member for lease in mine]
        try:
            self._count_acks(self.store.ack_many(self.worker, members) if len(members) > 1
                             else [self.store.ack(self.worker, members[0])])
        except _redis_errors() as exc:  # retried in the background; should that fail, the leases expire
            what = mine[0].url if len(mine) == 1 else f"{len(mine)} leases"
            logger.warning("Redis error acknowledging %s: %s; retrying", what, exc)
            for member in members:
                self.later("acknowledging", self._ack, member)

    def _ack(self, member: str) -> None:
        self._count_acks([self.store.ack(self.worker, member)])

    def _count_acks(self, acknowledged: Sequence[bool]) -> None:
        done = sum(acknowledged)
        self._count("consent/cluster/acknowledged", done)
        # a lease had expired and gone to another worker: decided again there (marked)
        self._count("consent/cluster/late_ack", len(acknowledged) - done)

    # -- the decision record -------------------------------------------------------------------------------------
    def record_fields(self, request: Request | None, url: str) -> dict[str, Any]:
        """The decision record's `run` object: run id, worker, attempt, the origin's site-file digests."""
        lease = request.meta.get(LEASE_META) if request is not None else None
        shared = self.shared
        fields: dict[str, Any] = {"id": self.store.run_id, "worker": self.worker,
                                  "attempt": lease.attempt if isinstance(lease, Lease) else None}
        fields["sitefiles"] = shared.digests_of(origin_of(url)) if shared is not None else {}
        return fields


def run_fields(crawler: Crawler | None, request: Request | None, url: str) -> dict[str, Any] | None:
    """The decision record's `run` object in a distributed crawl (`ClusterRun.record_fields`), else None."""
    if crawler is None or not crawler.settings.get("CONSENT_REDIS_URL"):
        return None
    run = run_of(crawler)
    return run.record_fields(request, url) if run is not None else None


def run_of(crawler: Crawler) -> ClusterRun | None:
    """The crawler's one `ClusterRun` (built on first use from its settings), or None outside a distributed crawl."""
    if crawler not in _RUNS:
        _RUNS[crawler] = ClusterRun.from_crawler(crawler)
    return _RUNS[crawler]


def _capture_of(site_file: SiteFile, worker: str) -> dict[str, Any]:
    return {
        "url": site_file.url, "status": site_file.status.value, "http_status": site_file.http_status,
        "body": site_file.body, "content_type": site_file.content_type, "detail": site_file.detail,
        "truncated": site_file.truncated, "sha256": hashlib.sha256(site_file.body).hexdigest(),
        "fetched_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "worker": worker,
    }  # fmt: skip


def _site_file(capture: dict[str, Any]) -> SiteFile:
    return SiteFile(url=str(capture["url"]), status=FetchStatus(capture["status"]),
                    http_status=capture.get("http_status"), body=bytes(capture["body"]),
                    content_type=str(capture.get("content_type") or ""), detail=str(capture.get("detail") or ""),
                    truncated=bool(capture.get("truncated")))


class SharedSiteFiles:
    """Site files and linked documents fetched once per TTL in the whole cluster (`SiteCache.fetch` asks it)."""

    def __init__(self, run: ClusterRun, *, ttl: float, unreachable_ttl: float, lock_ms: int) -> None:
        self.run = run
        self.ttl = ttl
        self.unreachable_ttl = unreachable_ttl
        self.lock_ms = lock_ms
        self.digests: dict[str, str] = {}  # site-file URL -> SHA-256 of the capture decided on

    @classmethod
    def install(cls, run: ClusterRun, *, ttl: float, unreachable_ttl: float, lock_ms: int) -> SharedSiteFiles:
        """The run's one `SharedSiteFiles` (`ClusterRun.shared`)."""
        if run.shared is None:
            run.shared = cls(run, ttl=ttl, unreachable_ttl=unreachable_ttl, lock_ms=lock_ms)
        return run.shared

    def digests_of(self, origin: str) -> dict[str, str]:
        """The SHA-256 of each capture of `origin` this worker decided on, by URL."""
        return {url: digest for url, digest in sorted(self.digests.items()) if origin_of(url) == origin}

    async def fetch(self, url: str, kind: str, fetch_here: Callable[[str, str], Awaitable[SiteFile]]) -> SiteFile:
        """The cluster's capture of `url`: stored by another worker, or fetched here under the lock."""
        run, stats = self.run, self.run.crawler.stats
        pause = 0.02
        while True:
            capture = await run.call("reading a site file", run.store.capture, url)
            if capture is not None:
                self.digests[url] = str(capture["sha256"])
                if stats is not None:
                    stats.inc_value("consent/cluster/sitefile/shared")
                return _site_file(capture)
            if await run.call("locking a site file", run.store.lock, url, run.worker, self.lock_ms):
                break
            await asyncio.sleep(pause)  # another worker is fetching it
            pause = min(0.5, pause * 2)
        try:
            site_file = await fetch_here(url, kind)
        except BaseException:
            await run.call("unlocking a site file", run.store.unlock, url, run.worker)
            raise
        ttl = self.unreachable_ttl if site_file.status is FetchStatus.UNREACHABLE else self.ttl
        capture = _capture_of(site_file, run.worker)
        await run.call("storing a site file", run.store.store_capture, url, capture, ttl)
        self.digests[url] = str(capture["sha256"])
        if stats is not None:
            stats.inc_value("consent/cluster/sitefile/fetched")
        return site_file


class LeaseOutputMiddleware:
    """Spider middleware: once a leased response's callback output is exhausted without an item (nothing to keep,
    or a callback that yields none), its lease is acknowledged; items are acknowledged by `ClusterExtension`."""

    def __init__(self, run: ClusterRun) -> None:
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` outside a distributed crawl."""
        if not crawler.settings.get("CONSENT_REDIS_URL"):
            raise NotConfigured("CONSENT_REDIS_URL is not set")
        run = run_of(crawler)
        if run is None:
            raise NotConfigured("CONSENT_REDIS_URL is not set")
        return cls(run)

    def _done(self, response: Any, items: int) -> None:
        lease = response.meta.get(LEASE_META) if hasattr(response, "meta") else None
        if isinstance(lease, Lease) and not items:
            self.run.acknowledge(lease)

    def process_spider_output(self, response: Any, result: Any) -> Any:
        """Sync spider output."""
        items = 0
        for output in result:
            items += not _is_request(output)
            yield output
        self._done(response, items)

    async def process_spider_output_async(self, response: Any, result: Any) -> Any:
        """Async spider output."""
        items = 0
        async for output in result:
            items += not _is_request(output)
            yield output
        self._done(response, items)


def _is_request(output: Any) -> bool:
    from scrapy import Request

    return isinstance(output, Request)


class ClusterExtension:
    """Joins the run at start-up (refusing a run with another policy), acknowledges leases, closes the run."""

    def __init__(self, crawler: Crawler, run: ClusterRun) -> None:
        self.crawler = crawler
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` outside a distributed crawl; `RunMismatch`/`ValueError` for a run it may not join."""
        run = run_of(crawler)
        if run is None:
            raise NotConfigured("CONSENT_REDIS_URL is not set")
        extension = cls(crawler, run)
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def engine_started(self) -> None:
        """Listen to decisions after the decision log and the WARC (connected at start-up, before this)."""
        connect = self.crawler.signals.connect
        connect(self.decided, signal=consent_decision)
        connect(self.item_done, signal=signals.item_scraped)
        for signal in (signals.item_dropped, signals.item_error, signals.spider_error):
            connect(self.item_failed, signal=signal)

    def decided(self, decision: Any, request: Request, **_: Any) -> None:
        """A `skip`/`drop` is final once logged; a `keep` waits for its item."""
        lease = request.meta.get(LEASE_META)
        if isinstance(lease, Lease) and decision.action.value != "keep":
            self.run.acknowledge(lease)

    def item_done(self, response: Any = None, **_: Any) -> None:
        """The kept asset's item went through the pipelines (or was dropped there); with a dataset, its lease
        waits for the shard (`DatasetWriter` acknowledges it)."""
        lease = getattr(response, "meta", {}).get(LEASE_META) if response is not None else None
        if isinstance(lease, Lease):
            if self.run.flushers:
                self.run.park(lease)
            else:
                self.run.acknowledge(lease)

    def item_failed(self, response: Any = None, **_: Any) -> None:
        """An item dropped or failed in a pipeline: its outcome is final."""
        lease = getattr(response, "meta", {}).get(LEASE_META) if response is not None else None
        if isinstance(lease, Lease):
            self.run.acknowledge(lease)

    def spider_closed(self) -> None:
        """Stop renewing leases; the worker's Redis round trips go to the stats (`consent/cluster/round_trips`)."""
        self.run.close()
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("consent/cluster/round_trips", self.run.store.round_trips)
