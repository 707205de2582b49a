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

import base64
import hashlib
import uuid
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

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
_GZIP_WBITS = zlib.MAX_WBITS | 16
_HTTP_TYPES = {"response": "application/http; msgtype=response", "request": "application/http; msgtype=request"}


def compressible(content_type: str, content_encoding: str = "") -> bool:
    """Whether a body of this media type and Content-Encoding is worth deflating (not already compressed)."""
    if content_encoding.strip().lower() not in ("", "identity"):
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media not in COMPRESSED_TYPES and not media.startswith(_COMPRESSED_PREFIXES)


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode("ascii")


_EMPTY_DIGEST = _digest(b"")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        record_id = f"<urn:uuid:{uuid.uuid4()}>"
        head = [f"WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Record-ID: {record_id}\r\nWARC-Date: {_now()}\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in fields.items())
        block_digest = _digest(block)
        if payload_digest is not None:
            head.append(f"WARC-Payload-Digest: {payload_digest or block_digest}\r\n")
        head.append(f"WARC-Block-Digest: {block_digest}\r\nContent-Length: {len(block)}\r\n\r\n")
        compressor = zlib.compressobj(0 if store else self.level, zlib.DEFLATED, _GZIP_WBITS)
        member = compressor.compress("".join(head).encode("utf-8"))
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
