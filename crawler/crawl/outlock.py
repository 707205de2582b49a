"""The output directory lock of `consentry crawl`: one crawl per `-o DIR` at a time.

`DIR/.consentry.lock` is held with an exclusive `flock(2)` for the whole crawl and holds the crawl's pid; a
second crawl into the same directory is refused (`UsageError`, exit 2, naming the other crawl's pid) before
it touches any file there. The kernel releases the lock when the process ends, however it ends (SIGKILL
included), so a stale lock file never blocks a later crawl. A distributed worker locks its own
`DIR/RUN.WORKER.consentry.lock` (`prefix`): workers share DIR, each writing its own files.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from consentry.crawler.errors import UsageError

__all__ = ["LOCK_NAME", "OutputLock"]

LOCK_NAME = ".consentry.lock"


class OutputLock:
    """The lock of one output directory; a context manager."""

    def __init__(self, out_dir: Path, prefix: str = "") -> None:
        self.path = out_dir / (prefix + LOCK_NAME if prefix else LOCK_NAME)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise `UsageError` naming the crawl that holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UsageError(f"-o {self.path.parent}: cannot write there ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UsageError(
                f"{self.path.parent} is in use by another crawl (pid {holder}); choose another -o DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (the file stays; it is free once unlocked)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
