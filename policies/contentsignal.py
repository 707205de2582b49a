"""Cloudflare Content Signals (`Content-Signal:` in robots.txt and as a response header)
(docs/signals/content-signal.md). Pure.

Grammar (de facto; no normative ABNF is published):
    content-signal = pair *( "," pair )      ; optional whitespace around pairs, "=" and ","
    pair           = key "=" value           ; key: search / ai-input / ai-train; value: yes / no
Flat vocabulary: `yes` does not extend to child purposes, `no` does (docs/purposes.md).
"""

from __future__ import annotations

from functools import lru_cache

from consentry.policies.model import AssetResponse, Reading, Signal
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

__all__ = ["KEYS", "header_signals", "parse_content_signal"]

#: Content Signals key -> purpose (docs/signals/content-signal.md).
KEYS: dict[str, Purpose] = {
    "search": Purpose.SEARCH,
    "ai-input": Purpose.AI_INPUT,
    "ai-train": Purpose.AI_TRAIN,
}
_VALUES: dict[str, Verdict] = {"yes": Verdict.ALLOW, "no": Verdict.DENY}
_LENIENT_VALUES: dict[str, Verdict] = {"y": Verdict.ALLOW, "n": Verdict.DENY}


def _pair(text: str, statement: dict[Purpose, Verdict], tags: set[Tag], notes: list[str]) -> None:
    """Apply one `key=value` pair to the statement being built."""
    key, equals, raw = (part.strip() for part in text.partition("="))
    if not equals:
        notes.append(f"{text!r} is not key=value: ignored")
        return
    purpose = KEYS.get(key.lower())
    if purpose is None:
        notes.append(f"unknown key {key!r} ignored")
        return
    verdict = _VALUES.get(raw) or _VALUES.get(raw.lower()) or _LENIENT_VALUES.get(raw.lower())
    if verdict is None:
        notes.append(f"{key}={raw!r} is neither yes nor no (unknown)")
        return
    if raw not in _VALUES or key not in KEYS:
        tags.add(Tag.LENIENT)
        notes.append(f"{key}={raw} read leniently as {'yes' if verdict is Verdict.ALLOW else 'no'}")
    if statement.get(purpose, verdict) is not verdict:
        tags.add(Tag.CONFLICT)
        notes.append(f"{key} given twice with different values: no wins")
        verdict = Verdict.DENY
    statement[purpose] = verdict


@lru_cache(maxsize=1024)
def parse_content_signal(value: str) -> Reading:
    """Read one Content-Signal value into a flat statement; never raises."""
    text = value.strip()
    if text.startswith("/"):
        return Reading(notes=(f"{text!r} starts with a path, which Content Signals do not define: ignored",))
    statement: dict[Purpose, Verdict] = {}
    tags: set[Tag] = set()
    notes: list[str] = []
    for pair in text.split(","):
        if pair.strip():
            _pair(pair.strip(), statement, tags, notes)
    return Reading(statement, tuple(sorted(tags)), tuple(notes), hierarchical=False)


def header_signals(response: AssetResponse) -> list[Signal]:
    """A `Content-Signal` response header as one response-scoped signal; [] when absent."""
    values = response.header("content-signal")
    if not values:
        return []
    joined = ", ".join(value.strip() for value in values)
    reading = parse_content_signal(joined)
    notes = reading.notes or (() if reading.statement else ("no known key with value yes or no",))
    return [
        Signal(
            mechanism=Mechanism.CONTENT_SIGNAL_HEADER,
            scope=Scope.RESPONSE,
            source=response.url,
            evidence=f"Content-Signal: {joined}" + "".join(f"; {note}" for note in notes),
            statement=reading.statement,
            tags=reading.tags,
            hierarchical=False,
        )
    ]
