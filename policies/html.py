"""What the consent signals need from an HTML document: its `<meta>` and `<link>` elements (RSL `<link>`,
TDMRep meta, meta robots: docs/signals/).

Pure. Uses lxml's tolerant HTML parser (libxml2: recovering, network off, comments and processing
instructions dropped, so a commented-out meta does not count); any bytes are accepted and nothing raises.
Only the first `_MAX_SCAN` bytes are read: head elements come first, and a hostile page cannot make the
scan expensive. Elements inside `<body>` are still collected (invalid HTML puts meta tags there too).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin

import lxml.html
from lxml import etree

__all__ = ["HtmlHead", "looks_like_html", "parse_head"]

_MAX_SCAN = 1_048_576
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


_PARSER = lxml.html.HTMLParser(recover=True, no_network=True, remove_comments=True, remove_pis=True)
_META_KEYS = ("name", "http-equiv", "property")


def _meta(element: etree._Element) -> tuple[str, str, str] | None:
    for attribute in _META_KEYS:
        key = element.get(attribute)
        if key is not None:
            return attribute, key.strip().lower(), (element.get("content") or "").strip()
    return None


def _link(element: etree._Element, base_url: str) -> tuple[str, str, str] | None:
    href = element.get("href")
    if href is None:
        return None
    try:
        target = urljoin(base_url, href.strip())
    except ValueError:
        return None
    return (element.get("rel") or "").strip().lower(), (element.get("type") or "").strip().lower(), target


def _base(root: etree._Element, base_url: str) -> str:
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            with contextlib.suppress(ValueError):
                return str(urljoin(base_url, str(href).strip()))
    return base_url


@lru_cache(maxsize=4)
def parse_head(body: bytes, base_url: str) -> HtmlHead:
    """Collect the meta and link elements of an HTML document. Never raises on any input bytes.

    Memoised: several signal families read the same document's head, one after another (bytes cache their
    hash, so the key costs one pass over the body at most once per body object). The cache is kept small
    because it holds its bodies alive until they are displaced.
    """
    try:
        root = lxml.html.document_fromstring(body[:_MAX_SCAN], parser=_PARSER)
    except (etree.LxmlError, ValueError):  # empty or undecodable documents
        return HtmlHead()
    base = _base(root, base_url)
    metas: list[tuple[str, str, str]] = []
    links: list[tuple[str, str, str]] = []
    for element in root.iter("meta", "link"):
        if element.tag == "meta" and (meta := _meta(element)) is not None:
            metas.append(meta)
        elif element.tag == "link" and (link := _link(element, base)) is not None:
            links.append(link)
    return HtmlHead(tuple(metas), tuple(links))


def looks_like_html(body: bytes) -> bool:
    """Whether a document that should be plain text (robots.txt, ai.txt) is really an HTML page."""
    return _HTML_START.match(body[:2048].lstrip(b"\xef\xbb\xbf")) is not None
