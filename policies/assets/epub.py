"""TDMRep in an EPUB package document (W3C TDMRep, EPUB technique): `tdm:reservation` / `tdm:policy` in the OPF.

Pure: reads a ZIP body from memory with every member read bounded (zip bombs cannot inflate past the cap).
EPUB 2: `<meta name="tdm:reservation" content="1"/>`. EPUB 3: `<package prefix="tdm: http://www.w3.org/ns/tdmrep#">`
+ `<meta property="tdm:reservation">1</meta>`; the prefix is resolved, not assumed.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from lxml import etree

from consentry.policies.assets.xmp import parse_xml
from consentry.policies.tdmrep import TdmDeclaration

__all__ = ["MAX_MEMBER_BYTES", "TDMREP_EPUB_NS", "opf_tdmrep"]

#: Members (container.xml, the OPF) larger than this are refused.
MAX_MEMBER_BYTES = 4 * 1024 * 1024
TDMREP_EPUB_NS = "http://www.w3.org/ns/tdmrep#"
_NAMESPACES = frozenset({TDMREP_EPUB_NS, "http://www.w3.org/ns/tdmrep/"})
_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
               zlib.error, ValueError, OSError, KeyError)  # fmt: skip
_PREFIX = re.compile(r"([A-Za-z_][\w.-]*):\s+(\S+)")

_UNDECLARED = "tdm"  # an undeclared `tdm:` prefix is read as TDMRep (lenient; noted in evidence)



def _member(archive: zipfile.ZipFile, name: str) -> bytes | None:
    with archive.open(name) as handle:
        data = handle.read(MAX_MEMBER_BYTES + 1)
    return data if len(data) <= MAX_MEMBER_BYTES else None


def _opf_path(archive: zipfile.ZipFile) -> str | None:
    """container.xml: `<rootfile full-path="…" media-type="application/oebps-package+xml"/>`."""
    data = _member(archive, "META-INF/container.xml")
    root = parse_xml(data) if data is not None else None
    if root is None:
        return None
    for rootfile in root.iter(f"{{{_CONTAINER_NS}}}rootfile", "rootfile"):
        path = rootfile.get("full-path")
        if isinstance(path, str) and path:
            return path
    return None


def _tdm_prefixes(package: etree._Element) -> set[str]:
    """Prefixes bound to the TDMRep namespace by `package@prefix` ("prefix: IRI" pairs)."""
    declared = {m.group(1): m.group(2) for m in _PREFIX.finditer(package.get("prefix") or "")}
    bound = {prefix for prefix, iri in declared.items() if iri in _NAMESPACES}
    return bound if _UNDECLARED in declared else bound | {_UNDECLARED + "?"}


def _property(meta: etree._Element, prefixes: set[str]) -> tuple[str, str] | None:
    """(local name, value) of a TDMRep meta element in the EPUB 3 or EPUB 2 form, else None.

    The local name is starred when it was read through an undeclared `tdm:` prefix (lenient).
    """
    prop = meta.get("property")
    if prop and ":" in prop:
        prefix, local = prop.split(":", 1)
        if prefix in prefixes:
            return local, (meta.text or "").strip()
        if prefix + "?" in prefixes:
            return local + "*", (meta.text or "").strip()
    name = meta.get("name")
    if name and name.startswith("tdm:"):
        return name[4:], (meta.get("content") or "").strip()
    return None


def _read_opf(root: etree._Element) -> TdmDeclaration:
    prefixes = _tdm_prefixes(root)
    found: dict[str, str] = {}
    lenient = False
    for meta in root.iter():
        if isinstance(meta.tag, str) and etree.QName(meta).localname == "meta":
            pair = _property(meta, prefixes)
            if pair is not None and pair[0].rstrip("*") in ("reservation", "policy"):
                lenient = lenient or pair[0].endswith("*")
                found.setdefault(pair[0].rstrip("*"), pair[1])
    if not found:
        return TdmDeclaration(None, None, "")
    raw = found.get("reservation")
    reservation = {"1": 1, "0": 0}.get(raw) if raw is not None else None
    evidence = f"OPF tdm:reservation={raw!r}" if raw is not None else "OPF tdm:reservation absent"
    if raw is not None and reservation is None:
        evidence += " (invalid value: unset)"
    if "policy" in found:
        evidence += f" tdm:policy={found['policy']!r}"
    if lenient:
        evidence += " (no package@prefix declaration; `tdm:` read as TDMRep)"
    return TdmDeclaration(reservation, found.get("policy"), evidence, lenient)


def opf_tdmrep(body: bytes) -> TdmDeclaration:
    """(reservation, policy, evidence) from the EPUB in `body`; (None, None, reason) when unreadable."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            path = _opf_path(archive)
            if path is None:
                return TdmDeclaration(None, None, "EPUB: no readable META-INF/container.xml rootfile")
            data = _member(archive, path)
    except _ZIP_ERRORS as error:
        return TdmDeclaration(None, None, f"EPUB unreadable: {type(error).__name__}: {error}")
    root = parse_xml(data) if data is not None else None
    if root is None:
        return TdmDeclaration(None, None, f"EPUB: package document {path!r} unreadable or over {MAX_MEMBER_BYTES} bytes")
    return _read_opf(root)
