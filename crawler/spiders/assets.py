"""The generic asset spider: pages of the start sites plus the media they reference (docs/cli.md, `consentry crawl`).

"Site" is the registrable domain (tldextract with its BUNDLED public-suffix snapshot — never fetched);
for IP addresses and single-label hosts (127.0.0.1, localhost) the site is the host itself, so every
loopback port of one host is one site. Links are followed within the start sites; media referenced by a
page (img src/srcset, source, video, audio, a/href to a media file) are fetched wherever they live and
marked `consent_media` so the page's `noai`/`noimageai` reaches them. One item per fetched response. Pages are
streamed for links, at most `max_page_links` each (`MAX_PAGE_LINKS` by default, `crawl --max-page-links`); linked documents fetched by the consent components count
against `max_requests` with the spider's own requests. Page requests carry `consent_follow_links` (their body is
needed for links even when the page is dropped, so they are never withheld before download). With `sitemaps`,
the `Sitemap:` lines of the start origins' robots.txt add start pages (`consentry.crawler.spiders.sitemaps`).

Distributed mode (`cluster`, `consentry crawl --redis`): the requests are the rows this worker leases from the
run's Redis queue (`consentry.middlewares.cluster.ClusterRun.requests`), handled as listed URLs.

List mode (`url_list`, a `consentry.crawler.crawl.urllist.UrlList`): exactly the listed URLs are fetched and no
link is followed. `start()` pulls the list lazily — a batch of `LIST_REFILL` requests, then it waits until
the scheduler is empty again — so however long the list, memory holds one batch (requests bypass Scrapy's
duplicate filter, whose fingerprint set would grow with the list; the list reader drops duplicates). Each
item carries the row's other columns (`columns`) and the decision's deciding mechanisms (`deciding`); with
`dataset` true it also carries the body under `BODY_FIELD`, for the dataset writer to take out.
"""

from __future__ import annotations

import hashlib
import io
import logging
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

import scrapy
import tldextract
from scrapy import signals

from consentry.crawler.crawl.command import MAX_PAGE_LINKS
from consentry.middlewares._scrapyio import FOLLOW_LINKS_META
from consentry.middlewares._sitecache import LINKED_FETCHED_STAT
from consentry.policies.evaluate import origin_of

if TYPE_CHECKING:
    from scrapy.http import Response

    from consentry.crawler.crawl.urllist import UrlList

logger = logging.getLogger(__name__)

__all__ = [
    "BODY_FIELD", "LEASE_FIELD", "LISTED_META", "LIST_REFILL", "MAX_PAGE_LINKS", "MEDIA_EXTENSIONS", "AssetSpider", "page_links",
    "site_of",
]  # fmt: skip

#: File extensions that make an `<a href>` a media link.
MEDIA_EXTENSIONS = frozenset({
    "jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "tif", "tiff", "bmp", "heic", "jxl",
    "mp4", "m4v", "mov", "webm", "avi", "mkv", "mp3", "m4a", "wav", "ogg", "oga", "flac", "aac", "opus",
    "pdf", "epub",
})  # fmt: skip
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
#: List mode: requests handed to the scheduler at a time (it is refilled when empty).
LIST_REFILL = 256
#: Request meta of a listed URL: (the URL as listed, its carried columns).
LISTED_META = "consentry_listed"
#: The item field holding the response body for the dataset writer (never written to items.jsonl).
BODY_FIELD = "_body"
#: A distributed crawl with a dataset: the item field holding its lease, acknowledged by the dataset writer once
#: the sample's shard is published (never written to items.jsonl).
LEASE_FIELD = "_lease"


def site_of(url: str) -> str:
    """The registrable domain of `url` (bundled suffix list), or the host for IPs and single labels."""
    host = (urlsplit(url).hostname or "").lower()
    if not host or "." not in host or host.replace(".", "").isdigit() or ":" in host:
        return host
    extracted = _EXTRACT(host)
    return extracted.top_domain_under_public_suffix or host


def _is_media(url: str) -> bool:
    extension = posixpath.splitext(urlsplit(url).path)[1].lstrip(".").lower()
    return extension in MEDIA_EXTENSIONS


def _srcset_urls(values: Iterable[str]) -> Iterator[str]:
    for value in values:
        for candidate in value.split(","):
            parts = candidate.split()
            if parts:
                yield parts[0]


#: element -> (attributes holding one URL, attributes holding a srcset).
_URL_ATTRIBUTES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "img": (("src",), ("srcset",)), "source": (("src",), ("srcset",)), "video": (("src", "poster"), ()),
    "audio": (("src",), ()), "track": (("src",), ()), "embed": (("src",), ()), "object": (("data",), ()),
}  # fmt: skip


