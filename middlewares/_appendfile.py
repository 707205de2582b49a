"""Crash-safe append-only output files: the decision log, the WARC and `consentry crawl`'s items.jsonl.

Each record (a JSON line, a WARC gzip member) is handed to the kernel whole, with `os.write` on an
`O_APPEND` descriptor and no user-space buffer, so a SIGKILL leaves every record written before it complete.
A write that fails part-way (ENOSPC, EFBIG, EIO) is undone: the file is truncated back to its length before
the record, so no torn line or member is left; the file then refuses every later record
(`OutputWriteError`), and its owner stops the crawl (`stop_crawl`). Not pure: it owns file descriptors.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["OUTPUT_ERROR_STAT", "AppendOnlyFile", "OutputWriteError", "stop_crawl"]

logger = logging.getLogger(__name__)

#: Scrapy stats key: the first output write error of the crawl (`consentry crawl` exits 1 when it is set).
OUTPUT_ERROR_STAT = "consent/output_error"


class OutputWriteError(OSError):
    """An output file could not take a record; the record is not on disk and the file takes no more."""


class AppendOnlyFile:
    """One output file, appended to one whole record at a time."""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self.error: OutputWriteError | None = None

    def append(self, record: bytes) -> None:
        """Append `record` whole, or leave the file as it was and raise `OutputWriteError`."""
        if self.error is not None:
            raise self.error
        if self._fd is None:
            raise OutputWriteError(f"cannot write the {self.what} {self.path}: it is closed")
        start = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, record)
            if written < len(record):  # a short write (a signal, a nearly full disk): write the rest
                view = memoryview(record)[written:]
                while view:
                    view = view[os.write(self._fd, view):]
        except OSError as exc:
            self._undo(start)
            self.error = OutputWriteError(f"cannot write the {self.what} {self.path}: {exc.strerror or exc}")
            raise self.error from exc

    def _undo(self, start: int) -> None:
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, start)
        except OSError as exc:  # the record's head may remain; readers stop at it
            logger.error("could not truncate %s back to %d bytes: %s", self.path, start, exc)

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def stop_crawl(crawler: Crawler, error: OutputWriteError) -> None:
    """Record the first output error in the stats, log it, and close the spider (once)."""
    stats = crawler.stats
    if stats is not None and stats.get_value(OUTPUT_ERROR_STAT) is None:
        stats.set_value(OUTPUT_ERROR_STAT, str(error))
        logger.error("%s; stopping the crawl", error)
        engine = crawler.engine
        if engine is not None and engine.spider is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason="consent_output_error"))
