"""The one clock of the transports: decision timestamps (`fetched_at`, UTC, seconds precision).

The pure core never reads the clock (docs/architecture.md); transports stamp decisions with `now()`.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["now"]


def now() -> str:
    """The current UTC time as the record's `fetched_at` (seconds precision)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
