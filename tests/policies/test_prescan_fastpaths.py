"""The pre-scan's cheap paths find what the plain byte search finds: memchr-anchored searches that fall back
to `bytes.find` past their hit cap, packets searched once per delimiter, RDF parsed only when it names a
property the XMP readers read, XMP packets parsed only when they may hold the property asked for, and the
memo keyed by identity then equality (never by hash); the common SVG path reads as the general scan."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from consentry.policies.assets import prescan, xmp
from consentry.policies.assets.prescan import scan
from tests.provenance_fixtures import xmp_packet

DMI = 'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/>'
PACKET = xmp_packet(DMI)
RDF_NS = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'


def svg(*parts: bytes) -> bytes:
    return b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">' + b"".join(parts) + b"</svg>"


# Far more anchor bytes (`:` and `?`) than the anchored search checks before falling back to bytes.find.
CSS = b'<style>' + b"a{fill:#fff;stroke:#000} " * 200 + b"</style><text>why? " * 100 + b"</text>"


@pytest.mark.parametrize("noise", [b"", CSS], ids=["quiet", "many-anchor-bytes"])
def test_manifest_and_packets_found_after_any_number_of_anchor_bytes(noise: bytes) -> None:
    body = svg(noise, b"<metadata>", PACKET, noise, b"<c2pa:manifest>AA==</c2pa:manifest>", PACKET.replace(
        b"AIMLTRAINING", b"GENAIMLTRAINING"), b"</metadata>")
    markers = scan(body, "image/svg+xml")
    assert markers.has_c2pa
    assert len(markers.xmp_packets) == 2
    assert [s.evidence.split("DMI-")[1][:20] for s in xmp.iptc_signals(markers.xmp_packets, "u")] == [
        "PROHIBITED-AIMLTRAIN", "PROHIBITED-GENAIMLTR"]


def test_manifest_name_inside_a_packet_still_counts() -> None:
    packet = xmp_packet('xmlns:c2pa="http://c2pa.org/manifest"><c2pa:manifest>AA==</c2pa:manifest></rdf:Description>')
    assert scan(svg(CSS, b"<metadata>", packet, b"</metadata>"), "image/svg+xml").has_c2pa


def test_bare_xmpmeta_after_a_wrapped_packet() -> None:
    bare = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF ' + RDF_NS.encode() + b'><rdf:Description '
            b'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" ' + DMI.encode() + b"</rdf:RDF></x:xmpmeta>")
    markers = scan(svg(b"<metadata>", xmp_packet('dc:x="1"/>'), CSS, bare, b"</metadata>"), "image/svg+xml")
    assert len(markers.xmp_packets) == 2
    assert xmp.iptc_signals(markers.xmp_packets, "u")


def test_svg_rdf_without_a_read_property_is_not_parsed() -> None:
    body = svg(b'<metadata><rdf:RDF ', RDF_NS.encode(), b'><rdf:Description rdf:about="" '
               b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/svg+xml"/></rdf:RDF></metadata>')
    markers = scan(body, "image/svg+xml")
    assert markers.xmp_packets == ()
    assert any("not parsed" in note for note in markers.notes)
    with_property = body.replace(b'dc:format="image/svg+xml"', b'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
                                 + DMI.encode()[:-2])
    assert xmp.iptc_signals(scan(with_property, "image/svg+xml").xmp_packets, "u")


def test_packet_without_the_property_is_not_parsed() -> None:
    xmp._parsed.cache_clear()
    plain = xmp_packet('dc:format="image/jpeg"/>')
    assert xmp.iptc_signals([plain], "u") == []
    assert xmp.digital_source_types([plain]) == ()
    assert xmp._parsed.cache_info().currsize == 0  # nothing was parsed
    assert xmp.iptc_signals([PACKET], "u")
    assert xmp._parsed.cache_info().currsize == 1


@pytest.mark.parametrize("encode", [
    lambda p: p.decode().encode("utf-16"),  # NUL bytes: the names' bytes are not their ASCII bytes
    lambda p: p.decode().encode("utf-32"),
    lambda p: b'<?xml version="1.0" encoding="UTF-16"?>' + p,  # a declared encoding that is not ASCII-compatible
    lambda p: b"junk before " + p,  # does not start with "<": not assumed ASCII-compatible
], ids=["utf-16", "utf-32", "declared", "no-leading-tag"])
def test_packets_that_may_hide_a_name_are_parsed(encode) -> None:
    xmp._parsed.cache_clear()
    xmp.iptc_signals([encode(PACKET.replace(b"plus:DataMining", b"plus:Other"))], "u")
    assert xmp._parsed.cache_info().currsize == 1


def test_memo_by_identity_then_equality() -> None:
    body = svg(b"<metadata>", PACKET, b"</metadata>")
    first = scan(body, "image/svg+xml")
    assert scan(body, "image/svg+xml") is first
    assert scan(bytes(bytearray(body)), "image/svg+xml") is first  # equal bytes, another object
    assert scan(body, "") is not first  # another content type is another scan
    assert scan(body + b" ", "image/svg+xml") is not first


REAL_SVG = (Path(__file__).parent.parent / "fixtures" / "real" / "sample1.svg").read_bytes()
SNIPPETS = (
    PACKET, PACKET.split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0], b"<c2pa:manifest>AA==</c2pa:manifest>",
    b"<!-- <?xpacket begin= <x:xmpmeta c2pa:manifest -->", b"<![CDATA[" + PACKET + b"]]>", b'<?xpacket end="w"?>',
    b'<?xpacket begin="" id="x"?>', b"<x:xmpmeta>", b"<x:xmpmetaX>", b"?" * 9, b":" * 9, b" " * 500, CSS[:700],
    b'<a href="https://e.com/?q=1">?</a>', b"x" * 505 + b"c2pa:manifest", b"&e;", b"<",
)


def general_scan(body: bytes) -> tuple[bool, list[bytes], list[str]]:
    found = prescan._Found()
    return prescan._svg_manifest(body, prescan._scan_packets(body, found, prescan._TEXT_ANCHORS)), found.packets, \
        found.notes


def svg_variants() -> list[bytes]:
    """The real SVG, without its packet, truncated, and with snippets put in at seeded places."""
    start, end = REAL_SVG.index(b"<?xpacket begin="), REAL_SVG.index(b"</metadata>")
    plain = REAL_SVG[:start] + REAL_SVG[end:]
    variants = [REAL_SVG, plain, *(REAL_SVG[:cut] for cut in range(0, len(REAL_SVG), 97))]
    rng = random.Random(11)
    for _ in range(1500):
        body = bytearray(rng.choice((REAL_SVG, plain)))
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(body))
            body[at:at] = rng.choice(SNIPPETS)
        variants.append(bytes(body))
    return variants


def test_common_svg_path_reads_as_the_general_scan() -> None:
    """`_svg_common` (one wrapped packet or none, read in few steps) answers for the real SVG with and without
    its packet, and wherever it answers its reading is the general scan's: C2PA marker, packets and notes."""
    answered = 0
    for body in svg_variants():
        found = prescan._Found()
        if prescan._svg_common(body, found):
            answered += 1
            assert (found.c2pa, found.packets, found.notes) == general_scan(body)
        else:
            assert (found.c2pa, found.packets, found.notes) == (False, [], [])
    assert prescan._svg_common(REAL_SVG, prescan._Found())
    assert answered > 500
