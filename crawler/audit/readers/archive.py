"""Streaming WARC reader for `consentry audit`: records in, small typed values out (docs/cli.md).

Not pure (it reads files). Gzip-per-record and uncompressed WARC 1.0/1.1 are read with fastwarc
(`consentry.crawler.audit.readers.fastwarcreader`) while records are ordinary; ARC files, damaged stretches and huge payloads with warcio
(`consentry.crawler.audit.readers.warcioreader`), which reports damage per record and resynchronises on the next gzip member /
`WARC/1.` line, then hands back to fastwarc at the next clean record boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
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


class WarcReader:
    """Iterates one WARC file as `Info`, `Capture`, `RequestEntry`, `DecisionEntry` and `Damage` values."""

    def __init__(self, path: Path, *, body_cap: int) -> None:
        self.path = path
        self.body_cap = body_cap
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
            handle.close()
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
        with self._open() as handle:
            gzipped = handle.read(3) == GZIP_MAGIC
            self._skip = 0
            if not self.arc:
                records = FastRecords(handle, gzipped=gzipped, body_cap=self.body_cap)
                for position, item in records:
                    self.position = position
                    self.records += 1
                    if item is not None:
                        yield item
                if records.complete and self.records:
                    return
                self._skip = self.records  # warcio reads on after the records fastwarc committed
            yield from self._slow(handle, gzipped)
            if self.records == 0:
                raise UnusableArchive(f"{self.path}: no WARC records")

    def _slow(self, handle: IO[bytes], gzipped: bool) -> Iterator[Item]:
        """warcio from the start (past the first `_skip` records), resynchronising after damage."""
        offset: int | None = 0
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
                offset = resync(handle, failed_at + 1, gzipped)
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
            item = convert(record, self.body_cap)
            if item is not None:
                last_id = getattr(item, "record_id", None)
                yield item
        if iterator.err_count != errors:
            yield Damage(self.position, _LENGTH, last_id)
