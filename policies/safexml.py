"""Parsing untrusted XML (RSL licences, XMP packets, EPUB package documents).

Pure. One hardened lxml parser for every remote XML document: no entity resolution, no DTD loading, no
network, no huge trees; any entity declaration (billion laughs, external entities) refuses the document.
Bytes are parsed as XML first (BOM and declared encoding honoured). With `lenient=True` (XMP packets,
whose readers tag it) a failure is retried after a lenient decode (UTF-16 by BOM or byte pattern, UTF-8,
else latin-1) with the XML declaration dropped; documents that can grant consent (RSL) stay strict.
Never raises.
"""

from __future__ import annotations

import re

from lxml import etree

__all__ = ["decode_leniently", "parse_untrusted"]

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_UTF16 = ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"), (b"<\x00", "utf-16-le"), (b"\x00<", "utf-16-be"))
_REFUSED = "document declares XML entities (refused)"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def decode_leniently(data: bytes) -> tuple[str, bool]:
    """The bytes as text and whether that took a lenient guess (not UTF-8)."""
    codec = next((c for prefix, c in _UTF16 if data.startswith(prefix)), None)
    if codec is not None:
        try:
            return data.decode(codec), True
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("latin-1"), True


def _from_text(text: str) -> etree._Element | None:
    try:
        root = etree.fromstring(_DECLARATION.sub("", text.lstrip("\ufeff"), count=1), _parser())
    except (etree.LxmlError, ValueError):
        return None
    return root if isinstance(root, etree._Element) else None


def parse_untrusted(data: bytes | str, *, lenient: bool = False) -> tuple[etree._Element | None, str]:
    """The root element, or None and why not ('' when parsed)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if _ENTITY_DECL.search(raw):
        return None, _REFUSED
    try:
        root: etree._Element | None = etree.fromstring(raw, _parser())
        problem = ""
    except (etree.LxmlError, ValueError) as exc:
        root, problem = None, f"not well-formed XML ({str(exc)[:120]})"
    if root is None and not lenient:
        return None, problem
    if root is None:
        text, _ = decode_leniently(raw)
        if "<!ENTITY" in text.upper():
            return None, _REFUSED
        root = _from_text(text)
        if root is None:
            return None, problem or "not well-formed XML"
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        return None, _REFUSED
    return root, ""
