"""The one clock of the transports: decision timestamps (`fetched_at`, UTC, seconds precision) and the WARC
writer's `WARC-Date` (WARC 1.1 §5.4, microseconds).

The pure core never reads the clock (docs/architecture.md); transports stamp decisions with `now()`. The
seconds are formatted once per second (a crawl stamps several decisions, checks and records per response).
"""

from __future__ import annotations

import datetime as dt
import time

__all__ = ["now", "warc_date"]

_formatted: tuple[int, str] = (-1, "")


def _seconds(second: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` of a Unix second, UTC; formatted once per second."""
    global _formatted
    if _formatted[0] != second:
        _formatted = (second, dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return _formatted[1]


def now() -> str:
    """The current UTC time as the record's `fetched_at` (seconds precision)."""
    return _seconds(int(time.time())) + "Z"


def warc_date() -> str:
    """The current UTC time as a `WARC-Date` with microseconds (WARC 1.1 §5.4, W3C-ISO8601)."""
    stamp = time.time()
    second = int(stamp)
    return f"{_seconds(second)}.{int((stamp - second) * 1_000_000):06d}Z"
