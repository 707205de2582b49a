"""Per-crawler cache of site files and linked documents, fetched through the Scrapy engine.

The Scrapy transport of the one gathering path: it answers the needs `consentry.policies.gather` states
(site files, then the licences robots.txt names; per response, licences and remote manifests) and never
decides what to fetch itself; a licence or manifest is fetched only where its own origin's robots.txt allows it. RFC 9309 §2.3.1: every fetch becomes a `SiteFile` (OK / UNAVAILABLE / UNREACHABLE), redirects
are followed up to `MAX_REDIRECTS` (more is UNREACHABLE), each hop http(s) only (any other scheme is UNREACHABLE
with the reason; addresses are checked by `consentry.middlewares.fetchguard` on every request), download errors are UNREACHABLE (never an empty
allow-all file). Concurrent callers for one key await ONE task; results expire after `CONSENT_SITEFILE_TTL`,
or after the short unreachable TTL when a file could not be fetched (on the injectable `clock`). At most
`max_entries` origins and documents are kept: beyond that the least recently used completed entry is dropped
(an entry still being fetched never is) and fetched again when next asked for. Shared by the site-file and asset
middlewares through `site_cache(crawler, ...)`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from scrapy import Request
from scrapy.http.request import NO_CALLBACK

from consentry.middlewares._redisrun import SharedViewUnavailable
from consentry.middlewares._scrapyio import SITE_FILE_META
from consentry.middlewares.adapters.addresses import scheme_refusal
from consentry.middlewares.adapters.linkbudget import LinkBudget
from consentry.middlewares.signals import consent_fetch_failed
from consentry.policies.evaluate import evaluate_access, origin_of
from consentry.policies.exclusion import excluded_file
from consentry.policies.gather import DocumentKind, Need, licence_needs, site_from_files, site_needs
from consentry.policies.model import MAX_REDIRECTS, FetchStatus, SiteFile

if TYPE_CHECKING:
    from consentry.policies.evaluate import SitePolicy

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from consentry.middlewares._config import ConsentSettings

__all__ = ["DEFAULT_MAX_ENTRIES", "LINKED_FETCHED_STAT", "SITE_FILE_DOWNLOAD_FACTOR", "SiteCache", "site_cache"]

logger = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CACHES: weakref.WeakKeyDictionary[Crawler, SiteCache] = weakref.WeakKeyDictionary()
_STAT_KINDS = {"robots": "robots.txt", "ai_txt": "ai.txt", "tdmrep": "tdmrep.json"}
#: A site file or licence is downloaded (and decoded) up to this many times `CONSENT_MAX_SITEFILE_BYTES`.
SITE_FILE_DOWNLOAD_FACTOR = 32
#: Stats key counting linked documents fetched (RSL licences, remote manifests).
LINKED_FETCHED_STAT = "consent/linked/fetched"
#: How many origins and documents one crawl's `SiteCache` keeps (least recently used completed ones go first).
DEFAULT_MAX_ENTRIES = 10_000


@dataclass(slots=True)
class _Entry:
    task: asyncio.Future[Any]
    expires: float = float("inf")


class SiteCache:
    """Site policies per origin and documents per URL, each fetched once per TTL."""

    def __init__(
        self,
        crawler: Crawler,
        settings: ConsentSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: must be at least 1, got {max_entries}")
        self._crawler = crawler
        self._config = settings.config
        self._unreachable_ttl = settings.unreachable_ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._building: set[str] = set()
        self._budget = LinkBudget(settings.max_linked_per_response, settings.max_linked_per_origin)

    async def _once(self, key: tuple[str, str], make: Callable[[], Awaitable[tuple[Any, bool]]]) -> Any:
        entry = self._entries.get(key)
        if entry is None or (entry.task.done() and self._clock() >= entry.expires):
            entry = _Entry(asyncio.ensure_future(self._run(key, make)))
            self._entries[key] = entry
        self._entries.move_to_end(key)
        self._evict()
        return await asyncio.shield(entry.task)

    def _evict(self) -> None:
        """Drop least recently used completed entries beyond `max_entries`; in-flight ones stay."""
        excess = len(self._entries) - self._max_entries
        if excess > 0:
            done = (key for key, entry in self._entries.items() if entry.task.done())
            for key in list(itertools.islice(done, excess)):
                del self._entries[key]

    async def _run(self, key: tuple[str, str], make: Callable[[], Awaitable[tuple[object, bool]]]) -> object:
        value, reachable = await make()
        ttl = self._config.sitefile_ttl if reachable else self._unreachable_ttl
        self._entries[key].expires = self._clock() + ttl
        return value

    async def policy(self, origin: str) -> SitePolicy:
        """The parsed site files of `origin` (robots.txt, ai.txt, tdmrep.json and robots' RSL licences)."""
        policy: SitePolicy = await self._once(("site", origin), functools.partial(self._build, origin))
        return policy

    def peek(self, origin: str) -> SitePolicy | None:
        """The policy of `origin` if it has been gathered already (never fetches, never waits); else None."""
        policy: SitePolicy | None = self._done(("site", origin))
        return policy

    def peek_documents(self, needs: Iterable[Need]) -> dict[str, SiteFile]:
        """The linked documents among `needs` fetched already (never fetches, never waits), by URL."""
        found = ((need.url, self._done(("doc", need.url))) for need in needs)
        return {url: value for url, value in found if value is not None}

    def _done(self, key: tuple[str, str]) -> Any:
        entry = self._entries.get(key)
        if entry is None or not entry.task.done() or entry.task.cancelled() or entry.task.exception() is not None:
            return None
        return entry.task.result()

    async def answer(self, needs: Sequence[Need]) -> dict[str, SiteFile]:
        """The core's needs answered: linked documents (RSL licences, remote manifests), each fetched once per TTL,
        within the caps of `LinkBudget` (the others answered unreachable with the reason, counted in stats)."""
        wanted, refused = self._budget.split(needs)
        if refused and self._crawler.stats is not None:
            self._crawler.stats.inc_value("consent/linked/capped", len(refused))
        found = await asyncio.gather(
            *(self._once(("doc", n.url), functools.partial(self._doc, n.url, n.kind.value)) for n in wanted)
        )
        return {**refused, **{need.url: site_file for need, site_file in zip(wanted, found, strict=True)}}

    async def documents(self, urls: Iterable[str], kind: str = "licence") -> dict[str, SiteFile]:
        """Linked documents of one `kind` by URL (see `answer`)."""
        return await self.answer([Need(url, DocumentKind(kind)) for url in urls])

    async def _refusal(self, url: str) -> str | None:
        """Why the linked document `url` may not be fetched under its own origin's robots.txt (RFC 9309 §2.2.2).

        An origin whose site files are being gathered right now is not asked (its robots.txt is not known
        yet, and awaiting it from inside its own gathering would never end).
        """
        origin = origin_of(url)
        if origin in self._building:
            return None
        skipped = evaluate_access(await self.policy(origin), url, self._config, fetched_at=None)
        return None if skipped is None else f"refused by robots.txt of {origin}: {skipped.reason}"

    async def _doc(self, url: str, kind: str) -> tuple[SiteFile, bool]:
        refused = await self._refusal(url)
        if refused is not None:
            logger.info("%s %s not fetched: %s", kind, url, refused)
            return SiteFile.from_error(url, refused), True
        if self._crawler.stats is not None:  # counted in the crawl's request budget (`AssetSpider`)
            self._crawler.stats.inc_value(LINKED_FETCHED_STAT)
        site_file = await self.fetch(url, kind)
        return site_file, site_file.status is not FetchStatus.UNREACHABLE

    async def _build(self, origin: str) -> tuple[SitePolicy, bool]:
        self._building.add(origin)
        try:
            return await self._gather(origin)
        finally:
            self._building.discard(origin)

    async def _gather(self, origin: str) -> tuple[SitePolicy, bool]:
        needs = site_needs(origin)
        fetched = await asyncio.gather(*(self.fetch(need.url, need.kind.value) for need in needs))
        files = {need.url: site_file for need, site_file in zip(needs, fetched, strict=True)}
        policy = site_from_files(origin, files, self._config.agent)
        more = licence_needs(policy)
        if more:
            licences = await self.answer(more)
            policy = policy.with_licences(licences, self._config.agent)
            files.update(licences)
        reachable = all(f.status is not FetchStatus.UNREACHABLE for f in files.values())
        return policy, reachable

    def _max_download(self, kind: str) -> int:
        """Bytes a document of `kind` may take on the wire and decoded: a manifest up to the C2PA cap, any
        other document `SITE_FILE_DOWNLOAD_FACTOR` × the parsed size (beyond it the fetch is UNREACHABLE)."""
        if kind == "manifest":
            return self._config.c2pa_max_bytes + 1
        return self._config.max_sitefile_bytes * SITE_FILE_DOWNLOAD_FACTOR

    async def fetch(self, url: str, kind: str) -> SiteFile:
        """One document through the engine, redirects followed by hand (≤ 5), every status let through; in a
        distributed crawl, the cluster's one capture of it (`consentry.middlewares.cluster.SharedSiteFiles`)."""
        shared = self._shared()
        site_file = await (shared.fetch(url, kind, self._fetch) if shared is not None else self._fetch(url, kind))
        stats = self._crawler.stats
        if stats is not None:
            stats.inc_value(f"consent/sitefile/{_STAT_KINDS.get(kind, kind)}/{site_file.status.value}")
        return site_file

    def _shared(self) -> Any:
        """The run's `SharedSiteFiles` in a distributed crawl (`CONSENT_REDIS_URL`), else None."""
        settings = getattr(self._crawler, "settings", None)
        if settings is None or not settings.get("CONSENT_REDIS_URL"):
            return None
        from consentry.middlewares.cluster import SharedSiteFiles, run_of

        run = run_of(self._crawler)
        if run is None:
            return None
        lock_ms = int((settings.getfloat("DOWNLOAD_TIMEOUT", 180.0) + 5.0) * 1000)
        return SharedSiteFiles.install(run, ttl=self._config.sitefile_ttl, unreachable_ttl=self._unreachable_ttl,
                                       lock_ms=lock_ms)

    async def _fetch(self, url: str, kind: str) -> SiteFile:
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            refused = scheme_refusal(target)
            if refused is not None:  # file:, ftp:, data: … never reach a download handler
                logger.warning("site file %s not fetched: %s", url, refused)
                return SiteFile.from_error(url, refused)
            excluded = self._config.excluded.match(target)
            if excluded is not None:  # an excluded host's documents are never fetched, redirected to or not
                detail = excluded_file(target, excluded).detail  # archived as a fetch failure: audits replay it
                self._crawler.signals.send_catch_log(consent_fetch_failed, url=target, detail=detail)
                return SiteFile.from_error(url, detail)
            request = Request(
                target,
                callback=NO_CALLBACK,
                dont_filter=True,
                meta={
                    "dont_check_consent": True,
                    SITE_FILE_META: kind,
                    "handle_httpstatus_all": True,
                    "dont_redirect": True,
                    "dont_retry": True,
                    # raw and decoded size (HttpCompressionMiddleware): a compression bomb stops here
                    "download_maxsize": self._max_download(kind),
                },
            )
            try:
                response = await self._crawler.engine.download_async(request)
            except SharedViewUnavailable:  # a distributed run without its Redis: no site file, no decision
                raise
            except Exception as exc:  # any download failure is UNREACHABLE (RFC 9309 §2.3.1.4)
                detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
                logger.info("site file %s unreachable: %s", target, detail)
                self._crawler.signals.send_catch_log(consent_fetch_failed, url=target, detail=detail)
                return SiteFile.from_error(url, detail)
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
                return SiteFile.from_http(
                    url,
                    response.status,
                    response.body,
                    content_type=content_type,
                    max_bytes=self._config.max_sitefile_bytes,
                )
            target = urljoin(target, location.decode("latin-1"))
        return SiteFile.from_error(url, f"more than {MAX_REDIRECTS} redirects")


def site_cache(crawler: Crawler, settings: ConsentSettings) -> SiteCache:
    """The crawler's one `SiteCache`, shared by every consent component."""
    cache = _CACHES.get(crawler)
    if cache is None:
        cache = _CACHES[crawler] = SiteCache(crawler, settings)
    return cache
