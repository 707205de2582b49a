"""Human-readable rendering of decisions for `consentry check` (signal by signal, then verdicts and action)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from consentry.policies.record import Decision
from consentry.policies.vocabulary import PURPOSES, Mechanism, Verdict

__all__ = ["render_check"]

_WIDTH = 100


def _read_as(statement: dict[str, str]) -> str:
    return " ".join(f"{p}={v}" for p, v in statement.items()) or "—"


def _signal_rows(decision: Decision) -> list[str]:
    rows = [f"  {'SIGNAL':<28} {'SCOPE':<9} READ AS", f"  {'':<6}evidence"]
    for signal in decision.signals:
        statement = {p.value: v.value for p, v in signal.statement.items()}
        notes = sorted(t.value for t in signal.tags) + ([] if signal.counted else ["not counted"])
        read_as = _read_as(statement)
        if signal.mechanism is Mechanism.ROBOTS and not statement:
            read_as = f"access {decision.access.value}"
        read_as += f"  [{', '.join(notes)}]" if notes else ""
        rows.append(f"  {signal.mechanism.value:<28} {signal.scope.value:<9} {read_as}")
        rows.extend(f"        {line}" for line in textwrap.wrap(signal.evidence, _WIDTH - 8) or [""])
    return rows


def _verdict_line(decision: Decision) -> str:
    marks = {Verdict.ALLOW: "allow", Verdict.DENY: "DENY", Verdict.UNKNOWN: "unknown"}
    return "  ".join(f"{p.value}={marks[decision.purposes[p]]}" for p in PURPOSES)


def _render_one(decision: Decision, warnings: Iterable[str]) -> list[str]:
    declared = ", ".join(p.value for p in decision.purposes_declared)
    lines = [
        decision.url,
        f"  agent {decision.agent}; declared purposes {declared}; access {decision.access.value}",
        *_signal_rows(decision),
        f"  VERDICTS  {_verdict_line(decision)}",
        f"  ACTION    {decision.action.value.upper()}: {decision.reason}",
    ]
    if decision.tags:
        lines.append(f"  TAGS      {', '.join(t.value for t in decision.tags)}")
    if decision.provenance is not None:
        label = f"  AI-GENERATED {decision.provenance.ai_generated}: {decision.provenance.evidence}"
        lines.extend(textwrap.wrap(label, _WIDTH, subsequent_indent=" " * 15) or [label])
    warned = list(dict.fromkeys(warnings))
    if warned:
        lines.append("  WARNINGS")
        for warning in warned:
            wrapped = textwrap.wrap(warning, _WIDTH - 6) or [""]
            lines.append(f"    - {wrapped[0]}")
            lines.extend(f"      {line}" for line in wrapped[1:])
    return lines


def render_check(decision: Decision, warnings: Iterable[str] = ()) -> str:
    """The table for one checked URL."""
    return "\n".join(_render_one(decision, warnings))
