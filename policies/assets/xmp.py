"""XMP packets: IPTC/PLUS `plus:DataMining` + `plus:OtherConstraints` (IPTC Photo Metadata 2023.1;
docs/signals/iptc.md), `dcterms:provenance` (C2PA 2.2 §15.5.3) and TDMRep in PDF XMP (W3C TDMRep, PDF).

Pure. XML is parsed by lxml with entity resolution, DTD loading and network off; packets declaring entities
are refused. Nothing here raises on remote content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache

from lxml import etree

from consentry.policies.model import Signal
from consentry.policies.safexml import decode_leniently, parse_untrusted
from consentry.policies.tdmrep import TdmDeclaration
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

__all__ = [
    "IPTC_EXT_NS",
    "PLUS_NS",
    "READ_PROPERTIES",
    "TDMREP_PDF_NS",
    "digital_source_types",
    "iptc_signals",
    "parse_xml",
    "pdf_tdmrep",
    "provenance_url",
    "unreadable_iptc",
]

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
#: IPTC Extension schema (IPTC Photo Metadata Standard 2023.1): holds `Iptc4xmpExt:DigitalSourceType`.
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
TDMREP_PDF_NS = "http://www.w3.org/ns/tdmrep/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DCTERMS = "http://purl.org/dc/terms/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_MAX_VALUE = 500  # characters of a value quoted in evidence

#: The local name of every XMP property read here. An XML name is never escaped, so a packet whose bytes do
#: not hold a name (in an ASCII-compatible encoding) has no such property and is not parsed for it.
READ_PROPERTIES = ("DataMining", "DigitalSourceType", "provenance", "reservation", "policy")
#: Declared encodings under which a name's bytes are its ASCII bytes (anything else is parsed regardless).
_ASCII_COMPATIBLE = re.compile(rb"(?:utf-?8|us-ascii|ascii|iso-?8859-\d+|latin-?1|windows-125\d|cp125\d)\Z", re.I)
_DECLARED = re.compile(rb"\A\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")

_D, _A = Verdict.DENY, Verdict.ALLOW
#: PLUS vocabulary (docs/signals/iptc.md): vocabulary id -> (statement, tags). The human labels map to the same rows (lenient).
_VOCABULARY: dict[str, tuple[dict[Purpose, Verdict], tuple[Tag, ...]]] = {
    "DMI-UNSPECIFIED": ({}, ()),
    "DMI-ALLOWED": ({Purpose.TDM: _A}, ()),
    "DMI-PROHIBITED-AIMLTRAINING": ({Purpose.AI_TRAIN: _D}, ()),
    "DMI-PROHIBITED-GENAIMLTRAINING": ({Purpose.GENAI_TRAIN: _D}, ()),
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": ({Purpose.TDM: _D, Purpose.SEARCH: _A}, ()),
    "DMI-PROHIBITED": ({Purpose.TDM: _D}, ()),
    "DMI-PROHIBITED-SEECONSTRAINT": ({Purpose.TDM: _D}, (Tag.CONDITIONAL,)),
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": ({Purpose.TDM: _D}, (Tag.CONDITIONAL,)),
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": ({Purpose.TDM: _D}, (Tag.CONDITIONAL,)),
}
_LABELS = {
    "unspecified - no prohibition defined": "DMI-UNSPECIFIED",
    "allowed": "DMI-ALLOWED",
    "prohibited for ai/ml training": "DMI-PROHIBITED-AIMLTRAINING",
    "prohibited for generative ai/ml training": "DMI-PROHIBITED-GENAIMLTRAINING",
    "prohibited except for search engine indexing": "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
    "prohibited": "DMI-PROHIBITED",
    "prohibited, see plus:otherconstraints": "DMI-PROHIBITED-SEECONSTRAINT",
    "prohibited, see iptcext:embdencrightsexpr": "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
    "prohibited, see iptcext:linkedencrightsexpr": "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
}


def parse_xml(data: bytes | str) -> etree._Element | None:
    """The root element of `data` parsed with the hardened parser; None for bad XML or declared entities."""
    return parse_untrusted(data, lenient=True)[0]


@lru_cache(maxsize=16)
def _parsed(packet: bytes) -> tuple[etree._Element | None, bool]:
    """One packet parsed once for the several readings of one asset (IPTC, provenance URL, source type).

    The cached tree is only read, never modified.
    """
    return parse_xml(packet), decode_leniently(packet)[1]


def _may_name(packet: bytes, names: tuple[bytes, ...]) -> bool:
    """False only when `packet` cannot hold a property called one of `names`: its bytes are ASCII-compatible
    text (no NUL, as in UTF-16/32; starts with `<`, as EBCDIC does not; no other declared encoding) and hold
    none of the names. Skipping the parse of such a packet changes no reading."""
    if b"\x00" in packet or not packet.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return True
    declared = _DECLARED.match(packet)
    if declared is not None and not _ASCII_COMPATIBLE.match(declared.group(1).strip()):
        return True
    return any(name in packet for name in names)


def _roots(packets: Iterable[bytes], *names: str) -> Iterator[tuple[etree._Element, bool]]:
    """The parsed packets that may hold a property called one of `names` (local names)."""
    needles = tuple(name.encode() for name in names)
    for packet in packets:
        if not _may_name(packet, needles):
            continue
        root, lenient = _parsed(packet)
        if root is not None:
            yield root, lenient


def _values(root: etree._Element, namespace: str, name: str) -> Iterator[str]:
    """Property `name` in all three RDF forms: attribute, rdf:resource, element text (or rdf:li text)."""
    qname = f"{{{namespace}}}{name}"
    if name not in _local_names(root):  # the common case, answered from one walk of the tree per packet
        return
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        attribute = element.get(qname)
        if attribute is not None:
            yield attribute.strip()
        if element.tag != qname:
            continue
        resource = element.get(f"{{{_RDF}}}resource")
        if resource is not None:
            yield resource.strip()
        elif (element.text or "").strip():
            yield (element.text or "").strip()
        else:
            yield from _li_texts(element)


@lru_cache(maxsize=16)
def _local_names(root: etree._Element) -> frozenset[str]:
    """Every element and attribute local name in the tree (a cheap "is the property there at all?")."""
    names: set[str] = set()
    for element in root.iter():
        if isinstance(element.tag, str):
            names.add(etree.QName(element).localname)
            names.update(etree.QName(key).localname for key in element.attrib)
    return frozenset(names)


def _li_texts(element: etree._Element) -> Iterator[str]:
    items = list(element.iter(f"{{{_RDF}}}li"))
    preferred = [li for li in items if li.get(_XML_LANG) == "x-default"] or items
    for li in preferred[:1]:
        if (li.text or "").strip():
            yield (li.text or "").strip()


def _read_value(value: str) -> tuple[dict[Purpose, Verdict], tuple[Tag, ...], str]:
    """plus:DataMining = URI "http://ns.useplus.org/ldf/vocab/" DMI-id | bare DMI-id | label (lenient)."""
    label = _LABELS.get(re.sub(r"\s+", " ", value.replace("–", "-")).strip().casefold())
    if label is not None:
        statement, tags = _VOCABULARY[label]
        return dict(statement), (*tags, Tag.LENIENT), f"human label read as {label}"
    token = value.rstrip("/").rsplit("/", 1)[-1].strip().upper()
    if token in _VOCABULARY:
        statement, tags = _VOCABULARY[token]
        return dict(statement), tags, ""
    if "PROHIBITED" in value.upper():
        return {Purpose.TDM: _D}, (Tag.LENIENT,), "unknown value containing PROHIBITED read as DMI-PROHIBITED"
    return {}, (), "not in the PLUS vocabulary: ignored"


def _quote(value: str) -> str:
    return repr(value[:_MAX_VALUE])


def iptc_signals(packets: Sequence[bytes], source: str) -> list[Signal]:
    """One IPTC_XMP signal per distinct `plus:DataMining` value found in `packets` (docs/signals/iptc.md)."""
    if not packets:
        return []
    signals: list[Signal] = []
    seen: set[str] = set()
    for root, lenient in _roots(packets, "DataMining"):
        constraints = " / ".join(_values(root, PLUS_NS, "OtherConstraints"))
        for value in _values(root, PLUS_NS, "DataMining"):
            if value in seen or not value:
                continue
            seen.add(value)
            statement, tags, note = _read_value(value)
            evidence = f"plus:DataMining={_quote(value)}" + (f" ({note})" if note else "")
            if Tag.CONDITIONAL in tags:
                evidence += f"; plus:OtherConstraints={_quote(constraints) if constraints else 'absent'}"
            if lenient:
                tags, evidence = (*tags, Tag.LENIENT), evidence + "; XMP packet is not UTF-8"
            signals.append(_signal(source, evidence, statement, tags))
    return signals


def _signal(source: str, evidence: str, statement: dict[Purpose, Verdict], tags: tuple[Tag, ...]) -> Signal:
    return Signal(
        mechanism=Mechanism.IPTC_XMP,
        scope=Scope.EMBEDDED,
        source=source,
        evidence=evidence,
        statement=statement,
        tags=tuple(dict.fromkeys(tags)),
        hierarchical=Purpose.TDM in statement and statement[Purpose.TDM] is _A,
    )


def provenance_url(packets: Sequence[bytes], *, include_self: bool = False) -> str | None:
    """The first http(s) `dcterms:provenance` URI (the external active manifest, C2PA 2.2 §15.5.3), if any.

    `include_self`: also a `self#jumbf=…` reference (the manifest embedded in the asset, as c2pa writes it).
    """
    return _provenance_url(tuple(packets), include_self)


@lru_cache(maxsize=16)
def _provenance_url(packets: tuple[bytes, ...], include_self: bool) -> str | None:
    for root, _ in _roots(packets, "provenance"):
        for value in _values(root, _DCTERMS, "provenance"):
            if value.lower().startswith(("http://", "https://")) or (include_self and value.startswith("self#")):
                return value
    return None


def digital_source_types(packets: Sequence[bytes]) -> tuple[str, ...]:
    """Every distinct `Iptc4xmpExt:DigitalSourceType` value (IPTC Photo Metadata 2023.1 "Digital Source Type")."""
    if not packets:
        return ()
    roots = _roots(packets, "DigitalSourceType")
    found = [v for root, _ in roots for v in _values(root, IPTC_EXT_NS, "DigitalSourceType") if v]
    return tuple(dict.fromkeys(value[:_MAX_VALUE] for value in found))


def pdf_tdmrep(packets: Sequence[bytes]) -> TdmDeclaration:
    """(reservation, policy, evidence) from `tdm:reservation`/`tdm:policy` in namespace
    `http://www.w3.org/ns/tdmrep/` (W3C TDMRep, PDF technique); the last packet declaring either wins.

    reservation = "1" / "0"; any other value is a protocol error -> None (unset), noted in evidence.
    """
    result = TdmDeclaration(None, None, "")
    for root, _ in _roots(packets, "reservation", "policy"):
        reservations = list(_values(root, TDMREP_PDF_NS, "reservation"))
        policies = list(_values(root, TDMREP_PDF_NS, "policy"))
        if not reservations and not policies:
            continue
        raw = reservations[-1] if reservations else None
        reservation = {"1": 1, "0": 0}.get(raw) if raw is not None else None
        policy = policies[-1] if policies else None
        evidence = f"XMP tdm:reservation={_quote(raw) if raw is not None else 'absent'}"
        if raw is not None and reservation is None:
            evidence += " (invalid value: unset)"
        if policy is not None:
            evidence += f" tdm:policy={_quote(policy)}"
        result = TdmDeclaration(reservation, policy, evidence)
    return result


_DATA_MINING = b"DataMining"


def unreadable_iptc(packets: Sequence[bytes], body: bytes, notes: Sequence[str], source: str) -> list[Signal]:
    """An `unverifiable` IPTC_XMP signal when the asset visibly names `plus:DataMining` where it could not be
    read: in a packet that is not well-formed XML, or (the pre-scan noted XMP it could not extract: a truncated
    SVG, an oversized packet) in bytes outside every packet read. Its value is then unknown, and a withheld
    consent must not read as silence (docs/signals/iptc.md "Malformed input"). [] otherwise."""
    broken = [p for p in packets if _DATA_MINING in p and _parsed(p)[0] is None]
    if broken:
        why = f"an XMP packet naming plus:DataMining is not well-formed XML ({len(broken[0])} bytes)"
    elif notes and body.count(_DATA_MINING) > sum(p.count(_DATA_MINING) for p in packets):
        why = "plus:DataMining is named outside every XMP packet read (" + "; ".join(notes[:3]) + ")"
    else:
        return []
    evidence = f"{why}: its value cannot be read"
    return [Signal(Mechanism.IPTC_XMP, Scope.EMBEDDED, source, evidence, {}, (Tag.UNVERIFIABLE,))]
