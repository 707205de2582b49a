"""XMP and C2PA markers in the containers added for issue 11: HEIF/AVIF `mime` items (ISO/IEC 23008-12),
JPEG XL boxes (ISO/IEC 18181-2), SVG `<metadata>` RDF, PDF metadata and object streams (ISO 32000-2 §7.5.7,
§14.3.2) — and hostile inputs: lying lengths, zip/deflate bombs, too many streams. Every walk is bounded;
where it cannot see, `inconclusive` says why."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.assets import xmp
from consentry.policies.assets.prescan import MAX_PACKET_BYTES, PDF_RATIO_LIMIT, scan
from tests.provenance_fixtures import xmp_packet

C2PA_UUID = bytes.fromhex("6332706100110010800000aa00389b71")
DMI = 'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/>'
PACKET = xmp_packet(DMI)
RDF_ONLY = (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            b'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" ' + DMI.encode() + b"</rdf:RDF>")


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return box(kind, bytes([version]) + b"\x00\x00\x00" + payload)


def infe(item_id: int, item_type: bytes, content_type: bytes = b"") -> bytes:
    tail = content_type + b"\x00" if item_type == b"mime" else b""
    return full_box(b"infe", 2, struct.pack(">HH", item_id, 0) + item_type + b"\x00" + tail)


def heif(packet: bytes, *, brand: bytes = b"heic", method: int = 0, lie: int = 0) -> bytes:
    """ftyp, meta(hdlr, iinf[hvc1 item 1, mime item 2], iloc v1 (4-byte offsets/lengths)), mdat with the XMP."""
    ftyp = box(b"ftyp", brand + b"\x00\x00\x00\x00mif1" + brand)
    iinf = full_box(b"iinf", 0, struct.pack(">H", 2) + infe(1, b"hvc1") + infe(2, b"mime", b"application/rdf+xml"))

    def iloc(offset: int) -> bytes:
        items = b""
        for item_id, (off, length) in ((1, (0, 0)), (2, (offset, len(packet) + lie))):
            items += struct.pack(">HHHH", item_id, method, 0, 1) + struct.pack(">II", off, length)
        return full_box(b"iloc", 1, struct.pack(">H", 0x4400) + struct.pack(">H", 2) + items)

    hdlr = full_box(b"hdlr", 0, b"\x00" * 4 + b"pict" + b"\x00" * 13)
    head_len = len(ftyp) + len(box(b"meta", b"\x00" * 4 + hdlr + iinf + iloc(0))) + 8
    meta = box(b"meta", b"\x00" * 4 + hdlr + iinf + iloc(head_len))
    return ftyp + meta + box(b"mdat", packet)


def test_heif_mime_item_xmp_is_read() -> None:
    for brand in (b"heic", b"avif"):
        markers = scan(heif(PACKET, brand=brand), "image/heic")
        assert markers.container == "bmff"
        assert markers.xmp_packets == (PACKET,)
        [signal] = xmp.iptc_signals(markers.xmp_packets, "u")
        assert "DMI-PROHIBITED-AIMLTRAINING" in signal.evidence


def heif_idat(packet: bytes, *, lie: int = 0) -> bytes:
    """The XMP item stored in the meta box's `idat` (iloc construction method 1, offset 0 into idat's data)."""
    ftyp = box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")
    iinf = full_box(b"iinf", 0, struct.pack(">H", 1) + infe(2, b"mime", b"application/rdf+xml"))
    items = struct.pack(">HHHH", 2, 1, 0, 1) + struct.pack(">II", 0, len(packet) + lie)
    iloc = full_box(b"iloc", 1, struct.pack(">H", 0x4400) + struct.pack(">H", 1) + items)
    hdlr = full_box(b"hdlr", 0, b"\x00" * 4 + b"pict" + b"\x00" * 13)
    return ftyp + box(b"meta", b"\x00" * 4 + hdlr + iinf + iloc + box(b"idat", packet))


def test_heif_item_in_idat_is_read() -> None:
    markers = scan(heif_idat(PACKET), "image/heic")
    assert markers.xmp_packets == (PACKET,)
    assert scan(heif_idat(PACKET, lie=10), "image/heic").xmp_packets == ()  # past the end of idat: not read


def test_heif_item_in_idat_without_an_idat_box_is_noted_not_read() -> None:
    markers = scan(heif(PACKET, method=1), "image/heic")
    assert markers.xmp_packets == ()
    assert any("XMP item 2" in note for note in markers.notes)


def test_heif_lying_extent_is_not_read() -> None:
    markers = scan(heif(PACKET, lie=10_000), "image/heic")
    assert markers.xmp_packets == ()


def test_heif_lying_entry_count_is_bounded() -> None:
    body = heif(PACKET)
    body = body.replace(struct.pack(">H", 0x4400) + struct.pack(">H", 2), struct.pack(">H", 0x4400) + b"\xff\xff")
    markers = scan(body)
    assert any("heif" in note for note in markers.notes)


JXL = b"\x00\x00\x00\x0cJXL \r\n\x87\n" + box(b"ftyp", b"jxl \x00\x00\x00\x00jxl ")


def test_jpeg_xl_boxes() -> None:
    jumd = box(b"jumd", C2PA_UUID + b"\x03c2pa\x00")
    markers = scan(JXL + box(b"xml ", PACKET) + box(b"jumb", jumd) + box(b"jxlc", b"\xff\x0a"))
    assert markers.container == "jxl"
    assert markers.has_c2pa
    assert markers.c2pa_stores == 1
    assert markers.xmp_packets == (PACKET,)
    broken = scan(JXL + box(b"brob", b"xml " + b"\x00" * 20))
    assert broken.xmp_packets == ()
    assert any("Brotli" in note for note in broken.notes)
    assert scan(b"\xff\x0a" + b"\x00" * 50).container == "jxl-codestream"


def test_jpeg_xl_exif_jumb_is_not_a_store() -> None:
    jumd = box(b"jumd", b"\x00" * 16 + b"\x03exif\x00")
    assert not scan(JXL + box(b"jumb", jumd)).has_c2pa


SVG_NS_ON_ROOT = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" '
                  b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                  b'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"><metadata><rdf:RDF><rdf:Description '
                  b'rdf:about="" ' + DMI.encode() + b"</rdf:RDF></metadata><rect/></svg>")


@pytest.mark.parametrize("body", [
    b'<svg xmlns="http://www.w3.org/2000/svg"><metadata>' + RDF_ONLY + b"</metadata></svg>",
    SVG_NS_ON_ROOT,  # the namespaces are declared on <svg>, not on rdf:RDF
])
def test_svg_metadata_rdf_without_xpacket(body: bytes) -> None:
    markers = scan(body, "image/svg+xml")
    assert markers.container == "svg"
    [signal] = xmp.iptc_signals(markers.xmp_packets, "u")
    assert "DMI-PROHIBITED-AIMLTRAINING" in signal.evidence


def test_svg_with_entities_is_refused() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "DMI-PROHIBITED">]><svg><metadata>'
            + RDF_ONLY + b"</metadata></svg>")
    assert xmp.iptc_signals(scan(body, "image/svg+xml").xmp_packets, "u") == []


def pdf_stream(number: int, dictionary: bytes, data: bytes) -> bytes:
    return (b"%d 0 obj\n<<" % number + dictionary + b"/Length %d>>\nstream\n" % len(data) + data
            + b"\nendstream\nendobj\n")


def test_pdf_flate_metadata_stream() -> None:
    body = b"%PDF-1.7\n" + pdf_stream(5, b"/Type/Metadata/Subtype/XML/Filter/FlateDecode", zlib.compress(PACKET))
    markers = scan(body, "application/pdf")
    assert markers.xmp_packets == (PACKET,)
    assert markers.inconclusive == ""


def test_pdf_store_marker_inside_an_object_stream() -> None:
    """A signed PDF rewritten with object streams (qpdf --object-streams=generate): the filespec is compressed."""
    objects = b"7 0 8 60 <</Type/Filespec/AFRelationship/C2PA_Manifest>> <</Subtype/application#2Fc2pa>>"
    body = b"%PDF-1.7\n" + pdf_stream(3, b"/Type /ObjStm /N 2 /First 8 /Filter /FlateDecode", zlib.compress(objects))
    assert b"C2PA_Manifest" not in body
    markers = scan(body, "application/pdf")
    assert markers.has_c2pa


def test_pdf_deflate_bomb_is_bounded_and_inconclusive() -> None:
    bomb = zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)
    assert len(bomb) * PDF_RATIO_LIMIT < 64 * 1024 * 1024
    body = b"%PDF-1.7\n" + pdf_stream(3, b"/Type/ObjStm/N 1/First 4/Filter/FlateDecode", bomb)
    markers = scan(body, "application/pdf")
    assert "cap" in markers.inconclusive
    assert not markers.has_c2pa


@pytest.mark.parametrize(("dictionary", "data", "why"), [
    (b"/Type/ObjStm/Filter/FlateDecode", b"not deflate at all", "does not inflate"),
    (b"/Type/ObjStm/Filter/LZWDecode", b"\x80\x0b\x60", "other than Flate"),
])
def test_pdf_streams_it_cannot_read_are_inconclusive(dictionary: bytes, data: bytes, why: str) -> None:
    markers = scan(b"%PDF-1.5\n" + pdf_stream(2, dictionary, data), "application/pdf")
    assert why in markers.inconclusive


def test_pdf_many_streams_are_bounded() -> None:
    body = b"%PDF-1.5\n" + b"".join(pdf_stream(i, b"/Type/ObjStm", b"1 0 <<>>") for i in range(400))
    assert "more than" in scan(body, "application/pdf").inconclusive


def test_pdf_lying_length_reads_to_endstream() -> None:
    data = zlib.compress(PACKET)
    body = b"%PDF-1.7\n5 0 obj\n<</Type/Metadata/Filter/FlateDecode/Length 99999999>>\nstream\n" + data
    markers = scan(body, "application/pdf")
    assert markers.xmp_packets == (PACKET,)


@pytest.mark.parametrize("body", [
    b"\xff\xd8\xff\xe0\x20\x00 truncated",  # JPEG segment past the end
    b"\x89PNG\r\n\x1a\n\x00\x00\xff\xffIDAT",  # PNG chunk past the end
    b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00\x00\x10\x00\x00moov",  # BMFF box past the end
])
def test_lying_lengths_are_inconclusive(body: bytes) -> None:
    assert scan(body).inconclusive


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([heif(PACKET), JXL + box(b"xml ", PACKET), SVG_NS_ON_ROOT,
                        b"%PDF-1.7\n" + pdf_stream(5, b"/Type/Metadata/Filter/FlateDecode", zlib.compress(PACKET))]),
       st.integers(min_value=0, max_value=400), st.binary(max_size=8))
def test_mutated_containers_never_raise(body: bytes, at: int, junk: bytes) -> None:
    at = min(at, len(body))
    markers = scan(body[:at] + junk + body[at + len(junk):])
    assert all(len(p) <= MAX_PACKET_BYTES for p in markers.xmp_packets)


def _embedded(body: bytes, content_type: str) -> list[tuple[dict[str, str], tuple[str, ...], str]]:
    """(statement, tags, evidence) of every embedded signal of `body` (no manifest reader may be needed)."""
    from consentry.policies.assets.embedded import read_embedded
    from consentry.policies.model import AssetResponse

    def no_reader(body: bytes, content_type: str) -> object:
        raise AssertionError("the pre-scan found no manifest: the reader is not called")

    response = AssetResponse("https://example.com/a", 200, (("Content-Type", content_type),), body)
    return [({p.value: v.value for p, v in s.statement.items()}, tuple(t.value for t in s.tags), s.evidence)
            for s in read_embedded(response, no_reader).signals]  # type: ignore[arg-type]


SVG_WITH_RDF = b'<svg xmlns="http://www.w3.org/2000/svg"><metadata>' + RDF_ONLY + b"</metadata><g/></svg>"


@pytest.mark.parametrize(("body", "content_type"), [
    (SVG_WITH_RDF[:-12], "image/svg+xml"),  # truncated: the document does not parse
    (SVG_WITH_RDF.replace(b"<g/>", b"<g <</g>"), "image/svg+xml"),  # malformed after the metadata
    (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]>' + SVG_WITH_RDF, "image/svg+xml"),  # refused DTD
    (b"\xff\xd8\xff\xe1\x01\x00" + b"http://ns.adobe.com/xap/1.0/\x00" + PACKET[:-40] + b"\xff\xd9", "image/jpeg"),
])
def test_data_mining_named_where_it_cannot_be_read_is_unverifiable(body: bytes, content_type: str) -> None:
    """A withheld consent in XMP that cannot be read never reads as silence: the asset carries an IPTC signal
    tagged unverifiable (CONSENT_ON_UNVERIFIABLE decides), never no signal at all."""
    [(statement, _tags, evidence)] = [s for s in _embedded(body, content_type) if "unverifiable" in s[1]]
    assert statement == {}
    assert "plus:DataMining" in evidence
    assert "cannot be read" in evidence


@pytest.mark.parametrize(("body", "content_type"), [
    (SVG_WITH_RDF, "image/svg+xml"),  # read: a deny, no unverifiable signal beside it
    (b'<svg xmlns="http://www.w3.org/2000/svg"><metadata><rdf:RDF/></metadata><g <</svg>', "image/svg+xml"),
    (b"<svg><text>DataMining is a word here</text></svg>", "image/svg+xml"),  # parses: nothing unread
])
def test_readable_or_absent_data_mining_is_not_unverifiable(body: bytes, content_type: str) -> None:
    assert all("unverifiable" not in tags for _, tags, _ in _embedded(body, content_type))


def test_jpeg_xl_brotli_compressed_xmp_is_read() -> None:
    """A `brob` box holding `xml ` (ISO/IEC 18181-2) is inflated and read like a plain `xml ` box."""
    import brotli

    markers = scan(JXL + box(b"brob", b"xml " + brotli.compress(PACKET)))
    assert markers.xmp_packets == (PACKET,)
    [signal] = xmp.iptc_signals(markers.xmp_packets, "u")
    assert "DMI-PROHIBITED-AIMLTRAINING" in signal.evidence


def test_jpeg_xl_brotli_bomb_is_bounded_and_compressed_store_goes_to_the_reader() -> None:
    import brotli

    bomb = scan(JXL + box(b"brob", b"xml " + brotli.compress(b"<" + b" " * (MAX_PACKET_BYTES + 10))))
    assert bomb.xmp_packets == ()
    assert any("inflates past" in note for note in bomb.notes)
    store = scan(JXL + box(b"brob", b"jumb" + brotli.compress(b"\x00" * 64)))
    assert store.inconclusive  # the c2pa reader is called: a compressed store is never "no manifest"
