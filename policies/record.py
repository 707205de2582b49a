"""The decision value and its record, schema `consentry.decision/1` (docs/decision-record.md).

Pure. One `Decision` becomes exactly one JSON object: a line of the decision log, an element of
`check --json`, a WARC metadata record, and what `audit` compares. Keys are stable: add, never rename.
`provenance` (whether the asset says it is AI-generated) was added to schema 1 additively.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from consentry.policies.model import Action, AssetResponse, Signal
from consentry.policies.version import VERSION
from consentry.policies.vocabulary import PURPOSES, Mechanism, Purpose, Scope, Tag, Verdict

__all__ = [
    "AI_GENERATED_VALUES", "SCHEMA", "Decision", "Provenance", "ResponseSummary", "record_problems", "run_attempt",
    "run_id",
]

SCHEMA = "consentry.decision/1"
#: The values of `provenance.ai_generated` (docs/decision-record.md "Provenance").
AI_GENERATED_VALUES = ("yes", "no", "unknown")


@dataclass(frozen=True, slots=True)
class Provenance:
    """What the asset's own metadata says about how it was made: `ai_generated` yes/no/unknown, and why."""

    ai_generated: str
    evidence: str

    def to_record(self) -> dict[str, str]:
        """The record's `provenance` object."""
        return {"ai_generated": self.ai_generated, "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class ResponseSummary:
    """What the decision records about the fetched asset."""

    status: int
    content_type: str
    length: int
    sha256: str

    @classmethod
    def from_response(cls, response: AssetResponse) -> ResponseSummary:
        """Summarise a fetched asset (hashing its body)."""
        return cls(response.status, response.content_type, len(response.body),
                   hashlib.sha256(response.body).hexdigest())


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdicts for one asset and what the crawl does with it, with every signal behind them."""

    url: str
    agent: str
    purposes_declared: tuple[Purpose, ...]
    access: Verdict
    purposes: Mapping[Purpose, Verdict]
    action: Action
    reason: str
    tags: tuple[Tag, ...]
    signals: tuple[Signal, ...]
    response: ResponseSummary | None
    fetched_at: str | None
    config_sha256: str
    provenance: Provenance | None = None

    def purpose_verdicts(self) -> dict[str, str]:
        """The record's `purposes`: every purpose in `PURPOSES` order -> its verdict (`unknown` when unspoken)."""
        return {p._value_: self.purposes.get(p, Verdict.UNKNOWN)._value_ for p in PURPOSES}

    def to_record(self) -> dict[str, object]:
        """The `consentry.decision/1` JSON object (enum members read by `_value_`: the `.value` descriptor is
        slow in Python 3.11, and every decision is rendered)."""
        response = None
        if self.response is not None:
            response = {"status": self.response.status, "content_type": self.response.content_type,
                        "length": self.response.length, "sha256": self.response.sha256}
        return {
            "schema": SCHEMA,
            "url": self.url,
            "agent": self.agent,
            "purposes_declared": [p._value_ for p in self.purposes_declared],
            "access": self.access._value_,
            "purposes": self.purpose_verdicts(),
            "action": self.action._value_,
            "reason": self.reason,
            "tags": sorted(t._value_ for t in self.tags),
            "signals": [s.to_record() for s in self.signals],
            "response": response,
            "fetched_at": self.fetched_at,
            "policy": {"consentry": VERSION, "config_sha256": self.config_sha256},
            "provenance": self.provenance.to_record() if self.provenance is not None else None,
        }


_KEYS = ("schema", "url", "agent", "purposes_declared", "access", "purposes", "action", "reason", "tags",
         "signals", "response", "fetched_at", "policy")
_SIGNAL_KEYS = ("mechanism", "scope", "source", "evidence", "statement", "tags")
# `unverified`: an audit's replay of a foreign archive that holds no robots.txt (docs/decision-record.md).
_ACCESS = ("allow", "deny", "unverified")


def _provenance_problems(record: Mapping[str, object]) -> list[str]:
    """`provenance` is optional (records written before it have none), null, or {ai_generated, evidence}."""
    value = record.get("provenance")
    if value is None:
        return []
    if not isinstance(value, dict):
        return ["provenance is neither null nor an object"]
    problems = []
    if value.get("ai_generated") not in AI_GENERATED_VALUES:
        problems.append(f"provenance.ai_generated is {value.get('ai_generated')!r}")
    if not isinstance(value.get("evidence"), str):
        problems.append("provenance.evidence is not a string")
    if record.get("action") == Action.SKIP.value:
        problems.append("a skip has a provenance")
    return problems


def _signal_problems(index: int, signal: object) -> list[str]:
    if not isinstance(signal, dict):
        return [f"signals[{index}] is not an object"]
    problems = [f"signals[{index}] lacks {k!r}" for k in _SIGNAL_KEYS if k not in signal]
    if signal.get("mechanism") not in {m.value for m in Mechanism}:
        problems.append(f"signals[{index}].mechanism {signal.get('mechanism')!r} is not a known mechanism")
    if signal.get("scope") not in {s.value for s in Scope}:
        problems.append(f"signals[{index}].scope {signal.get('scope')!r} is not a known scope")
    statement = signal.get("statement")
    if not isinstance(statement, dict) or not all(
        k in {p.value for p in PURPOSES} and v in {x.value for x in Verdict} for k, v in statement.items()
    ):
        problems.append(f"signals[{index}].statement is not a purpose -> verdict map")
    return problems


def run_attempt(record: object) -> int | None:
    """The `run.attempt` of a distributed crawl's decision record (docs/distributed.md); None when the record has
    none (not a distributed crawl's, or malformed)."""
    run = record.get("run") if isinstance(record, dict) else None
    attempt = run.get("attempt") if isinstance(run, dict) else None
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None


def run_id(record: object) -> str:
    """The `run.id` of a distributed crawl's decision record, as text ("" when the record has no `run` object):
    with the URL, the key under which each URL of a run is counted once (docs/distributed.md "Counting once")."""
    run = record.get("run") if isinstance(record, dict) else None
    return str(run.get("id")) if isinstance(run, dict) else ""


def record_problems(record: Mapping[str, object]) -> list[str]:
    """Every way `record` departs from `consentry.decision/1` (an empty list means it conforms)."""
    problems = [f"missing key {k!r}" for k in _KEYS if k not in record]
    if record.get("schema") != SCHEMA:
        problems.append(f"schema is {record.get('schema')!r}")
    if record.get("access") not in _ACCESS:
        problems.append(f"access is {record.get('access')!r}")
    if record.get("action") not in {a.value for a in Action}:
        problems.append(f"action is {record.get('action')!r}")
    purposes = record.get("purposes")
    if not isinstance(purposes, dict) or set(purposes) != {p.value for p in PURPOSES}:
        problems.append("purposes does not name every purpose")
    if record.get("action") == Action.SKIP.value and record.get("response") is not None:
        problems.append("a skip has a response")
    problems.extend(_provenance_problems(record))
    signals = record.get("signals")
    if not isinstance(signals, list):
        return [*problems, "signals is not a list"]
    for index, signal in enumerate(signals):
        problems.extend(_signal_problems(index, signal))
    return problems
