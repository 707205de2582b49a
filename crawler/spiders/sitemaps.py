"""`consentry crawl --sitemaps`: start URLs discovered from the `Sitemap:` lines of robots.txt (sitemaps.org
protocol 0.9; RFC 9309 §2.2.4 lists `Sitemap` among the "other records").

For each start origin the robots.txt consentry already fetched (`consentry.middlewares._sitecache`) names its
sitemaps; each is fetched only where its own origin's robots.txt allows our product token (and not on an
excluded domain), through the engine like every other request — so the fetch guard, politeness and the WARC
apply. A sitemap index (`<sitemapindex>`) leads to its sitemaps, `MAX_DEPTH` levels at most; a `<urlset>`
gives page URLs, which the spider requests like links of the start sites (same-site ones only). A sitemap is
read up to `MAX_BYTES` on the wire and decoded (`Content-Encoding` is removed by Scrapy with that bound; a
gzip file — `sitemap.xml.gz` — is decompressed with the same cap by
`consentry.middlewares.adapters.contentcoding`), at most `MAX_SITEMAPS` per crawl and `MAX_URLS` URLs from
one. Parsing is Scrapy's `scrapy.utils.sitemap.Sitemap` (lxml, entities not resolved). A sitemap that cannot
be fetched or read is counted (`consent/sitemaps/...` stats) and the crawl goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import scrapy

from consentry.middlewares._scrapyio import SITE_FILE_META
from consentry.middlewares.adapters.contentcoding import decode
from consentry.policies.evaluate import evaluate_access, origin_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from consentry.middlewares._sitecache import SiteCache
    from consentry.policies.config import PolicyConfig

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_SITEMAPS", "MAX_URLS", "SitemapDiscovery", "SitemapError", "read_sitemap"]

logger = logging.getLogger(__name__)

#: Bytes a sitemap may take, on the wire and decompressed (the protocol's 50 MB uncompressed limit).
MAX_BYTES = 50 * 1024 * 1024
#: URLs read from one sitemap at most (the protocol's limit).
MAX_URLS = 50_000
#: Sitemap index nesting followed: robots.txt -> index -> sitemap.
MAX_DEPTH = 2
#: Sitemaps fetched per crawl at most.
MAX_SITEMAPS = 100
_GZIP_MAGIC = b"\x1f\x8b"
_DEPTH_META = "consent_sitemap_depth"
_STAT = "consent/sitemaps/"


class SitemapError(ValueError):
    """A sitemap that cannot be read (not XML, neither `urlset` nor `sitemapindex`, too large)."""


def read_sitemap(body: bytes, max_bytes: int = MAX_BYTES, max_urls: int = MAX_URLS) -> tuple[str, list[str]]:
    """(`urlset` or `sitemapindex`, the `<loc>` URLs) of a sitemap body, gunzipped first when it is gzip data;
    `SitemapError` for anything else."""
    from lxml import etree
    from scrapy.utils.sitemap import Sitemap

    if body[:2] == _GZIP_MAGIC:
        try:
            body = decode(body, "gzip", max_bytes)
        except (OSError, EOFError, ValueError) as exc:
            raise SitemapError(f"gzip: {exc}") from None
    try:
        sitemap = Sitemap(body)
        kind = str(sitemap.type)
        if kind not in ("urlset", "sitemapindex"):
            raise SitemapError(f"root element {kind or '(none)'!r} is neither urlset nor sitemapindex")
        urls: list[str] = []
        for entry in sitemap:
            if len(urls) >= max_urls:
                break
            loc = str(entry.get("loc") or "")
            if loc.startswith(("http://", "https://")):
                urls.append(loc)
    except (etree.LxmlError, StopIteration, AttributeError, TypeError) as exc:
        raise SitemapError(f"not a sitemap: {type(exc).__name__}: {exc}".rstrip(": ")) from None
    return kind, urls


class SitemapDiscovery:
    """Sitemap requests for the start origins, and the page URLs each sitemap gives."""

    def __init__(self, crawler: Crawler, cache: SiteCache, config: PolicyConfig) -> None:
        self.crawler = crawler
        self.cache = cache
        self.config = config
        self._seen: set[str] = set()

    def _count(self, name: str, value: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(_STAT + name, value)

    async def requests(self, origins: Iterable[str], callback: Callable[..., Any]) -> list[scrapy.Request]:
        """The sitemaps robots.txt names for `origins` that may be fetched."""
        found: list[scrapy.Request] = []
        for origin in dict.fromkeys(origins):
            policy = await self.cache.policy(origin)
            for url in policy.robots.sitemap_urls:
                request = await self._request(url, 1, callback)
                if request is not None:
                    found.append(request)
        return found

    async def _request(self, url: str, depth: int, callback: Callable[..., Any]) -> scrapy.Request | None:
        if url in self._seen or len(self._seen) >= MAX_SITEMAPS or depth > MAX_DEPTH:
            self._count("capped" if url not in self._seen else "duplicate")
            return None
        self._seen.add(url)
        refused = evaluate_access(await self.cache.policy(origin_of(url)), url, self.config, fetched_at=None)
        if refused is not None:
            logger.info("sitemap %s not fetched: %s", url, refused.reason)
            self._count("refused")
            return None
        return scrapy.Request(
            url, callback=callback, errback=self._failed, dont_filter=True,
            meta={SITE_FILE_META: "sitemap", _DEPTH_META: depth, "download_maxsize": MAX_BYTES,
                  "handle_httpstatus_all": True},
        )

    def _failed(self, failure: Any) -> None:
        logger.info("sitemap not fetched: %s", failure.getErrorMessage())
        self._count("failed")

    async def parse(self, response: Response, callback: Callable[..., Any]) -> tuple[list[scrapy.Request], list[str]]:
        """(requests for the sitemaps an index names, page URLs of a urlset) from one fetched sitemap."""
        self._count("fetched")
        if response.status != 200:
            logger.info("sitemap %s: HTTP %d", response.url, response.status)
            self._count("malformed")
            return [], []
        try:
            kind, urls = read_sitemap(response.body)
        except SitemapError as exc:
            logger.info("sitemap %s: %s", response.url, exc)
            self._count("malformed")
            return [], []
        if kind == "urlset":
            self._count("urls", len(urls))
            return [], urls
        depth = int(response.meta.get(_DEPTH_META, 1)) + 1
        requests = [r for url in urls if (r := await self._request(url, depth, callback)) is not None]
        return requests, []

