"""The generic asset spider: pages of the start sites plus the media they reference (docs/cli.md, `consentry crawl`).

"Site" is the registrable domain (tldextract with its BUNDLED public-suffix snapshot — never fetched);
for IP addresses and single-label hosts (127.0.0.1, localhost) the site is the host itself, so every
loopback port of one host is one site. Links are followed within the start sites; media referenced by a
page (img src/srcset, source, video, audio, a/href to a media file) are fetched wherever they live and
marked `consent_media` so the page's `noai`/`noimageai` reaches them. One item per fetched response.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

import scrapy
import tldextract

if TYPE_CHECKING:
    from scrapy.http import Response

__all__ = ["MEDIA_EXTENSIONS", "AssetSpider", "page_links", "site_of"]

#: File extensions that make an `<a href>` a media link.
MEDIA_EXTENSIONS = frozenset({
    "jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "tif", "tiff", "bmp", "heic", "jxl",
    "mp4", "m4v", "mov", "webm", "avi", "mkv", "mp3", "m4a", "wav", "ogg", "oga", "flac", "aac", "opus",
    "pdf", "epub",
})  # fmt: skip
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
_MEDIA_XPATH = (
    "//img/@src | //source/@src | //video/@src | //video/@poster | //audio/@src"
    " | //track/@src | //embed/@src | //object/@data"
)
_SRCSET_XPATH = "//img/@srcset | //source/@srcset"


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


def page_links(response: Response) -> list[tuple[str, bool]]:
    """Every URL an HTML page references, absolute, in document order, with whether it is a medium
    (img src/srcset, source, video, audio, track, embed, object, and `<a href>` to a media file)."""
    sources = [*response.xpath(_MEDIA_XPATH).getall(), *_srcset_urls(response.xpath(_SRCSET_XPATH).getall())]
    links = [(response.urljoin(src.strip()), True) for src in sources]
    for href in response.xpath("//a/@href").getall():
        url = response.urljoin(href.strip())
        links.append((url, _is_media(url)))
    return links


class AssetSpider(scrapy.Spider):
    """Start URLs → same-site pages and every medium they reference, up to the request limit."""

    name = "assets"

    def __init__(self, urls: Sequence[str] | str = (), max_requests: int | str = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [u for u in (urls.split(",") if isinstance(urls, str) else urls) if u]
        self.sites = frozenset(site_of(u) for u in self.start_urls)
        self.max_requests = int(max_requests)
        self._seen: set[str] = set()

    def _request(self, url: str, *, media: bool) -> scrapy.Request | None:
        url = urldefrag(url)[0]
        if not url.startswith(("http://", "https://")) or url in self._seen:
            return None
        if self.max_requests and len(self._seen) >= self.max_requests:
            return None
        self._seen.add(url)
        if media:
            return scrapy.Request(url, callback=self.parse_media, meta={"consent_media": True})
        return scrapy.Request(url, callback=self.parse)

    async def start(self) -> Any:
        """The start URLs, counted against the request limit."""
        for url in self.start_urls:
            request = self._request(url, media=False)
            if request is not None:
                yield request

    def _links(self, response: Response) -> Iterator[scrapy.Request | None]:
        for url, media in page_links(response):
            if media or site_of(url) in self.sites:
                yield self._request(url, media=media)

    def parse(self, response: Response, **_: Any) -> Iterator[Any]:
        """One item for the page; then its media and same-site links when it is HTML."""
        yield self.item(response)
        if isinstance(response, scrapy.http.HtmlResponse):
            yield from (r for r in self._links(response) if r is not None)

    def parse_media(self, response: Response, **_: Any) -> Iterator[dict[str, object]]:
        """One item for a medium."""
        yield self.item(response)

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
