"""TDMRep in EPUB 2 / EPUB 3 package documents (W3C TDMRep, EPUB technique)."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.assets.epub import MAX_MEMBER_BYTES, opf_tdmrep

CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)
EPUB2 = (
    '<?xml version="1.0" encoding="UTF-8"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0">'
    '<metadata><meta name="tdm:reservation" content="{r}"/><meta name="tdm:policy" content="https://ex.com/p.json"/>'
    "</metadata></package>"
)
EPUB3 = (
    '<?xml version="1.0" encoding="UTF-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" {prefix}>'
    '<metadata><meta property="{p}:reservation">{r}</meta></metadata></package>'
)


def epub(opf: str, *, container: str = CONTAINER, compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("OEBPS/content.opf", opf, compress_type=compress)
    return out.getvalue()


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("0", 0), ("yes", None)])
def test_epub2(raw, expected) -> None:
    reservation, policy, evidence, _ = opf_tdmrep(epub(EPUB2.format(r=raw)))
    assert (reservation, policy) == (expected, "https://ex.com/p.json")
    assert f"tdm:reservation={raw!r}" in evidence


@pytest.mark.parametrize(
    ("prefix", "p", "expected", "lenient"),
    [
        ('prefix="tdm: http://www.w3.org/ns/tdmrep#"', "tdm", 1, False),
        ('prefix="dc: http://purl.org/dc/terms/  rights: http://www.w3.org/ns/tdmrep#"', "rights", 1, False),
        ('prefix="tdm: http://example.com/other#"', "tdm", None, False),  # tdm bound elsewhere
        ("", "tdm", 1, True),  # undeclared prefix: read leniently, noted
    ],
)
def test_epub3_prefix_is_resolved(prefix, p, expected, lenient) -> None:
    declared = opf_tdmrep(epub(EPUB3.format(prefix=prefix, p=p, r="1")))
    assert declared.reservation == expected
    assert declared.lenient is lenient
    assert ("read as TDMRep" in declared.evidence) is lenient  # the site owner is told why


def test_no_tdm_metadata() -> None:
    assert opf_tdmrep(epub('<package xmlns="http://www.idpf.org/2007/opf"><metadata/></package>')) == (None, None, "", False)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"PK\x03\x04garbage", "unreadable"),
        (b"", "unreadable"),
        (epub(EPUB2.format(r="1"), container="<container/>"), "container.xml"),
        (epub(EPUB2.format(r="1"))[:200], "unreadable"),
    ],
)
def test_broken_epubs(body, reason) -> None:
    reservation, policy, evidence, _ = opf_tdmrep(body)
    assert (reservation, policy) == (None, None)
    assert reason in evidence


def test_zip_bomb_member_is_refused() -> None:
    bomb = "<package>" + " " * (MAX_MEMBER_BYTES * 8) + "</package>"
    body = epub(bomb)
    assert len(body) < MAX_MEMBER_BYTES // 10
    reservation, _, evidence, _ = opf_tdmrep(body)
    assert reservation is None
    assert "over" in evidence


def test_entities_in_opf_are_refused() -> None:
    opf = '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + EPUB2.format(r="&x;").split("?>", 1)[1]
    assert opf_tdmrep(epub(opf))[0] is None


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500))
def test_never_raises(data: bytes) -> None:
    assert opf_tdmrep(b"PK\x03\x04" + data)[0] is None
