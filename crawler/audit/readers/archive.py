"""Streaming WARC reader for `consentry audit`: records in, small typed values out (docs/cli.md).

Not pure (it reads files). Gzip-per-record and uncompressed WARC 1.0/1.1 are read with fastwarc
(`consentry.crawler.audit.readers.fastwarcreader`) while records are ordinary; ARC files, damaged stretches and huge payloads with warcio
(`consentry.crawler.audit.readers.warcioreader`), which reports damage per record and resynchronises on the next gzip member /
`WARC/1.` line, then hands back to fastwarc at the next clean record boundary.
"""

from __future__ import annotations

import io
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator

from consentry.crawler.audit.readers.fastwarcreader import FastRecords
from consentry.crawler.audit.readers.warcioreader import (
    GZIP_MAGIC,
    READ_ERRORS,
    convert,
    quiet_records,
    read_reason,
    resync,
    starts_like_an_archive,
)
from consentry.crawler.audit.records import (
    Capture,
    Damage,
    DecisionEntry,
    Info,
    Item,
    RequestEntry,
    UnusableArchive,
    reason,
    sortable_date,
)

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

_BATCH, _BATCH_BYTES = 256, 8 << 20
_LENGTH = "record not followed by blank lines: Content-Length looks wrong"
_OTHER_FORMATS = {
    b"\x04\x22\x4d\x18": "LZ4-compressed, which the audit does not read (decompress it with `lz4 -d` first)",
    b"\x28\xb5\x2f\xfd": "Zstandard-compressed, which the audit does not read (decompress it with `zstd -d` first)",
    b"BZh": "bzip2-compressed, which the audit does not read (decompress it with `bunzip2` first)",
}
_FLAT_MIN = 1 << 30  # a whole-file gzip is decompressed to a temporary file of at most this, or 200x the file
_LENGTH_FIELD = re.compile(rb"(?im)^content-length:[ \t]*(\d+)")


def _member_end(handle: IO[bytes], offset: int) -> tuple[int, str | None]:
    """Where the gzip member at `offset` ends, and what is wrong with it (None: it ends cleanly, CRC checked)."""
    handle.seek(offset)
    decompressor = zlib.decompressobj(31)
    consumed, pending = 0, b""
    while not decompressor.eof:
        if not pending:
            pending = handle.read(1 << 20)
            if not pending:
                return offset + consumed, "is cut short (a file cut, or still being written)"
        try:
            decompressor.decompress(pending, 1 << 20)
        except zlib.error as exc:
            return offset + consumed, f"is damaged ({reason(exc)})"
        tail = decompressor.unconsumed_tail
        consumed += len(pending) - len(tail) - (len(decompressor.unused_data) if decompressor.eof else 0)
        pending = tail
    return offset + consumed, None


def _damaged_members(handle: IO[bytes], start: int, size: int) -> list[tuple[int, str, int | None]]:
    """(offset, what is wrong, next good record's member or None) of every damaged gzip member from `start`.
    A damaged member's decoder can run on into the members after it; this finds where reading must resume."""
    found: list[tuple[int, str, int | None]] = []
    offset: int | None = start
    while offset is not None and offset < size:
        end, problem = _member_end(handle, offset)
        if problem is None:
            offset = end
            continue
        bad, offset = offset, resync(handle, offset + 1, True)
        found.append((bad, problem, offset))
    return found


class _Window(io.RawIOBase):
    """Bytes [start, end) of `handle`, read through without holding them; `tell` is the file's offset."""

    def __init__(self, handle: IO[bytes], start: int, end: int) -> None:
        super().__init__()
        self.handle, self.at, self.end = handle, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.end - self.at)
        if size <= 0:
            return 0
        self.handle.seek(self.at)
        data = self.handle.read(size)
        buffer[: len(data)] = data
        self.at += len(data)
        return len(data)

    def tell(self) -> int:
        return self.at


def _shares_members(handle: IO[bytes]) -> bool:
    """Whether the first gzip member holds more than one record (a whole WARC run through `gzip`)."""
    handle.seek(0)
    try:
        head = zlib.decompressobj(31).decompress(handle.read(1 << 20), 1 << 20)
    except zlib.error:
        return False
    finally:
        handle.seek(0)
    end = head.find(b"\r\n\r\n")
    found = _LENGTH_FIELD.search(head[:end]) if end > 0 else None
    if found is None:
        return False
    return head[end + 4 + int(found.group(1)) :].lstrip(b"\r\n").startswith(b"WARC/")


