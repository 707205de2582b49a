"""The one clock of the transports: decision timestamps (`fetched_at`, UTC, seconds precision).

The pure core never reads the clock (docs/architecture.md); transports stamp decisions with `now()`. The text
is formatted once per second (a crawl stamps several decisions and checks per response).
"""

from __future__ import annotations

import datetime as dt
import time

__all__ = ["now"]

_formatted: tuple[int, str] = (-1, "")


def now() -> str:
    """The current UTC time as the record's `fetched_at` (seconds precision)."""
    global _formatted
    second = int(time.time())
    if _formatted[0] != second:
        stamp = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _formatted = (second, stamp)
    return _formatted[1]
