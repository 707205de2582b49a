"""contentcoding decodes exactly as Scrapy's HttpCompressionMiddleware does in the crawl (differential, through
Scrapy's public `process_response`), and caps what it decodes."""

from __future__ import annotations

import gzip
import io
import zlib

import brotli
import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import ACCEPTED_ENCODINGS, HttpCompressionMiddleware
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from consentry.middlewares.adapters.contentcoding import DecodedTooLarge, decode, split_codings

try:
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

PLAIN = b"<html><head><meta name='robots' content='noai'></head><body>" + b"x" * 5000 + b"</body></html>"


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def _gzip_named(data: bytes) -> bytes:
    """A gzip member whose header carries a file name and modification time (RFC 1952 §2.3.1 FNAME)."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="page.html", mode="wb", fileobj=out, mtime=1) as stream:
        stream.write(data)
    return out.getvalue()


def _bad_crc(member: bytes) -> bytes:
    """`member` with its CRC-32 trailer field changed (RFC 1952 §2.3.1: CRC32, then ISIZE)."""
    return member[:-8] + bytes([member[-8] ^ 0xFF]) + member[-7:]


CASES = {
    "gzip": ("gzip", gzip.compress(PLAIN)),
    "x-gzip": ("x-gzip", gzip.compress(PLAIN)),
    "deflate-zlib": ("deflate", zlib.compress(PLAIN)),
    "deflate-raw": ("deflate", _raw_deflate(PLAIN)),
    "br": ("br", brotli.compress(PLAIN)),
    "zstd": ("zstd", zstd.compress(PLAIN)),
    "gzip-then-br": ("gzip, br", brotli.compress(gzip.compress(PLAIN))),
    "two-headers": ("gzip\x00br", brotli.compress(gzip.compress(PLAIN))),
    "truncated-gzip": ("gzip", gzip.compress(PLAIN)[:-30]),
    "unknown-outer": ("gzip, compress", gzip.compress(PLAIN)),
    "unknown-inner": ("compress, gzip", gzip.compress(PLAIN)),
    "identity": ("identity", PLAIN),
    "trailing-comma": ("gzip,", gzip.compress(PLAIN)),
    "upper-case": ("GZIP", gzip.compress(PLAIN)),
    # one whole member is decoded in one zlib call; every other shape goes through GzipFile, as Scrapy reads it
    "gzip-named": ("gzip", _gzip_named(PLAIN)),
    "gzip-two-members": ("gzip", gzip.compress(PLAIN[:100]) + gzip.compress(PLAIN[100:])),
    "gzip-zero-padding": ("gzip", gzip.compress(PLAIN) + b"\0" * 8),
    "gzip-trailing-garbage": ("gzip", gzip.compress(PLAIN) + b"garbage"),
    "gzip-bad-crc": ("gzip", _bad_crc(gzip.compress(PLAIN))),
}


def _scrapy(values: list[str], body: bytes) -> tuple[bytes, list[str]]:
    middleware = HttpCompressionMiddleware.from_crawler(get_crawler())
    response = Response("https://ex.com/", body=body, headers={"Content-Encoding": values})
    decoded = middleware.process_response(Request("https://ex.com/"), response)
    return decoded.body, [v.decode("latin-1") for v in decoded.headers.getlist("Content-Encoding")]


def _ours(values: list[str], body: bytes) -> tuple[bytes, list[str]]:
    to_decode, to_keep = split_codings(values)
    for coding in to_decode:
        body = decode(body, coding, 0)
    return body, to_keep


@pytest.mark.parametrize("case", sorted(CASES))
def test_decodes_as_the_crawl_decodes(case: str) -> None:
    header, body = CASES[case]
    values = header.split("\x00")
    if "zstd" in header and b"zstd" not in ACCEPTED_ENCODINGS:
        pytest.skip("this Scrapy does not decode zstd (older releases need the optional zstandard package)")
    assert _ours(values, body) == _scrapy(values, body)


def test_plain_body_is_decoded_back() -> None:
    for coding in ("gzip", "deflate", "br", "zstd"):
        assert _ours([coding], CASES[{"deflate": "deflate-zlib"}.get(coding, coding)][1])[0] == PLAIN


def test_the_cap_is_exact_for_a_whole_gzip_member() -> None:
    member = gzip.compress(PLAIN)
    assert decode(member, "gzip", len(PLAIN)) == PLAIN
    with pytest.raises(DecodedTooLarge):
        decode(member, "gzip", len(PLAIN) - 1)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_bomb_stops_at_the_cap(coding: str) -> None:
    bomb = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress, "zstd": zstd.compress}[coding](
        b"\0" * 50_000_000
    )
    assert len(bomb) < 100_000
    with pytest.raises(DecodedTooLarge):
        decode(bomb, coding, 1_000_000)
    assert len(decode(bomb, coding, 0)) == 50_000_000
