"""Per-statement inheritance and cross-mechanism combination (docs/purposes.md).

Pure. Inside one statement an unstated purpose takes the value of its nearest stated ancestor, but an
inherited ALLOW only propagates from hierarchical vocabularies; an inherited DENY always does. Across
statements, per purpose: DENY > ALLOW > UNKNOWN (AIPREF "Combining Preferences").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from consentry.policies.model import Signal
from consentry.policies.vocabulary import PARENT, PURPOSES, Purpose, Verdict

__all__ = ["Combination", "combine", "resolve"]


def resolve(statement: Mapping[Purpose, Verdict], *, hierarchical: bool) -> dict[Purpose, Verdict]:
    """A full assignment over every purpose from one statement (docs/purposes.md "One statement")."""
    out: dict[Purpose, Verdict] = {}
    for purpose in PURPOSES:
        value = statement.get(purpose)
        node = purpose
        while value in (None, Verdict.UNKNOWN):
            parent = PARENT[node]
            if parent is None:
                break
            node = parent
            inherited = statement.get(node)
            if inherited is Verdict.DENY or (inherited is Verdict.ALLOW and hierarchical):
                value = inherited
            elif inherited is Verdict.ALLOW:
                break  # a flat vocabulary's ALLOW does not leak downwards
        out[purpose] = value if value is not None else Verdict.UNKNOWN
    return out


@dataclass(frozen=True, slots=True)
class Combination:
    """The combined verdict per purpose, which signals decided it, and where signals disagreed."""

    verdicts: dict[Purpose, Verdict]
    deciders: dict[Purpose, tuple[Signal, ...]]
    conflicts: frozenset[Purpose]


@lru_cache(maxsize=8192)
def _explicit(items: tuple[tuple[Purpose, Verdict], ...], hierarchical: bool) -> tuple[tuple[Purpose, Verdict], ...]:
    """The non-UNKNOWN part of `resolve`, memoised: most signals are prebuilt and recur for every URL."""
    resolved = resolve(dict(items), hierarchical=hierarchical)
    return tuple((p, v) for p, v in resolved.items() if v is not Verdict.UNKNOWN)


def combine(signals: Iterable[Signal]) -> Combination:
    """Combine the counted signals per purpose: DENY > ALLOW > UNKNOWN (docs/purposes.md)."""
    deny: dict[Purpose, list[Signal]] = {}
    allow: dict[Purpose, list[Signal]] = {}
    for signal in signals:
        if not signal.counted or not signal.statement:
            continue
        for purpose, verdict in _explicit(tuple(signal.statement.items()), signal.hierarchical):
            (deny if verdict is Verdict.DENY else allow).setdefault(purpose, []).append(signal)
    verdicts: dict[Purpose, Verdict] = {}
    deciders: dict[Purpose, tuple[Signal, ...]] = {}
    for purpose in PURPOSES:
        if purpose in deny:
            verdicts[purpose], deciders[purpose] = Verdict.DENY, tuple(deny[purpose])
        elif purpose in allow:
            verdicts[purpose], deciders[purpose] = Verdict.ALLOW, tuple(allow[purpose])
        else:
            verdicts[purpose], deciders[purpose] = Verdict.UNKNOWN, ()
    return Combination(verdicts, deciders, frozenset(deny.keys() & allow.keys()))
