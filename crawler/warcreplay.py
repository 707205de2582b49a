"""Streaming WARC reader for `consentry audit`: records in, small typed values out (DESIGN.md "Command line").

Not pure (it reads files). Reads gzip-per-record and uncompressed WARC 1.0/1.1 (and ARC, converted by warcio)
with warcio, one record at a time: a response body is read up to a cap (the rest is hashed, never held),
Content-Encoding is decoded with the code Scrapy's HttpCompressionMiddleware uses in the crawl, and damage
(truncated gzip members, wrong Content-Length, digest mismatch, unparsable headers) is reported per record;
after a parse failure the reader resynchronises on the next gzip member / `WARC/1.` line and goes on.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

__all__ = [
    "Capture",
    "Damage",
    "DecisionEntry",
    "Info",
    "RequestEntry",
    "UnusableArchive",
    "WarcReader",
    "sortable_date",
]

_CHUNK = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."
_READ_ERRORS = (ArchiveLoadFailed, zlib.error, EOFError, ValueError, KeyError, IndexError, TypeError, OSError)


class UnusableArchive(Exception):
    """The file cannot be audited at all (unreadable, empty, not a WARC): exit 2."""


def sortable_date(value: str | None) -> str:
    """A WARC-Date as a string that sorts chronologically across WARC 1.0 (seconds) and 1.1 (fractions)."""
    if not value:
        return ""
    text = value.strip().rstrip("Z")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{(fraction + '000000')[:6]}Z"


@dataclass(slots=True)
class Info:
    """A `warcinfo` record's fields."""

    fields: dict[str, str]


@dataclass(slots=True)
class Capture:
    """One archived HTTP response: headers as archived, body decoded (as the crawl saw it) and capped."""

    url: str
    record_id: str
    date: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    problems: list[str] = field(default_factory=list)
    full_length: int | None = None
    full_sha256: str | None = None

    @property
    def location(self) -> str | None:
        """The `Location` of a redirect hop."""
        if self.status not in (301, 302, 303, 307, 308):
            return None
        found = [v for k, v in self.headers if k.lower() == "location"]
        return found[0] if found else None

    @property
    def content_type(self) -> str:
        """The Content-Type field value ('' when absent)."""
        found = [v for k, v in self.headers if k.lower() == "content-type"]
        return found[-1] if found else ""


@dataclass(slots=True)
class RequestEntry:
    """A `request` record: which response it belongs to and the page that referred it."""

    concurrent_to: str | None
    url: str
    referer: str | None


@dataclass(slots=True)
class DecisionEntry:
    """A `metadata` record holding a JSON payload (a `consentry.decision/1` record, or a problem)."""

    record_id: str
    concurrent_to: str | None
    url: str
    date: str
    record: dict[str, Any] | None
    problem: str | None = None


@dataclass(slots=True)
class Damage:
    """Damage found between records: the record before `offset` (if any) is suspect."""

    offset: int
    message: str
    previous_record_id: str | None = None


class _Iterator(ArchiveIterator):  # type: ignore[misc]
    """warcio's iterator, reporting a record not followed by blank lines instead of printing to stderr."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.length_errors = 0

    def _consume_blanklines(self) -> tuple[bytes | None, int]:
        empty_size, first_line = 0, True
        while True:
            line = self.reader.readline()
            if not line:
                return None, empty_size
            if not line.rstrip() or first_line:
                empty_size += len(line)
                if line.rstrip():
                    self.length_errors += 1
                first_line = False
                continue
            return line, empty_size


def _decode(
    body: bytes, headers: tuple[tuple[str, str], ...], max_size: int
) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """Decode Content-Encoding exactly as the crawl's HttpCompressionMiddleware did; headers adjusted likewise."""
    from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware as Hcm

    values = [v.encode("latin-1") for k, v in headers if k.lower() == "content-encoding"]
    if not values:
        return body, headers
    to_decode, to_keep = Hcm._split_encodings(values)
    for encoding in to_decode:
        body = Hcm._decode(body, encoding, max_size)
    rest = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
    if to_keep:
        index = next(i for i, (k, _) in enumerate(headers) if k.lower() == "content-encoding")
        rest[index:index] = [("Content-Encoding", e.decode("latin-1")) for e in to_keep]
    return body, tuple(rest)


