"""WARC 1.1 records as bytes, each its own gzip member: what the crawl's archive writer appends.

ISO 28500:2017 (WARC 1.1) §4–§6: a record is the version line, named fields (`WARC-Type`, `WARC-Record-ID`,
`WARC-Date` with microseconds, `WARC-Target-URI`, `WARC-Block-Digest`, `WARC-Payload-Digest`, `Content-Type`,
`Content-Length`), a blank line, the block, and two CRLFs; §5.8/§5.9 digests are `sha1:` + base32. Annex D:
each record is one gzip member (RFC 1952), so a reader can start at any record and a killed writer leaves
every earlier record whole. The HTTP head of a `response`/`request` block is written as warcio writes it
(fields decoded latin-1 by the caller, encoded UTF-8), so archives read back exactly as before this writer.

Why not warcio's writer: it builds several Python objects per record and deflates every member at level 9 with
the default zlib state; a crawl writes two or three records per response, so that cost sat on the crawl's
critical path. Here text is deflated at `GZIP_LEVEL`, and bodies
that are already compressed (`compressible`: JPEG, PNG, video, a Content-Encoding…) are stored in their member
(deflate level 0), which is valid gzip at a copy's cost. `python -m bench.bench_crawl --warc-levels` measures
the choice against warcio's (docs/architecture.md "Performance").
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from consentry.middlewares.adapters.clock import warc_date
from consentry.policies.model import media_type

__all__ = ["COMPRESSED_TYPES", "GZIP_LEVEL", "WarcRecords", "compressible", "http_head"]

#: zlib level of a member whose block compresses (text, JSON, uncompressed media): level 1 deflates text 2–3×
#: faster than 6 (warcio's 9 slower still) for about 5 % of the body more (bench.bench_crawl --warc-levels).
GZIP_LEVEL = 1
#: Media types whose bytes are already compressed: their members are stored (level 0), which costs a copy and a
#: CRC instead of a deflate pass that would gain nothing. A body with a Content-Encoding is stored too.
COMPRESSED_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/heic", "image/heif", "image/jxl",
    "application/zip", "application/gzip", "application/x-gzip", "application/zstd", "application/x-7z-compressed",
    "application/vnd.rar", "font/woff", "font/woff2",
})
_COMPRESSED_PREFIXES = ("video/", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/aac", "audio/webm", "audio/flac")
#: gzip wrapper (16) with the smallest window zlib accepts for deflating (2**9 is raised to 2**10 by zlib).
_GZIP_WBITS_MIN = 16 | 9
_MIN_WINDOW_BITS = 10
#: zlib's MIN_LOOKAHEAD: the window must hold the data plus this margin to find every match a full one would.
_DEFLATE_LOOKAHEAD = 262
#: Members up to this size deflate fastest with memLevel 4; larger ones with zlib's default 8.
_SMALL_MEMBER = 4096
_HTTP_TYPES = {"response": "application/http; msgtype=response", "request": "application/http; msgtype=request"}


def compressible(content_type: str, content_encoding: str = "") -> bool:
    """Whether a body of this media type and Content-Encoding is worth deflating (not already compressed)."""
    if content_encoding.strip().lower() not in ("", "identity"):
        return False
    media = media_type(content_type)
    return media not in COMPRESSED_TYPES and not media.startswith(_COMPRESSED_PREFIXES)


_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 §6
#: Every 10-bit value as two base32 digits: a SHA-1 (160 bits, 32 digits, no padding) is 16 lookups, where
#: Python 3.11's `base64.b32encode` loops over 5-byte groups in Python.
_BASE32_PAIRS = tuple(a + b for a in _BASE32 for b in _BASE32)
_PAIR_SHIFTS = tuple(range(150, -1, -10))


def _digest(data: bytes) -> str:
    """`sha1:` + the base32 of the SHA-1 (WARC 1.1 §5.8, the form every WARC writer uses)."""
    value = int.from_bytes(hashlib.sha1(data, usedforsecurity=False).digest(), "big")
    return "sha1:" + "".join([_BASE32_PAIRS[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


_EMPTY_DIGEST = _digest(b"")

_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # RFC 9562 §5.4: the version and variant bits
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def _record_id() -> str:
    """A `WARC-Record-ID` (§5.2): a random (version 4) UUID URN, as `uuid.uuid4()` makes it without its object."""
    value = int.from_bytes(os.urandom(16), "big") & _UUID_CLEAR | _UUID_SET
    text = f"{value:032x}"
    return f"<urn:uuid:{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}>"


def _compressor(level: int, size: int) -> Any:
    """A gzip deflater for a member of about `size` bytes. zlib's defaults (a 32 KiB window, memLevel 8) make
    every member allocate and clear ~256 KiB of state, which cost more than deflating a page (bench.bench_crawl
    --warc-levels); a window no larger than the data deflates it the same, so small members get a small window
    and hash table. Stored members (level 0) need neither."""
    if level == 0:
        return zlib.compressobj(0, zlib.DEFLATED, _GZIP_WBITS_MIN, 1)
    window = min(zlib.MAX_WBITS, max(_MIN_WINDOW_BITS, (size + _DEFLATE_LOOKAHEAD).bit_length()))
    return zlib.compressobj(level, zlib.DEFLATED, 16 | window, 8 if size > _SMALL_MEMBER else 4)


def http_head(first_line: str, fields: Iterable[tuple[str, str]]) -> bytes:
    """An HTTP message head: the first line, `name: value` lines, a blank line (CRLF endings), UTF-8."""
    lines = [first_line, *(f"{name}: {value}" for name, value in fields), "", ""]
    return "\r\n".join(lines).encode("utf-8")


class WarcRecords:
    """Builds gzip-compressed WARC 1.1 records; every method returns (WARC-Record-ID, member bytes)."""

    def __init__(self, level: int = GZIP_LEVEL) -> None:
        self.level = level

    def _record(
        self, kind: str, fields: Mapping[str, str], block: bytes, payload_digest: str | None, *, store: bool = False
    ) -> tuple[str, bytes]:
        """One record; `payload_digest` is the payload's digest, "" when the payload is the whole block, None
        when the record has no payload digest."""
        record_id = _record_id()
        head = [f"WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Record-ID: {record_id}\r\nWARC-Date: {warc_date()}\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in fields.items())
        block_digest = _digest(block)
        if payload_digest is not None:
            head.append(f"WARC-Payload-Digest: {payload_digest or block_digest}\r\n")
        head.append(f"WARC-Block-Digest: {block_digest}\r\nContent-Length: {len(block)}\r\n\r\n")
        header = "".join(head).encode("utf-8")
        compressor = _compressor(0 if store else self.level, len(header) + len(block) + 4)
        member = compressor.compress(header)
        member += compressor.compress(block)
        member += compressor.compress(b"\r\n\r\n") + compressor.flush()
        return record_id, member

    def warcinfo(self, filename: str, info: Mapping[str, str]) -> tuple[str, bytes]:
        """The `warcinfo` record (§6.2): `name: value` lines, `application/warc-fields`."""
        block = "".join(f"{name}: {value}\r\n" for name, value in info.items()).encode("utf-8")
        return self._record(
            "warcinfo", {"WARC-Filename": filename, "Content-Type": "application/warc-fields"}, block, None
        )  # None: no payload digest (a warcinfo block has no payload)

    def http(
        self,
        kind: str,
        uri: str,
        head: bytes,
        body: bytes,
        extra: Mapping[str, str] | None = None,
        *,
        compress: bool = True,
    ) -> tuple[str, bytes]:
        """A `response` or `request` record (§6.3, §6.4): the HTTP head then `body` (the payload); `compress`
        false stores the member (see `compressible`)."""
        fields = {"WARC-Target-URI": uri, **(extra or {}), "Content-Type": _HTTP_TYPES[kind]}
        digest = _digest(body) if body else _EMPTY_DIGEST
        return self._record(kind, fields, head + body, digest, store=not compress)

    def metadata(
        self, uri: str, payload: bytes, content_type: str, extra: Mapping[str, str] | None = None
    ) -> tuple[str, bytes]:
        """A `metadata` record (§6.6) holding `payload`."""
        fields = {"WARC-Target-URI": uri, **(extra or {}), "Content-Type": content_type}
        return self._record("metadata", fields, payload, "")  # "": the payload is the whole block
