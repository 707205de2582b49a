"""The decision log: one `consentry.decision/1` JSON line per decision (docs/decision-record.md).

Extension. Each line is handed to the kernel whole (`consentry.middlewares._appendfile`) when the decision is
emitted — before the request is ignored or the item produced — so an interrupted crawl loses no decision it
applied and leaves no torn line. A line that cannot be written (a full disk) is not on disk, the listener
raises `OutputWriteError` — `emit_decision` then withholds the response the decision was about — and the
crawl is stopped (`consentry crawl` exits 1). Stats: `consent/action/<action>`,
`consent/signal/<mechanism>/<verdict>`, `consent/output_error`. Enabled by `CONSENT_LOG_PATH`. In a distributed
crawl each record also carries `run` (put in the payload by `consentry.middlewares._scrapyio.emit_decision`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from consentry.middlewares._appendfile import AppendOnlyFile, OutputWriteError, stop_crawl
from consentry.middlewares._config import consent_settings
from consentry.middlewares.adapters.warcformat import decision_payload
from consentry.middlewares.signals import consent_decision

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from consentry.policies.record import Decision

__all__ = ["DecisionLogExtension", "signal_stat_keys"]

logger = logging.getLogger(__name__)


def signal_stat_keys(decision: Decision) -> list[str]:
    """`consent/signal/<mechanism>/<verdict>` once per signal and distinct verdict it states."""
    keys: list[str] = []
    for signal in decision.signals:
        verdicts = sorted({v.value for v in signal.statement.values()}) or ["unknown"]
        keys.extend(f"consent/signal/{signal.mechanism.value}/{verdict}" for verdict in verdicts)
    return keys


class DecisionLogExtension:
    """Appends every decision to `CONSENT_LOG_PATH` as a JSON line."""

    def __init__(self, path: str, stats: StatsCollector | None = None, crawler: Crawler | None = None) -> None:
        self.path = path
        self.stats = stats
        self.crawler = crawler
        self._file: AppendOnlyFile | None = AppendOnlyFile(path, "decision log")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` without `CONSENT_LOG_PATH` or with `CONSENT_ENABLED = False`."""
        path = consent_settings(crawler.settings).log_path
        if path is None:
            raise NotConfigured("CONSENT_LOG_PATH is not set")
        extension = cls(path, crawler.stats, crawler)
        crawler.signals.connect(extension.log_decision, signal=consent_decision)
        crawler.signals.connect(extension.close, signal=signals.engine_stopped)
        return extension

    def log_decision(self, decision: Decision, payload: bytes | None = None, **_: Any) -> None:
        """Write one whole line (`payload`, the record's JSON, when the sender serialised it), then count it;
        `OutputWriteError` (crawl stopped) when it cannot be written."""
        if self._file is not None:
            line = payload if payload is not None else decision_payload(decision)
            try:
                self._file.append(line + b"\n")
            except OutputWriteError as exc:
                if self.crawler is not None:
                    stop_crawl(self.crawler, exc)
                raise
        if self.stats is not None:
            self.stats.inc_value(f"consent/action/{decision.action.value}")
            for key in signal_stat_keys(decision):
                self.stats.inc_value(key)

    def close(self) -> None:
        """Close the log at the end of the crawl."""
        if self._file is not None:
            self._file.close()
            self._file = None