class WarcReader:
    """Iterates one WARC file as `Info`, `Capture`, `RequestEntry`, `DecisionEntry` and `Damage` values."""

    def __init__(self, path: Path, *, body_cap: int) -> None:
        self.path = path
        self.body_cap = body_cap
        self.size = 0
        self.position = 0
        self.records = 0

    def _open(self) -> IO[bytes]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise UnusableArchive(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        self.size = self.path.stat().st_size
        if self.size == 0:
            handle.close()
            raise UnusableArchive(f"{self.path}: empty file, not a WARC")
        if not _starts_like_an_archive(handle):
            handle.close()
            raise UnusableArchive(f"{self.path}: not a WARC file (it does not start with a WARC/ARC record)")
        return handle

    def __iter__(self) -> Iterator[Info | Capture | RequestEntry | DecisionEntry | Damage]:
        with self._open() as handle:
            gzipped = handle.read(3) == _GZIP_MAGIC
            offset, last_id = 0, None
            while offset is not None:
                handle.seek(offset)
                iterator = _Iterator(handle, arc2warc=True, check_digests=True)
                try:
                    for item in self._records(iterator):
                        last_id = getattr(item, "record_id", last_id)
                        yield item
                    offset = None
                except _READ_ERRORS as exc:
                    if self.records == 0:
                        raise UnusableArchive(f"{self.path}: not a WARC file ({_reason(exc)})") from None
                    failed_at = max(iterator.offset, offset)
                    offset = _resync(handle, failed_at + 1, gzipped)
                    where = f"resumed at byte {offset}" if offset is not None else "rest of file skipped"
                    yield Damage(
                        failed_at, f"unreadable record at byte {failed_at} ({_reason(exc)}); {where}"
                    )
            if self.records == 0:
                raise UnusableArchive(f"{self.path}: no WARC records")

    def _records(
        self, iterator: _Iterator
    ) -> Iterator[Info | Capture | RequestEntry | DecisionEntry | Damage]:
        errors = 0
        last_id: str | None = None
        for record in iterator:
            self.position = iterator.offset
            if iterator.length_errors != errors:
                errors = iterator.length_errors
                yield Damage(
                    self.position, "record not followed by blank lines: Content-Length looks wrong", last_id
                )
            self.records += 1
            item = self._convert(record)
            if item is not None:
                last_id = getattr(item, "record_id", None)
                yield item
        if iterator.length_errors != errors:
            yield Damage(
                self.position, "record not followed by blank lines: Content-Length looks wrong", last_id
            )

    def _convert(self, record: Any) -> Info | Capture | RequestEntry | DecisionEntry | None:
        headers = record.rec_headers
        kind = record.rec_type
        if kind == "warcinfo":
            return Info(_fields(record.content_stream().read(1 << 20)))
        if kind == "response" and record.http_headers is not None:
            return self._capture(record)
        if kind == "request":
            referer = record.http_headers.get_header("Referer") if record.http_headers is not None else None
            return RequestEntry(headers.get_header("WARC-Concurrent-To"), _uri(record), referer)
        if kind == "metadata" and "json" in (headers.get_header("Content-Type") or ""):
            return _decision(record)
        record.raw_stream.read()
        return None

    def _capture(self, record: Any) -> Capture:
        http = record.http_headers
        problems: list[str] = []
        raw, length, digest = _read_capped(record.raw_stream, self.body_cap)
        if getattr(record.raw_stream, "limit", 0):
            problems.append("record truncated: the file ends inside its body")
        checker = getattr(record, "digest_checker", None)
        if checker is not None and checker.passed is False:
            problems.append("WARC digest mismatch: " + "; ".join(str(p) for p in checker.problems))
        headers = tuple((str(k), str(v)) for k, v in http.headers)
        try:
            status = int(http.get_statuscode() or 0)
        except ValueError:
            status, _ = 0, problems.append(f"unparsable HTTP status line {http.statusline!r}")
        try:
            body, headers = _decode(raw, headers, self.body_cap)
        except Exception as exc:
            body = b""
            problems.append(f"Content-Encoding could not be decoded: {_reason(exc)}")
        capture = Capture(
            _uri(record),
            record.rec_headers.get_header("WARC-Record-ID") or "",
            record.rec_headers.get_header("WARC-Date") or "",
            status,
            headers,
            body,
            problems,
        )
        if length > len(raw):
            problems.append(f"body of {length} bytes evaluated on its first {len(raw)} bytes")
            capture.full_length, capture.full_sha256 = length, digest
        return capture


def _uri(record: Any) -> str:
    return str(record.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")


def _starts_like_an_archive(handle: IO[bytes]) -> bool:
    """The first record starts with `WARC/` (or an ARC file's `filedesc://`), gzip member or not."""
    head = handle.read(1 << 16)
    handle.seek(0)
    if head.startswith(_GZIP_MAGIC):
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
        except zlib.error:
            return False
    return head.lstrip(b"\r\n").startswith((b"WARC/", b"filedesc://"))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ArchiveLoadFailed):
        return "ArchiveLoadFailed: not a WARC/ARC record header"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _read_capped(stream: Any, cap: int) -> tuple[bytes, int, str]:
    """The first `cap` bytes, the total length and the SHA-256 of the whole stream (read, never held)."""
    head = stream.read(cap)
    digest = hashlib.sha256(head)
    length = len(head)
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        length += len(chunk)
    return head, length, digest.hexdigest()


def _fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def _decision(record: Any) -> DecisionEntry:
    import json

    headers = record.rec_headers
    payload = record.content_stream().read(1 << 22)
    record.raw_stream.read()
    entry = DecisionEntry(
        headers.get_header("WARC-Record-ID") or "",
        headers.get_header("WARC-Concurrent-To"),
        _uri(record),
        headers.get_header("WARC-Date") or "",
        None,
    )
    try:
        value = json.loads(payload)
    except ValueError as exc:
        entry.problem = f"metadata payload is not JSON: {exc}"
        return entry
    if isinstance(value, dict):
        entry.record = value
    else:
        entry.problem = "metadata payload is not a JSON object"
    return entry


def _resync(handle: IO[bytes], start: int, gzipped: bool) -> int | None:
    """The offset of the next plausible record start at or after `start`, or None at the end of the file."""
    magic = _GZIP_MAGIC if gzipped else b"\n" + _WARC_MAGIC
    handle.seek(start)
    position, tail = start, b""
    while block := handle.read(1 << 20):
        data = tail + block
        found = data.find(magic)
        if found >= 0:
            return position - len(tail) + found + (0 if gzipped else 1)
        tail = data[-(len(magic) - 1) :]
        position += len(block)
    return None