def _stream_elements(response: Response) -> Iterator[Any]:
    """The page's elements in document order, each forgotten once read (memory flat in the page's size)."""
    from lxml import etree

    parser = etree.iterparse(io.BytesIO(response.body), events=("end",), html=True, recover=True,
                             encoding=getattr(response, "encoding", None), no_network=True)
    try:
        for _, element in parser:
            yield element
            element.clear(keep_tail=False)
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except etree.LxmlError:  # a page lxml gives up on: the links read so far
        return


def page_links(response: Response, max_links: int = MAX_PAGE_LINKS) -> list[tuple[str, bool]]:
    """The URLs an HTML page references, absolute, with whether each is a medium (img src/srcset, source,
    video, audio, track, embed, object, and `<a href>` to a media file): media in document order, then
    srcset candidates, then anchors. At most `max_links` are read; the page is streamed, so a page with a
    million links costs the memory of `max_links`."""
    media: list[str] = []
    srcsets: list[str] = []
    anchors: list[str] = []
    for element in _stream_elements(response):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "a" and element.get("href") is not None:
            anchors.append(element.get("href"))
        plain, sets = _URL_ATTRIBUTES.get(tag, ((), ()))
        media.extend(element.get(name) for name in plain if element.get(name) is not None)
        srcsets.extend(_srcset_urls(element.get(name) for name in sets if element.get(name) is not None))
        if len(media) + len(srcsets) + len(anchors) >= max_links:
            break
    links = [(response.urljoin(src.strip()), True) for src in [*media, *srcsets]]
    for href in anchors:
        url = response.urljoin(href.strip())
        links.append((url, _is_media(url)))
    return links[:max_links]


