"""Streaming WARC reader for `consentry audit`: records in, small typed values out (docs/cli.md).

Not pure (it reads files). Gzip-per-record and uncompressed WARC 1.0/1.1 are read with fastwarc
(`consentry.crawler.audit.readers.fastwarcreader`) while records are ordinary; ARC files, damaged stretches and huge payloads with warcio
(`consentry.crawler.audit.readers.warcioreader`), which reports damage per record and resynchronises on the next gzip member /
`WARC/1.` line, then hands back to fastwarc at the next clean record boundary.
"""

from __future__ import annotations

import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

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


def _cut_tail(handle: IO[bytes], start: int) -> Damage | None:
    """Damage when the gzip members from `start` (the last record read) do not all end: a file cut inside
    a member, e.g. one still being written (gowarc's `.warc.gz.open`)."""
    handle.seek(start)
    data = handle.read()
    offset = start
    while data:
        decompressor = zlib.decompressobj(31)
        try:
            while data and not decompressor.eof:
                decompressor.decompress(data[:1 << 20], 1 << 16)
                consumed = min(len(data), 1 << 20) - len(decompressor.unconsumed_tail)
                data = data[consumed:] if not decompressor.eof else decompressor.unused_data + data[consumed:]
        except zlib.error as exc:
            return Damage(offset, f"gzip member at byte {offset} is damaged ({reason(exc)}); its record is lost")
        if not decompressor.eof:
            return Damage(offset, f"the file ends inside the gzip member at byte {offset} (cut, or still being "
                                  "written): its record is lost")
        offset = handle.tell() - len(data)
    return None


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
            if records.complete and self.records:
                if gzipped and (damage := _cut_tail(handle, self.position)) is not None:
                    yield damage
                return
            self._skip = self.records  # warcio reads on after the records fastwarc committed
        yield from self._slow(handle, gzipped)

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

    def _slow(self, handle: IO[bytes], gzipped: bool) -> Iterator[Item]:
        """warcio from the start (past the first `_skip` records), resynchronising after damage."""
        offset: int | None = 0
        tried: set[int] = set()
        while offset is not None:
            handle.seek(offset)
            self._last_start = None
            # ARC conversion only for ARC files: on a WARC, warcio's mixed mode would read a damaged gzip
            # member's garbage as an "ARC record" (random id, date 2999) instead of failing and resyncing.
            iterator = ArchiveIterator(handle, arc2warc=self.arc, check_digests=True)
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