class WarcReader:
    """Iterates one WARC file as `Info`, `Capture`, `RequestEntry`, `DecisionEntry` and `Damage` values."""

    def __init__(self, path: Path, *, body_cap: int, keep: Callable[[str], bool] | None = None) -> None:
        self.path = path
        self.body_cap = body_cap
        self.keep = keep  # responses whose URL it rejects come as `Seen` (unparsed); None: every one read
        self.size = 0
        self.position = 0
        self.records = 0
        self.arc = False
        self._skip = 0
        self._last_start: int | None = None  # start of the last good record of the current warcio pass

    def _open(self) -> IO[bytes]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise UnusableArchive(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        self.size = self.path.stat().st_size
        if self.size == 0:
            handle.close()
            raise UnusableArchive(f"{self.path}: empty file, not a WARC")
        head = starts_like_an_archive(handle)
        if head is None:
            opening = handle.read(4)
            handle.close()
            other = next((text for magic, text in _OTHER_FORMATS.items() if opening.startswith(magic)), None)
            if other is not None:
                raise UnusableArchive(f"{self.path}: {other}")
            raise UnusableArchive(f"{self.path}: not a WARC file (it does not start with a WARC/ARC record)")
        self.arc = head.startswith(b"filedesc://")
        return handle

    def batches(self) -> Iterator[list[Item]]:
        """The values a few hundred at a time (at most ~8 MiB of bodies): reading, then replaying, a run of
        records keeps each side's code and data in the CPU caches. Memory stays bounded."""
        batch: list[Item] = []
        size = 0
        try:
            for item in self:
                batch.append(item)
                size += len(item.body) if isinstance(item, Capture) else 0
                if len(batch) >= _BATCH or size >= _BATCH_BYTES:
                    yield batch
                    batch, size = [], 0
        except UnusableArchive:
            if batch:  # what was read before the reader gave up is still replayed
                yield batch
            raise
        if batch:
            yield batch

    def __iter__(self) -> Iterator[Item]:
        self.records = 0
        first: Item | None = None
        with self._open() as handle:
            gzipped = handle.read(3) == GZIP_MAGIC
            if gzipped and not self.arc and _shares_members(handle):
                with tempfile.TemporaryFile(prefix="consentry-audit-") as flat:
                    damage = self._flatten(handle, flat)
                    for item in self._read(flat, False):
                        first = first or item
                        yield item
                    if damage is not None:
                        yield damage
            else:
                for item in self._read(handle, gzipped):
                    first = first or item
                    yield item
        if self.records == 0:
            raise UnusableArchive(f"{self.path}: no WARC records")
        if self.records == 1 and isinstance(first, Capture) and any("ends inside" in p for p in first.problems):
            raise UnusableArchive(f"{self.path}: the file ends inside its first record; nothing complete to audit")

    def _read(self, handle: IO[bytes], gzipped: bool) -> Iterator[Item]:
        self._skip = 0
        if not self.arc:
            records = FastRecords(handle, gzipped=gzipped, body_cap=self.body_cap, keep=self.keep)
            for position, item in records:
                self.position = position
                self.records += 1
                if item is not None:
                    yield item
            complete = records.complete and self.records
            if complete and not gzipped:
                return
            last = self.position if self.records else 0
            self._skip = 0 if complete else self.records  # warcio reads on after the records fastwarc committed
            if gzipped:
                # fastwarc's and warcio's decoders both run on from a damaged member into the next ones:
                # the members after the last committed record are checked first, and read around the damage
                damaged = _damaged_members(handle, last, self.size)
                if complete and not damaged:
                    return
                yield from self._around(handle, damaged[0][0] if complete else 0, damaged)
                return
        yield from self._slow(handle, gzipped)

    def _around(self, handle: IO[bytes], start: int, damaged: list[tuple[int, str, int | None]]) -> Iterator[Item]:
        """warcio over the stretches of whole gzip members from `start`, one Damage per damaged member."""
        position: int | None = start
        for bad, problem, resume in [*damaged, (self.size, "", None)]:
            if position is not None and bad > position:
                yield from self._slow(handle, True, position, bad)
            if not problem:
                return
            where = f"resumed at byte {resume}" if resume is not None else "rest of file skipped"
            yield Damage(bad, f"unreadable record at byte {bad}: its gzip member {problem}; {where}")
            if resume is None:
                return
            position = resume

    def _flatten(self, handle: IO[bytes], flat: IO[bytes]) -> Damage | None:
        """Decompress every gzip member of `handle` into `flat` (bounded); the damage that stopped it, if any."""
        handle.seek(0)
        limit = max(_FLAT_MIN, 200 * self.size)
        decompressor, pending, written = zlib.decompressobj(31), b"", 0
        problem = None
        while problem is None:
            pending = pending or handle.read(1 << 20)
            if not pending:
                break
            try:
                chunk = decompressor.decompress(pending, 1 << 20)
            except zlib.error as exc:
                problem = f"gzip data damaged ({reason(exc)})"
                break
            pending = decompressor.unconsumed_tail
            if decompressor.eof:
                pending = decompressor.unused_data + pending
                if pending and not pending.startswith(GZIP_MAGIC[:2]):
                    problem = "bytes after the last gzip member are not gzip"
                decompressor = zlib.decompressobj(31)
            written += len(chunk)
            flat.write(chunk)
            if written > limit:
                problem = f"decompressed size exceeds {limit} bytes"
        flat.flush()
        flat.seek(0)
        if problem is None:
            return None
        return Damage(written, f"whole-file gzip read up to {written} decompressed bytes: {problem}; rest skipped")

    def _slow(self, handle: IO[bytes], gzipped: bool, start: int = 0, end: int | None = None) -> Iterator[Item]:
        """warcio from `start` (past the first `_skip` records) to `end`, resynchronising after damage."""
        offset: int | None = start
        tried: set[int] = set()
        while offset is not None and (end is None or offset < end):
            handle.seek(offset)
            self._last_start = None
            # ARC conversion only for ARC files: on a WARC, warcio's mixed mode would read a damaged gzip
            # member's garbage as an "ARC record" (random id, date 2999) instead of failing and resyncing.
            stream: Any = handle if end is None else io.BufferedReader(_Window(handle, offset, end))
            iterator = ArchiveIterator(stream, arc2warc=self.arc, check_digests=True)
            try:
                yield from self._records(iterator)
                offset = None
            except READ_ERRORS as exc:
                if self.records == 0:
                    raise UnusableArchive(f"{self.path}: not a WARC file ({read_reason(exc)})") from None
                failed_at = self._damaged_member(handle, offset or 0, gzipped)
                if not gzipped and failed_at not in tried and failed_at > (offset or 0):
                    # uncompressed: the record there may be whole (the one before overran into it): retry it
                    offset = failed_at
                else:
                    offset = resync(handle, failed_at + 1, gzipped)
                tried.add(failed_at)
                where = f"resumed at byte {offset}" if offset is not None else "rest of file skipped"
                yield Damage(
                    failed_at, f"unreadable record at byte {failed_at} ({read_reason(exc)}); {where}"
                )

    def _damaged_member(self, handle: IO[bytes], offset: int, gzipped: bool) -> int:
        """Where the unreadable record starts: the first record start after the last good one of this pass
        (not where the reader stopped — a damaged gzip member's decoder can run on into the next member)."""
        if self._last_start is None:
            return offset
        found = resync(handle, self._last_start + 1, gzipped)
        return found if found is not None else self._last_start

    def _records(self, iterator: ArchiveIterator) -> Iterator[Item]:
        errors = 0
        last_id: str | None = None
        for record in quiet_records(iterator):
            self.position = iterator.offset
            self._last_start = iterator.offset
            if iterator.err_count != errors:
                errors = iterator.err_count
                yield Damage(self.position, _LENGTH, last_id)
            if self._skip:  # already read by fastwarc
                self._skip -= 1
                continue
            self.records += 1
            item = convert(record, self.body_cap, self.keep)
            if item is not None:
                last_id = getattr(item, "record_id", None)
                yield item
        if iterator.err_count != errors:
            yield Damage(self.position, _LENGTH, last_id)
