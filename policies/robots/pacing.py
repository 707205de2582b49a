"""How fast our group of robots.txt asks to be crawled: `Crawl-delay` and `Request-rate` (docs/signals/robots.md).

Pure. Neither record is defined by RFC 9309; both are "other records" (§2.2.4) that many crawlers honour:

    crawl-delay  = *WS "crawl-delay" *WS ":" *WS seconds EOL          ; e.g. `Crawl-delay: 2`, `Crawl-delay: 0.5`
    request-rate = *WS "request-rate" *WS ":" *WS n "/" m [unit] [*WS time-window] EOL
                                                                       ; e.g. `Request-rate: 1/5`, `1/10s`, `3/1m`

`Request-rate: n/m` (unit `s`, `m`, `h`; seconds when absent) asks for at most n requests every m units, i.e.
one request every m/n seconds; its optional visiting window (`0600-0845`) is ignored. Only the records of the
groups that apply to our product token count (RFC 9309 §2.2.1); when several lines give a pace, the slowest
wins (the conservative reading). A malformed value is ignored with a warning, never an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from consentry.policies.robots.groups import Line

__all__ = ["Pacing", "pacing_from"]

_RATE = re.compile(r"(?i)^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smh]?)\b")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class Pacing:
    """The interval robots.txt asks for between two requests to the origin (None: it asks for none)."""

    delay: float | None = None
    evidence: str = ""
    warnings: tuple[str, ...] = ()


def _crawl_delay(value: str) -> float | None:
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _request_rate(value: str) -> float | None:
    match = _RATE.match(value)
    if match is None or int(match.group(1)) == 0:
        return None
    period = float(match.group(2)) * _UNIT_SECONDS[match.group(3).lower()]
    return period / int(match.group(1)) if math.isfinite(period) else None


_READERS = {"crawl-delay": _crawl_delay, "request-rate": _request_rate}


def pacing_from(records: Iterable[Line]) -> Pacing:
    """The pace asked by the `Crawl-delay` and `Request-rate` lines among `records` (our groups' records)."""
    best: tuple[float, Line] | None = None
    warnings: list[str] = []
    for line in records:
        reader = _READERS.get(line.field)
        if reader is None:
            continue
        seconds = reader(line.value)
        if seconds is None:
            warnings.append(f"line {line.number}: {line.text}: not a valid {line.field} value (ignored)")
        elif best is None or seconds > best[0]:
            best = (seconds, line)
    if best is None:
        return Pacing(warnings=tuple(warnings))
    seconds, line = best
    return Pacing(seconds, f"line {line.number}: {line.text} ({seconds:g} s between requests)", tuple(warnings))
