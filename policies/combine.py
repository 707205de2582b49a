"""Per-statement inheritance and cross-mechanism combination (SPECS §1.2, §14.2 steps 3-4).

Pure. Inside one statement an unstated purpose takes the value of its nearest stated ancestor, but an
inherited ALLOW only propagates from hierarchical vocabularies; an inherited DENY always does. Across
statements, per purpose: DENY > ALLOW > UNKNOWN (AIPREF "Combining Preferences").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from policies.model import Signal
from policies.vocabulary import PARENT, PURPOSES, Purpose, Verdict

__all__ = ["Combination", "combine", "resolve"]


def resolve(statement: Mapping[Purpose, Verdict], *, hierarchical: bool) -> dict[Purpose, Verdict]:
    """A full assignment over every purpose from one statement (SPECS §1.2, `resolve` of §14.2)."""
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


def combine(signals: Iterable[Signal]) -> Combination:
    """Combine the counted signals per purpose: DENY > ALLOW > UNKNOWN (SPECS §14.2 step 4)."""
    by_verdict: dict[Purpose, dict[Verdict, list[Signal]]] = {p: {} for p in PURPOSES}
    for signal in signals:
        if not signal.counted or not signal.statement:
            continue
        for purpose, verdict in resolve(signal.statement, hierarchical=signal.hierarchical).items():
            if verdict is not Verdict.UNKNOWN:
                by_verdict[purpose].setdefault(verdict, []).append(signal)
    verdicts: dict[Purpose, Verdict] = {}
    deciders: dict[Purpose, tuple[Signal, ...]] = {}
    conflicts: set[Purpose] = set()
    for purpose, groups in by_verdict.items():
        if Verdict.DENY in groups and Verdict.ALLOW in groups:
            conflicts.add(purpose)
        for verdict in (Verdict.DENY, Verdict.ALLOW):
            if verdict in groups:
                verdicts[purpose] = verdict
                deciders[purpose] = tuple(groups[verdict])
                break
        else:
            verdicts[purpose] = Verdict.UNKNOWN
            deciders[purpose] = ()
    return Combination(verdicts, deciders, frozenset(conflicts))
