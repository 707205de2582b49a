"""Download errors of `consentry crawl`: one line each, counted by reason (docs/cli.md, "crawl: download errors").

Scrapy extension installed by `consentry.crawler.crawl.runner.crawl_settings`. Scrapy logs a request that could
not be downloaded (after its retries) as "Error downloading <GET url>" with the whole traceback, and the retry
middleware adds a "Gave up retrying" line. At the default verbosity this extension rewrites the first into one
line, `download error: URL: REASON` (`connection refused`, `timeout`, `DNS lookup failed`, …), and hides the
second; with `-v` (`CONSENTRY_VERBOSITY` ≥ 1) Scrapy's lines and tracebacks are kept. Either way each error is
counted in the stats as `consentry/download_error/REASON`, which the summary lists.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

__all__ = ["REASON_STAT_PREFIX", "VERBOSITY_SETTING", "DownloadErrorLog", "reason_of"]

#: The Scrapy setting carrying `-v`/`-q` (`consentry.crawler.cli.verbosity`).
VERBOSITY_SETTING = "CONSENTRY_VERBOSITY"
REASON_STAT_PREFIX = "consentry/download_error/"

#: Exception class name (anywhere in its MRO) -> the reason shown; first match in MRO order wins.
_REASONS = {
    "DownloadConnectionRefusedError": "connection refused",  # Scrapy's wrappers of Twisted's errors
    "CannotResolveHostError": "DNS lookup failed",
    "DownloadTimeoutError": "timeout",
    "DownloadFailedError": "connection lost",
    "ResponseDataLossError": "incomplete response",
    "DownloadCancelledError": "cancelled",
    "UnsupportedURLSchemeError": "unsupported URL scheme",
    "ConnectionRefusedError": "connection refused",
    "DNSLookupError": "DNS lookup failed",
    "TCPTimedOutError": "timeout",
    "TimeoutError": "timeout",
    "NoRouteError": "no route to host",
    "ResponseNeverReceived": "connection lost",
    "ConnectionLost": "connection lost",
    "ConnectionDone": "connection lost",
    "ResponseFailed": "connection lost",
    "PotentialDataLoss": "connection lost",
    "SSLError": "TLS error",
}
_SCRAPER = "scrapy.core.scraper"
_RETRY = "scrapy.downloadermiddlewares.retry"


def reason_of(exc: BaseException | None) -> str:
    """The short reason of a download exception (its class name when not a known kind)."""
    if exc is None:
        return "unknown error"
    for cls in type(exc).__mro__:
        if cls.__name__ in _REASONS:
            return _REASONS[cls.__name__]
    module = type(exc).__module__
    return "TLS error" if module.startswith("OpenSSL") else type(exc).__name__


class _OneLine(logging.Filter):
    """On Scrapy's scraper logger: count each download error; at verbosity 0 make it one line."""

    def __init__(self, log: DownloadErrorLog) -> None:
        super().__init__()
        self.log = log

    def filter(self, record: logging.LogRecord) -> bool:
        request = record.args.get("request") if isinstance(record.args, dict) else None
        if request is None or not record.exc_info:
            return True
        reason = reason_of(record.exc_info[1])
        self.log.count(reason)
        if self.log.verbosity < 1:
            record.msg, record.args = "download error: %s: %s", (request.url, reason)
            record.exc_info = record.exc_text = None
        return True


class _NoGaveUp(logging.Filter):
    """On the retry logger at verbosity 0: drop "Gave up retrying" (the download error line follows)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Gave up retrying")


class DownloadErrorLog:
    """Installs the filters for the crawl's lifetime and counts download errors by reason."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.verbosity = crawler.settings.getint(VERBOSITY_SETTING, 0)
        self._filters: list[tuple[logging.Logger, logging.Filter]] = [(logging.getLogger(_SCRAPER), _OneLine(self))]
        if self.verbosity < 1:
            self._filters.append((logging.getLogger(_RETRY), _NoGaveUp()))
        for logger, flt in self._filters:
            logger.addFilter(flt)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Install the filters; removed when the engine stops."""
        log = cls(crawler)
        crawler.signals.connect(log.close, signal=signals.engine_stopped)
        return log

    def count(self, reason: str) -> None:
        """Count one download error."""
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(REASON_STAT_PREFIX + reason)

    def close(self, **_: Any) -> None:
        """Remove the filters."""
        for logger, flt in self._filters:
            logger.removeFilter(flt)
