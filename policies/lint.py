"""Warnings for site owners about how their directives combine (`consentry check` warnings; docs/purposes.md).

Pure. Parsers report what is wrong inside one file (`warnings` on each policy); this module reports what
is wrong *between* mechanisms: contradictions (one mechanism allows what another denies — the deny wins,
which the owner may not expect) and TDMRep layers that disagree (the later layer silently wins,
TDMRep "Processing priority").
"""

from __future__ import annotations

from collections.abc import Sequence

from consentry.policies.combine import resolve
from consentry.policies.model import Signal
from consentry.policies.record import Decision
from consentry.policies.vocabulary import PURPOSES, Mechanism, Purpose, Verdict

__all__ = ["decision_warnings"]

_TDMREP = frozenset({Mechanism.TDMREP_FILE, Mechanism.TDMREP_HEADER, Mechanism.TDMREP_HTML,
                     Mechanism.TDMREP_PDF, Mechanism.TDMREP_EPUB})


def _family(signal: Signal) -> str:
    return "tdmrep" if signal.mechanism in _TDMREP else signal.mechanism.value


def _label(signal: Signal) -> str:
    return f"{signal.mechanism.value} ({signal.evidence})"


def _contradictions(signals: Sequence[Signal]) -> list[str]:
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Purpose]] = {}
    resolved = [(signal, resolve(signal.statement, hierarchical=signal.hierarchical)) for signal in signals
                if signal.statement and not (signal.mechanism in _TDMREP and not signal.counted)]
    for purpose in PURPOSES:
        allow: list[Signal] = []
        deny: list[Signal] = []
        for signal, verdicts in resolved:
            verdict = verdicts[purpose]
            (allow if verdict is Verdict.ALLOW else deny if verdict is Verdict.DENY else []).append(signal)
        if {_family(s) for s in allow} - {_family(s) for s in deny} and deny:
            key = (tuple(dict.fromkeys(map(_label, allow))), tuple(dict.fromkeys(map(_label, deny))))
            groups.setdefault(key, []).append(purpose)
    return [
        f"contradiction on {', '.join(p.value for p in purposes)}: allowed by {'; '.join(allows)} "
        f"but denied by {'; '.join(denies)} — the deny wins"
        for (allows, denies), purposes in groups.items()
    ]


def _tdmrep_disagreements(signals: Sequence[Signal]) -> list[str]:
    layers = [s for s in signals if s.mechanism in _TDMREP and s.statement]
    readings = {tuple(sorted((p.value, v.value) for p, v in s.statement.items())) for s in layers}
    if len(readings) < 2:
        return []
    final = next((s for s in layers if s.counted), layers[-1])
    listed = "; ".join(_label(s) for s in layers)
    return [f"TDMRep layers disagree: {listed} — {final.mechanism.value} wins (later layers supersede)"]


def decision_warnings(decision: Decision) -> tuple[str, ...]:
    """Cross-mechanism warnings for one decision (empty when the signals agree)."""
    signals = decision.signals
    return (*_contradictions(signals), *_tdmrep_disagreements(signals))