class AssetSpider(scrapy.Spider):
    """Start URLs → same-site pages and every medium they reference, up to the request limit."""

    name = "assets"

    def __init__(self, urls: Sequence[str] | str = (), max_requests: int | str = 0, sitemaps: bool | str = False,
                 *, url_list: UrlList | None = None, dataset: bool = False,
                 max_page_links: int | str = MAX_PAGE_LINKS, cluster: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [u for u in (urls.split(",") if isinstance(urls, str) else urls) if u]
        self.sites = frozenset(site_of(u) for u in self.start_urls)
        self.max_requests = int(max_requests)
        self.max_page_links = max(1, int(max_page_links))
        self.sitemaps = str(sitemaps).lower() in ("1", "true", "yes")
        self.url_list = url_list
        self.dataset = dataset
        self.cluster = cluster
        self._seen: set[str] = set()
        self._listed = 0
        self._sitemaps: Any = None

    def _request(self, url: str, *, media: bool) -> scrapy.Request | None:
        url = urldefrag(url)[0]
        if not url.startswith(("http://", "https://")) or url in self._seen:
            return None
        if self.max_requests and self._spent() >= self.max_requests:
            return None
        self._seen.add(url)
        if media:
            return scrapy.Request(url, callback=self.parse_media, meta={"consent_media": True})
        return scrapy.Request(url, callback=self.parse, meta={FOLLOW_LINKS_META: True})

    def _spent(self) -> int:
        """Requests made so far: the spider's own and the linked documents fetched for them."""
        stats = getattr(self, "crawler", None) and self.crawler.stats
        linked = stats.get_value(LINKED_FETCHED_STAT, 0) if stats else 0
        return len(self._seen) + self._listed + int(linked)

    async def start(self) -> Any:
        """The start URLs (or the listed URLs), counted against the request limit."""
        if self.cluster:
            from consentry.middlewares.cluster import run_of

            run = run_of(self.crawler)
            if run is not None:
                async for leased in run.requests(self._leased_request, limit=self.max_requests):
                    yield leased
            return
        if self.url_list is not None:
            async for request in self._list_requests(self.url_list):
                yield request
            return
        for url in self.start_urls:
            request = self._request(url, media=False)
            if request is not None:
                yield request
        if self.sitemaps:
            for request in await self._sitemap_discovery().requests(
                    (origin_of(url) for url in self.start_urls), self.parse_sitemap):
                self._seen.add(request.url)  # a sitemap fetch counts against the request limit
                yield request

    def _sitemap_discovery(self) -> Any:
        from consentry.crawler.spiders.sitemaps import SitemapDiscovery
        from consentry.middlewares._config import consent_settings
        from consentry.middlewares._sitecache import site_cache

        if self._sitemaps is None:
            settings = consent_settings(self.crawler.settings)
            self._sitemaps = SitemapDiscovery(self.crawler, site_cache(self.crawler, settings), settings.config)
        return self._sitemaps

    async def parse_sitemap(self, response: Response, **_: Any) -> Any:
        """The sitemaps a sitemap index names; the same-site pages a sitemap lists."""
        more, urls = await self._sitemap_discovery().parse(response, self.parse_sitemap)
        for request in more:
            self._seen.add(request.url)
            yield request
        for url in urls:
            if site_of(url) in self.sites and (request := self._request(url, media=_is_media(url))) is not None:
                yield request

    async def _list_requests(self, url_list: UrlList) -> Any:
        """One request per usable row, `LIST_REFILL` at a time; stops at the request limit."""
        for listed in url_list.rows():
            if self.max_requests and self._spent() >= self.max_requests:
                return
            if self._listed and self._listed % LIST_REFILL == 0:
                await self._scheduler_drained()
            self._listed += 1
            yield scrapy.Request(listed.url, callback=self.parse_listed, dont_filter=True,
                                 meta={LISTED_META: (listed.url, listed.columns)})

    def _leased_request(self, lease: Any) -> scrapy.Request:
        """A distributed crawl's request for one leased row (`consentry.middlewares.cluster`)."""
        from consentry.middlewares.cluster import LEASE_META

        return scrapy.Request(lease.url, callback=self.parse_listed, dont_filter=True,
                              meta={LISTED_META: (lease.url, lease.columns), LEASE_META: lease})

    async def _scheduler_drained(self) -> None:
        """Wait until Scrapy's scheduler has handed every request to the downloader."""
        engine = self.crawler.engine
        # `ExecutionEngine.scheduler` in recent Scrapy (2.19); in 2.15 only the engine's slot holds it.
        scheduler = getattr(engine, "scheduler", None) or getattr(getattr(engine, "_slot", None), "scheduler", None)
        while engine is not None and engine.running and scheduler is not None and scheduler.has_pending_requests():
            await self.crawler.signals.wait_for(signals.scheduler_empty)

    def closed(self, reason: str) -> None:
        """List mode: the skipped rows per reason, in the log and the stats."""
        if self.url_list is None:
            return
        stats = self.crawler.stats
        for why, count in self.url_list.invalid.items():
            if stats is not None:
                stats.set_value(f"consent/urls/skipped/{why}", count)
        if stats is not None:
            stats.set_value("consent/urls/read", self.url_list.read)
        if self.url_list.invalid:
            logger.warning("%s", self.url_list.invalid_line())

    def _links(self, response: Response) -> Iterator[scrapy.Request | None]:
        links = page_links(response, self.max_page_links)
        if len(links) >= self.max_page_links:
            logger.warning("%s: only the first %d links read", response.url, self.max_page_links)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("consent/links/capped")
        for url, media in links:
            if media or site_of(url) in self.sites:
                yield self._request(url, media=media)

    def parse(self, response: Response, **_: Any) -> Iterator[Any]:
        """One item for the page; then its media and same-site links when it is HTML."""
        yield self._sample(response)
        if isinstance(response, scrapy.http.HtmlResponse):
            yield from (r for r in self._links(response) if r is not None)

    def parse_media(self, response: Response, **_: Any) -> Iterator[dict[str, object]]:
        """One item for a medium."""
        yield self._sample(response)

    def _sample(self, response: Response) -> dict[str, object]:
        item = self.item(response)
        if self.dataset:
            item[BODY_FIELD] = response.body
        return item

    def parse_listed(self, response: Response, **_: Any) -> Iterator[dict[str, object]]:
        """One item for a listed URL: its row's columns and deciding mechanisms; no link is followed."""
        item = self._sample(response)
        listed, columns = response.meta.get(LISTED_META) or (response.url, {})
        item["listed_url"] = listed
        item["columns"] = dict(columns)
        if self.cluster and self.dataset:
            from consentry.middlewares.cluster import LEASE_META

            item[LEASE_FIELD] = response.meta.get(LEASE_META)
        decision = response.meta.get("consent")
        if decision is not None and hasattr(decision, "to_record"):
            from consentry.crawler.crawl.command import deciding_mechanisms

            item["deciding"] = sorted(deciding_mechanisms(decision.to_record()))
        yield item

    @staticmethod
    def item(response: Response) -> dict[str, object]:
        """url, status, content_type, length, sha256 (the tagging middleware adds `consent`)."""
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        return {
            "url": response.url,
            "status": response.status,
            "content_type": content_type,
            "length": len(response.body),
            "sha256": hashlib.sha256(response.body).hexdigest(),
        }
