"""Progress of `consentry crawl` on stderr when it is a terminal (docs/cli.md: long work shows
progress): one line, redrawn at most four times a second, with the running counts of decisions and items.

Scrapy extension, added to `EXTENSIONS` (with `CONSENT_PROGRESS = True`) by `consentry crawl` only when
stderr is a TTY.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import IO, TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from consentry.middlewares.signals import consent_decision

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

    from consentry.policies.record import Decision

__all__ = ["CrawlProgress"]

_INTERVAL = 0.25


class CrawlProgress:
    """A running `kept / dropped / skipped / items` line."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.actions: Counter[str] = Counter()
        self.items = 0
        self._drawn = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` unless `CONSENT_PROGRESS` is true."""
        if not crawler.settings.getbool("CONSENT_PROGRESS"):
            raise NotConfigured("CONSENT_PROGRESS is off")
        progress = cls(sys.stderr)
        crawler.signals.connect(progress.decision, signal=consent_decision)
        crawler.signals.connect(progress.item, signal=signals.item_scraped)
        crawler.signals.connect(progress.close, signal=signals.spider_closed)
        return progress

    def line(self) -> str:
        """The current line."""
        a = self.actions
        return f"  {a['keep']} kept, {a['drop']} dropped, {a['skip']} skipped; {self.items} items"

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._drawn >= _INTERVAL:
            self._drawn = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def decision(self, decision: Decision, **_: Any) -> None:
        """Count one decision."""
        self.actions[decision.action.value] += 1
        self._draw()

    def item(self, **_: Any) -> None:
        """Count one item."""
        self.items += 1
        self._draw()

    def close(self, **_: Any) -> None:
        """Draw the final counts and end the line."""
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()
