"""fastwarc side of the audit's WARC reader: the ordinary records of a WARC, fast (docs/cli.md).

Not pure (it reads files). Converts only records it can vouch for — digests verified, bodies complete, one
record per gzip member, blank lines after each record — and hands anything else (from that record on) back to
`consentry.crawler.audit.readers.warcioreader`, which reports damage exactly as before. A record is committed only once the next one
has been read cleanly, so a record whose end is damaged is re-read by warcio.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import IO, Any

from fastwarc.stream_io import GzipReader
from fastwarc.warc import ArchiveIterator, WarcRecordType

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
    revisit_http,
)
from consentry.middlewares.adapters.warcformat import is_metadata_json

__all__ = ["FastRecords"]

_HTTP = ("http:", "https:")
_RESPONSE, _REQUEST, _METADATA = WarcRecordType.response, WarcRecordType.request, WarcRecordType.metadata
_WARCINFO, _UNKNOWN = WarcRecordType.warcinfo, (WarcRecordType.unknown, WarcRecordType.no_type)
_REVISIT = WarcRecordType.revisit
_Converted = Info | Capture | Seen | Revisit | RequestEntry | DecisionEntry | FetchFailure | None


class _Handoff(Exception):
    """This record is warcio's to read."""


def _text(pair: tuple[bytes, bytes]) -> tuple[str, str]:
    """A header field decoded as warcio does: UTF-8, else ISO-8859-1."""
    try:
        return pair[0].decode(), pair[1].decode()
    except UnicodeDecodeError:
        return pair[0].decode("latin-1"), pair[1].decode("latin-1")


def _verified(value: str | None, verify: Any) -> None:
    """Hand off unless the digest field `value` is absent or a SHA-1 that matches."""
    if value is not None and not (value.startswith("sha1:") and verify(consume=False)):
        raise _Handoff


class FastRecords:
    """Reads a WARC from its start with fastwarc, committing each record it can vouch for; `complete` tells
    whether it reached the end. If not, warcio re-reads the file, skipping the records already committed."""

    def __init__(
        self, handle: IO[bytes], *, gzipped: bool, body_cap: int, keep: Callable[[str], bool] | None = None
    ) -> None:
        self.handle, self.gzipped, self.body_cap, self.keep = handle, gzipped, body_cap, keep
        self.complete = False

    def __iter__(self) -> Iterator[tuple[int, _Converted]]:
        """(record offset, value) of every committed record."""
        self.handle.seek(0)
        source: Any = GzipReader(self.handle) if self.gzipped else self.handle
        pending: tuple[int, _Converted] | None = None
        try:
            for record in ArchiveIterator(source, parse_http=False):
                start = source.frame_start_position() if self.gzipped else record.stream_pos
                if pending is not None:
                    if not self._clean_boundary(pending[0], start):
                        return
                    yield pending
                pending = None
                pending = (start, self._convert(record))
        except (_Handoff, OSError, ValueError, EOFError):
            return
        if pending is not None:
            yield pending
        self.complete = True

    def _clean_boundary(self, previous: int, start: int) -> bool:
        """One record per gzip member; uncompressed, the record before ends in a blank line."""
        if start is None or start <= previous:
            return False
        if self.gzipped:
            return True
        before = os.pread(self.handle.fileno(), 4, start - 4)
        return before.endswith((b"\r\n\r\n", b"\n\n"))

    def _convert(self, record: Any) -> _Converted:
        kind = record.record_type
        # WARC fields by lower-cased name, the first of duplicates (warcio's `get_header`), read once.
        headers = {k.lower(): v for k, v in reversed(record.headers.items())}
        uri = (headers.get("warc-target-uri") or "").strip("<>")
        if kind == _RESPONSE:
            return self._capture(record, headers, uri)
        if kind == _REQUEST:
            referer = _http(record).get("Referer") if _has_http(record, uri) else None
            _drain(record, 0)
            return RequestEntry(headers.get("warc-concurrent-to"), uri, referer)
        if kind == _METADATA and is_metadata_json(headers.get("content-type")):
            payload = record.reader.read(1 << 22)
            _drain(record, len(payload))
            ids = (headers.get("warc-record-id") or "", headers.get("warc-concurrent-to"))
            return decision_entry(*ids, uri, headers.get("warc-date") or "", payload)
        if kind == _REVISIT:
            block = record.reader.read(1 << 16)
            _drain(record, len(block))
            status, http = revisit_http(block if uri.startswith(_HTTP) else b"")
            return Revisit(uri, headers.get("warc-record-id") or "", headers.get("warc-date") or "",
                           headers.get("warc-refers-to"), headers.get("warc-payload-digest"), status, http)
        if kind == _WARCINFO:
            payload = record.reader.read(1 << 20)
            _drain(record, len(payload))
            return Info(parse_fields(payload))
        if kind in _UNKNOWN:
            raise _Handoff
        _drain(record, 0)
        return None

    def _capture(self, record: Any, fields: dict[str, str], uri: str) -> Capture | Seen | None:
        if self.keep is not None and not self.keep(uri):
            _drain(record, 0)
            return Seen(uri, fields.get("warc-record-id") or "", fields.get("warc-payload-digest"))
        if record.content_length > self.body_cap or "warc-segment-number" in fields:
            raise _Handoff  # huge bodies are streamed and hashed by warcio, never held
        if not _has_http(record, uri):
            _drain(record, 0)
            return None
        _verified(fields.get("warc-block-digest"), record.verify_block_digest)
        http = _http(record)
        _verified(fields.get("warc-payload-digest"), record.verify_payload_digest)
        body = record.reader.read()
        if len(body) != record.content_length:
            raise _Handoff
        _, _, line = (http.status_line or "").partition(" ")
        try:
            status = int(line.strip().split(" ", 1)[0] or 0)
        except ValueError:
            raise _Handoff from None
        pairs = http.items_bytes()
        try:  # a header field decoded as warcio does: UTF-8 (all fields at once, the usual case), else per field
            headers = tuple((name.decode(), value.decode()) for name, value in pairs)
        except UnicodeDecodeError:
            headers = tuple(_text(pair) for pair in pairs)
        ids = (uri, fields.get("warc-record-id") or "", fields.get("warc-date") or "")
        return make_capture(
            ids, status, headers, (body, len(body), None), problems=[], body_cap=self.body_cap,
            payload_digest=fields.get("warc-payload-digest"),
        )


def _has_http(record: Any, uri: str) -> bool:
    """Whether warcio would parse HTTP headers here (an http(s) URI and a block); hand off if fastwarc won't."""
    if not uri.startswith(_HTTP) or record.content_length == 0:
        return False
    if not record.is_http:
        raise _Handoff
    return True


def _http(record: Any) -> Any:
    record.parse_http()
    return record.http_headers


def _drain(record: Any, done: int) -> None:
    """Read the rest of the record (never held); hand off when the file ends inside it."""
    reader = record.reader
    while chunk := reader.read(1 << 16):
        done += len(chunk)
    if done != record.content_length:
        raise _Handoff
