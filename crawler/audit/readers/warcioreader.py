"""warcio side of the audit's WARC reader: ARC files, damaged records, huge payloads (docs/cli.md, "audit").

Not pure (it reads files). One record at a time: a response body is read up to a cap (the rest is hashed, never
held), damage (truncated gzip members, wrong Content-Length, digest mismatch, unparsable headers) is reported per
record, and after a parse failure the caller resynchronises on the next gzip member / `WARC/1.` line.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, cast

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from consentry.crawler.audit.records import (
    Capture,
    DecisionEntry,
    FetchFailure,
    Info,
    RequestEntry,
    Revisit,
    Seen,
    decision_entry,
    make_capture,
    parse_fields,
    reason,
)
from consentry.middlewares.adapters.warcformat import is_metadata_json

__all__ = [
    "GZIP_MAGIC",
    "READ_ERRORS",
    "convert",
    "quiet_records",
    "read_reason",
    "resync",
    "starts_like_an_archive",
]

_CHUNK = 1 << 16
GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."
READ_ERRORS = (
    ArchiveLoadFailed, zlib.error, EOFError, ValueError, KeyError, IndexError, TypeError, OSError, AttributeError
)  # AttributeError: warcio on a record header without WARC-Target-URI


def quiet_records(iterator: ArchiveIterator) -> Iterator[Any]:
    """warcio's records, without the warning it prints to stderr for a record not followed by blank lines
    (a wrong Content-Length); its public `err_count` counts those instead."""
    records = iter(iterator)
    while True:
        with contextlib.redirect_stderr(io.StringIO()):
            record = next(records, None)
        if record is None:
            return
        yield record


def read_reason(exc: BaseException) -> str:
    """Why a record could not be read, as one line."""
    if isinstance(exc, ArchiveLoadFailed):
        return "ArchiveLoadFailed: not a WARC/ARC record header"
    return reason(exc)


def convert(
    record: Any, body_cap: int, keep: Callable[[str], bool] | None = None
) -> Info | Capture | Seen | Revisit | RequestEntry | DecisionEntry | FetchFailure | None:
    """One warcio record as the audit's value (None: a record the audit does not use; it is read through).
    A response whose URL `keep` rejects is read through and given as `Seen`."""
    headers = record.rec_headers
    kind = record.rec_type
    if kind == "response" and keep is not None and not keep(_uri(record)):
        record.raw_stream.read()
        return Seen(_uri(record), headers.get_header("WARC-Record-ID") or "",
                    headers.get_header("WARC-Payload-Digest"))
    if kind == "warcinfo":
        return Info(parse_fields(record.content_stream().read(1 << 20)))
    if kind == "response" and record.http_headers is not None:
        return _capture(record, body_cap)
    if kind == "revisit":
        return _revisit(record)
    if kind == "request":
        referer = record.http_headers.get_header("Referer") if record.http_headers is not None else None
        return RequestEntry(headers.get_header("WARC-Concurrent-To"), _uri(record), referer)
    if kind == "metadata" and is_metadata_json(headers.get_header("Content-Type")):
        payload = record.content_stream().read(1 << 22)
        record.raw_stream.read()
        return decision_entry(
            headers.get_header("WARC-Record-ID") or "",
            headers.get_header("WARC-Concurrent-To"),
            _uri(record),
            headers.get_header("WARC-Date") or "",
            payload,
        )
    record.raw_stream.read()
    return None


def _revisit(record: Any) -> Revisit:
    http = record.http_headers
    record.raw_stream.read()
    status, headers = 0, cast("tuple[tuple[str, str], ...]", ())
    if http is not None:
        headers = tuple((str(k), str(v)) for k, v in http.headers)
        with contextlib.suppress(ValueError):
            status = int(http.get_statuscode() or 0)
    get = record.rec_headers.get_header
    return Revisit(_uri(record), get("WARC-Record-ID") or "", get("WARC-Date") or "", get("WARC-Refers-To"),
                   get("WARC-Payload-Digest"), status, headers)


def _capture(record: Any, body_cap: int) -> Capture:
    http = record.http_headers
    problems: list[str] = []
    raw = _read_capped(record.raw_stream, body_cap)
    if getattr(record.raw_stream, "limit", 0):
        problems.append("record truncated: the file ends inside its body")
    checker = getattr(record, "digest_checker", None)
    if checker is not None and checker.passed is False:
        problems.append("WARC digest mismatch: " + "; ".join(str(p) for p in checker.problems))
    headers = tuple((str(k), str(v)) for k, v in http.headers)
    try:
        status = int(http.get_statuscode() or 0)
    except ValueError:
        status = 0
        problems.append(f"unparsable HTTP status line {http.statusline!r}")
    ids = (
        _uri(record),
        record.rec_headers.get_header("WARC-Record-ID") or "",
        record.rec_headers.get_header("WARC-Date") or "",
    )
    return make_capture(ids, status, headers, raw, problems=problems, body_cap=body_cap,
                        payload_digest=record.rec_headers.get_header("WARC-Payload-Digest"))


def _uri(record: Any) -> str:
    return str(record.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")


def starts_like_an_archive(handle: IO[bytes]) -> bytes | None:
    """The first record's opening bytes (decompressed) when it starts with `WARC/` or `filedesc://`, else None."""
    head = handle.read(1 << 16)
    handle.seek(0)
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
        except zlib.error:
            return None
    head = head.lstrip(b"\r\n")
    return head if head.startswith((b"WARC/", b"filedesc://")) else None


def _read_capped(stream: Any, cap: int) -> tuple[bytes, int, str]:
    """The first `cap` bytes, the total length and the SHA-256 of the whole stream (read, never held)."""
    head = stream.read(cap)
    digest = hashlib.sha256(head)
    length = len(head)
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        length += len(chunk)
    return head, length, digest.hexdigest()


def _starts_a_record(handle: IO[bytes], offset: int) -> bool:
    """Whether a gzip member at `offset` decompresses to the start of a WARC record."""
    handle.seek(offset)
    try:
        head = zlib.decompressobj(wbits=31).decompress(handle.read(4096), 16)
    except zlib.error:
        return False
    return head.startswith(_WARC_MAGIC)


def _find(handle: IO[bytes], start: int, magic: bytes) -> int | None:
    handle.seek(start)
    position, tail = start, b""
    while block := handle.read(1 << 20):
        data = tail + block
        found = data.find(magic)
        if found >= 0:
            return position - len(tail) + found
        tail = data[-(len(magic) - 1) :]
        position += len(block)
    return None


def resync(handle: IO[bytes], start: int, gzipped: bool) -> int | None:
    """The offset of the next plausible record start at or after `start`, or None at the end of the file.

    Gzip: a member header that really decompresses to `WARC/…` (a damaged member's deflate data can
    hold the magic bytes by chance); uncompressed: a line starting `WARC/1.`.
    """
    if not gzipped:
        found = _find(handle, start, b"\n" + _WARC_MAGIC)
        return None if found is None else found + 1
    while (found := _find(handle, start, GZIP_MAGIC)) is not None:
        if _starts_a_record(handle, found):
            return found
        start = found + 1
    return None
