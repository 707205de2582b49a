"""What the consent signals need from an HTML document: its `<meta>` and `<link>` elements (SPECS §6.1,
§7.2 item 3, §8.1).

Pure. Uses the standard library's tolerant `html.parser`; any bytes are accepted and nothing raises.
Only the first `_MAX_SCAN` bytes are read: head elements come first, and a hostile page cannot make the
scan expensive. Elements inside `<body>` are still collected (invalid HTML puts meta tags there too).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

__all__ = ["HtmlHead", "looks_like_html", "parse_head"]

_MAX_SCAN = 1_048_576
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
                         re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class HtmlHead:
    """The document's meta and link elements, in document order.

    `metas`: (attribute, key, content) with attribute one of `name`, `http-equiv`, `property`, and key
    lower-cased. `links`: (rel, type, href) with rel and type lower-cased and href resolved absolute.
    """

    metas: tuple[tuple[str, str, str], ...] = ()
    links: tuple[tuple[str, str, str], ...] = ()

    def meta(self, key: str, *, attribute: str = "name") -> list[str]:
        """Every `content` of `<meta {attribute}=key>` (key compared case-insensitively)."""
        wanted = key.lower()
        return [content for attr, k, content in self.metas if attr == attribute and k == wanted]


class _HeadCollector(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.metas: list[tuple[str, str, str]] = []
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            for attribute in ("name", "http-equiv", "property"):
                if attribute in values:
                    key = values[attribute].strip().lower()
                    self.metas.append((attribute, key, values.get("content", "").strip()))
                    break
        elif tag == "link" and "href" in values:
            href = values["href"].strip()
            try:
                href = urljoin(self.base_url, href)
            except ValueError:
                return
            self.links.append((values.get("rel", "").strip().lower(), values.get("type", "").strip().lower(), href))
        elif tag == "base" and values.get("href"):
            with contextlib.suppress(ValueError):
                self.base_url = urljoin(self.base_url, values["href"].strip())

    handle_startendtag = handle_starttag


def _decode(body: bytes) -> str:
    found = _CHARSET.search(body[:4096])
    if found:
        try:
            return body.decode(found.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    return body.decode("utf-8", errors="replace")


def parse_head(body: bytes, base_url: str) -> HtmlHead:
    """Collect the meta and link elements of an HTML document. Never raises on any input bytes."""
    collector = _HeadCollector(base_url)
    try:
        collector.feed(_decode(body[:_MAX_SCAN]))
        collector.close()
    except (AssertionError, ValueError):  # html.parser can assert on pathological markup
        pass
    return HtmlHead(tuple(collector.metas), tuple(collector.links))


def looks_like_html(body: bytes) -> bool:
    """Whether a document that should be plain text (robots.txt, ai.txt) is really an HTML page."""
    return _HTML_START.match(body[:2048].lstrip(b"\xef\xbb\xbf")) is not None
