"""Byte pre-scan: containers, C2PA store markers (C2PA 2.2 Appendix A), XMP locations,
lying lengths."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.assets.prescan import MAX_PACKET_BYTES, Markers, scan
from tests.provenance_fixtures import (
    jpeg_with_app1_xmp,
    plain_image,
    png_with_itxt_xmp,
    xmp_packet,
)

C2PA_UUID = bytes.fromhex("6332706100110010800000aa00389b71")
PACKET = xmp_packet('p:x="1"/>')


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def riff(form: bytes, *chunks: tuple[bytes, bytes]) -> bytes:
    body = b"".join(k + struct.pack("<I", len(d)) + d + b"\x00" * (len(d) & 1) for k, d in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + form + body


def app11_c2pa(sequence: int = 1, instance: bytes = b"\x00\x01") -> bytes:
    """One JPEG XT APP11 segment: JP, En, Z, then the jumb superbox with the c2pa description."""
    jumd = box(b"jumd", C2PA_UUID + b"\x03c2pa\x00")
    payload = (
        b"JP" + instance + struct.pack(">I", sequence) + struct.pack(">I", 8 + len(jumd)) + b"jumb" + jumd
    )
    return b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload


def jpeg(*segments: bytes) -> bytes:
    return b"\xff\xd8" + b"".join(segments) + b"\xff\xda\x00\x02" + b"\x11" * 64 + b"\xff\xd9"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_SIG = b"\x89PNG\r\n\x1a\n"
IHDR = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))

CONTAINERS = [
    ("jpeg-app11", jpeg(app11_c2pa()), "jpeg", True),
    ("jpeg-plain", jpeg(), "jpeg", False),
    (
        "png-cabx",
        PNG_SIG + IHDR + png_chunk(b"caBX", box(b"jumb", b"")) + png_chunk(b"IEND", b""),
        "png",
        True,
    ),
    ("png-plain", PNG_SIG + IHDR + png_chunk(b"IEND", b""), "png", False),
    ("webp-c2pa", riff(b"WEBP", (b"VP8 ", b"\x00" * 10), (b"C2PA", b"jumb")), "webp", True),
    ("wav-c2pa", riff(b"WAVE", (b"fmt ", b"\x00" * 16), (b"C2PA", b"jumbc2pa")), "wav", True),
    ("webp-plain", riff(b"WEBP", (b"VP8 ", b"\x00" * 10)), "webp", False),
    (
        "mp4-uuid",
        box(b"ftyp", b"isom\x00\x00\x00\x00")
        + box(b"uuid", bytes.fromhex("d8fec3d61b0e483c92975828877ec481")),
        "bmff",
        True,
    ),
    ("mp4-plain", box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"mdat", b"\x00" * 32), "bmff", False),
    ("gif-c2pa", b"GIF89a" + b"\x00" * 7 + b"\x21\xff\x0bC2PA_GIF\x00\x00\x00", "gif", True),
    ("gif-plain", b"GIF89a" + b"\x00" * 20 + b";", "gif", False),
    ("tiff-jumbf", b"II*\x00\x08\x00\x00\x00" + b"jumb" + C2PA_UUID, "tiff", True),
    (
        "mp3-geob",
        b"ID3\x04\x00\x00\x00\x00\x00\x30GEOB\x00\x00\x00\x20\x00\x00\x00application/c2pa\x00",
        "mp3",
        True,
    ),
    ("flac-plain", b"fLaC\x00\x00\x00\x22" + b"\x00" * 34, "flac", False),
    ("pdf-af", b"%PDF-1.7\n1 0 obj<</AFRelationship/C2PA_Manifest/Subtype/application#2Fc2pa>>", "pdf", True),
    ("pdf-plain", b"%PDF-1.4\n%%EOF", "pdf", False),
    (
        "epub-c2pa",
        b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/epub+zip" + b"META-INF/content_credential.c2pa",
        "epub",
        True,
    ),
    ("zip-plain", b"PK\x03\x04" + b"\x00" * 40, "zip", False),
    (
        "svg-c2pa",
        b'<svg xmlns="http://www.w3.org/2000/svg"><metadata><c2pa:manifest>AA==</c2pa:manifest></metadata></svg>',
        "svg",
        True,
    ),
    ("sidecar", struct.pack(">I", 40) + b"jumb" + box(b"jumd", C2PA_UUID), "c2pa", True),
    ("html", b"<!doctype html><title>x</title>", "unknown", False),
    ("empty", b"", "unknown", False),
]


@pytest.mark.parametrize(
    ("name", "body", "container", "has_c2pa"), CONTAINERS, ids=[c[0] for c in CONTAINERS]
)
def test_container_and_store_marker(name, body, container, has_c2pa) -> None:
    markers = scan(body)
    assert (markers.container, markers.has_c2pa) == (container, has_c2pa)


def test_svg_by_content_type() -> None:
    assert scan(b'<?xml version="1.0"?><svg/>', "image/svg+xml; charset=utf-8").container == "svg"


@pytest.mark.parametrize("name", ["cawg-mixed.jpg", "cawg-allowed.png", "cawg-notallowed.webp"])
def test_real_signed_assets(signed_assets, name) -> None:
    markers = scan(signed_assets[name])
    assert markers.has_c2pa
    assert markers.c2pa_stores == 1
    assert markers.notes == ()


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_plain_pillow_images_have_no_store(fmt) -> None:
    markers = scan(plain_image(fmt))
    assert markers == Markers(fmt, False, (), (), 0)


def test_two_jpeg_stores_are_counted() -> None:
    markers = scan(jpeg(app11_c2pa(1, b"\x00\x01"), app11_c2pa(2, b"\x00\x01"), app11_c2pa(1, b"\x00\x02")))
    assert (markers.has_c2pa, markers.c2pa_stores) == (True, 2)


def test_jpeg_app1_xmp() -> None:
    assert scan(jpeg_with_app1_xmp(plain_image("jpeg"), PACKET)).xmp_packets == (PACKET,)


def test_jpeg_extended_xmp_is_reassembled() -> None:
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    ext = b"<x:xmpmeta>extended</x:xmpmeta>"

    def segment(offset: int, data: bytes) -> bytes:
        payload = (
            b"http://ns.adobe.com/xmp/extension/\x00" + guid + struct.pack(">II", len(ext), offset) + data
        )
        return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload

    markers = scan(jpeg(segment(12, ext[12:]), segment(0, ext[:12])))
    assert markers.xmp_packets == (ext,)


def test_png_itxt_plain_and_compressed() -> None:
    png = plain_image("png")
    assert scan(png_with_itxt_xmp(png, PACKET)).xmp_packets == (PACKET,)
    compressed = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(PACKET)
    body = PNG_SIG + IHDR + png_chunk(b"iTXt", compressed) + png_chunk(b"IEND", b"")
    assert scan(body).xmp_packets == (PACKET,)


def test_png_zlib_bomb_is_bounded() -> None:
    bomb = zlib.compress(b"<" * (MAX_PACKET_BYTES * 4))
    body = (
        PNG_SIG
        + IHDR
        + png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + bomb)
        + png_chunk(b"IEND", b"")
    )
    markers = scan(body)
    assert markers.xmp_packets == ()
    assert any("ignored" in note for note in markers.notes)


def test_webp_and_bmff_xmp() -> None:
    assert scan(riff(b"WEBP", (b"XMP ", PACKET))).xmp_packets == (PACKET,)
    uuid_xmp = box(b"uuid", bytes.fromhex("be7acfcb97a942e89c71999491e3afac") + PACKET)
    assert scan(box(b"ftyp", b"mif1") + uuid_xmp).xmp_packets == (PACKET,)
    moov = box(b"moov", box(b"udta", box(b"XMP_", PACKET)))
    assert scan(box(b"ftyp", b"qt  ") + moov).xmp_packets == (PACKET,)


def test_generic_packet_scan_for_pdf_and_gif() -> None:
    assert scan(b"%PDF-1.7\nstream\n" + PACKET + b"\nendstream").xmp_packets == (PACKET,)
    assert scan(b"GIF89a" + b"\x00" * 10 + b"XMP DataXMP" + PACKET).xmp_packets == (PACKET,)


#: (name, body, whether a store marker is in the part we have: then the reader is asked, and fails loudly)
LYING = [
    (
        "jpeg-segment-too-long",
        b"\xff\xd8\xff\xe1\xff\xff" + b"http://ns.adobe.com/xap/1.0/\x00" + PACKET,
        False,
    ),
    ("jpeg-zero-length", b"\xff\xd8\xff\xe1\x00\x00" + b"\x00" * 20, False),
    ("jpeg-app11-truncated", jpeg(app11_c2pa())[:34], True),
    ("png-chunk-4gb", PNG_SIG + struct.pack(">I", 0xFFFFFFFF) + b"caBX" + b"\x00" * 10, True),
    ("png-text-4gb", PNG_SIG + struct.pack(">I", 0xFFFFFFFF) + b"tEXt" + b"\x00" * 10, False),
    ("riff-chunk-4gb", b"RIFF\xff\xff\xff\xffWEBP" + b"C2PA" + b"\xff\xff\xff\xff" + b"jumb", True),
    ("bmff-box-smaller-than-header", b"\x00\x00\x00\x03ftypisom" + b"\x00" * 20, False),
    (
        "bmff-largesize-huge",
        box(b"ftyp", b"isom") + struct.pack(">I", 1) + b"uuid" + struct.pack(">Q", 2**63),
        False,
    ),
    ("bmff-nested-lie", box(b"ftyp", b"isom") + box(b"moov", struct.pack(">I", 9999) + b"udta"), False),
]


@pytest.mark.parametrize(("name", "body", "marker"), LYING, ids=[n for n, _, _ in LYING])
def test_lying_lengths_stop_the_walk(name, body, marker) -> None:
    markers = scan(body)
    assert markers.notes, "a lying length must be noted"
    assert markers.has_c2pa is marker
    assert markers.xmp_packets == ()


def test_truncated_signed_jpeg_keeps_the_marker(signed_assets) -> None:
    body = signed_assets["cawg-mixed.jpg"]
    markers = scan(body[: len(body) // 3])
    assert markers.has_c2pa


def test_many_tiny_chunks_terminate() -> None:
    body = PNG_SIG + png_chunk(b"tEXt", b"") * 200_000
    assert scan(body).container == "png"


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            b"",
            b"\xff\xd8\xff",
            PNG_SIG,
            b"RIFF\x00\x00\x00\x00WEBP",
            b"\x00\x00\x00\x10ftyp",
            b"GIF89a",
            b"%PDF-",
        ]
    ),
    st.binary(max_size=600),
)
def test_never_raises(prefix: bytes, tail: bytes) -> None:
    markers = scan(prefix + tail)
    assert isinstance(markers.has_c2pa, bool)
    assert all(len(p) <= MAX_PACKET_BYTES for p in markers.xmp_packets)
