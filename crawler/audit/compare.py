"""What `consentry audit` compares: an archived `consentry.decision/1` record against its replay.

Not pure only in that it is front-end code; it reads no files. Every key is compared except `fetched_at`
(the replay's is the response's WARC-Date) and `policy.consentry` (the software version; a different
version is noted, not a mismatch). Signals are matched by (mechanism, scope, source); each change is named.
Also: the crawl's policy from the warcinfo record or, lacking it, from a decision record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from consentry.policies.config import PolicyConfig
from consentry.policies.record import record_problems
from consentry.policies.vocabulary import PURPOSES, Purpose, expand_purposes

__all__ = ["differences", "policy_from_decision"]
_TOP_KEYS = (
    "schema",
    "url",
    "agent",
    "purposes_declared",
    "access",
    "purposes",
    "action",
    "reason",
    "tags",
    "response",
    "provenance",
)
_SIGNAL_KEYS = ("statement", "tags", "counted", "hierarchical", "evidence")
_ABSENT = object()  # a key missing from a record (not the same as a null value)


def policy_from_decision(record: Mapping[str, Any]) -> PolicyConfig | None:
    """A policy with the record's agent and declared purposes (other settings at their defaults)."""
    try:
        declared = tuple(Purpose(p) for p in record["purposes_declared"])
        agent = str(record["agent"])
    except (KeyError, TypeError, ValueError):
        return None
    # The record holds the expanded leaves; the crawl declared the smallest purpose that expands to them.
    for purpose in PURPOSES:
        if set(expand_purposes((purpose,))) == set(declared):
            declared = (purpose,)
            break
    try:
        return PolicyConfig(agent=agent, purposes=declared)
    except ValueError:
        return None


def _text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _signal_key(signal: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(signal.get("mechanism")), str(signal.get("scope")), str(signal.get("source")))


def _signal_differences(archived: list[Any], replayed: list[Any]) -> list[str]:
    out: list[str] = []
    old = [s for s in archived if isinstance(s, dict)]
    new = list(replayed)
    for signal in old:
        key = _signal_key(signal)
        match = next((s for s in new if _signal_key(s) == key and _text(s) == _text(signal)), None)
        match = match or next((s for s in new if _signal_key(s) == key), None)
        name = "signal {} ({}) from {}".format(*key)
        if match is None:
            out.append(f"{name}: archived only: {_text(signal)}")
            continue
        new.remove(match)
        for field in _SIGNAL_KEYS:
            if _text(signal.get(field)) != _text(match.get(field)):
                out.append(
                    f"{name}: {field} archived {_text(signal.get(field))}, replay {_text(match.get(field))}"
                )
    out.extend("signal {} ({}) from {}: replay only: ".format(*_signal_key(s)) + _text(s) for s in new)
    if not out and [_signal_key(s) for s in old] != [_signal_key(s) for s in replayed]:
        out.append("signals: same signals in a different order")
    return out


def _same(archived: Mapping[str, Any], replayed: Mapping[str, Any]) -> bool:
    """Whether the records are equal but for `fetched_at` (one C-level dict comparison; nothing serialised)."""
    if archived.get("fetched_at", _ABSENT) == replayed.get("fetched_at", _ABSENT):
        return archived == replayed
    return _without_time(archived) == _without_time(replayed)


def _without_time(record: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of `record` without `fetched_at`."""
    copy = dict(record)
    copy.pop("fetched_at", None)
    return copy


def differences(archived: Mapping[str, Any], replayed: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(differences, notes) between an archived record and its replay; no differences means a match."""
    if _same(archived, replayed):  # the common case: identical except fetch time
        return [], []
    found = [f"archived record malformed: {p}" for p in record_problems(archived)]
    notes: list[str] = []
    for key in _TOP_KEYS:
        if key == "provenance" and key not in archived:  # written before the key existed (additive)
            if replayed.get(key) is not None:
                notes.append("archived record predates provenance; replay labels it " + _text(replayed.get(key)))
            continue
        if key == "purposes":
            old, new = archived.get(key) or {}, replayed.get(key) or {}
            found.extend(
                f"purposes.{p}: archived {old.get(p)}, replay {new.get(p)}"
                for p in sorted(set(old) | set(new))
                if old.get(p) != new.get(p)
            )
        elif _text(archived.get(key)) != _text(replayed.get(key)):
            found.append(f"{key}: archived {_text(archived.get(key))}, replay {_text(replayed.get(key))}")
    signals = archived.get("signals")
    found.extend(_signal_differences(signals if isinstance(signals, list) else [], list(replayed["signals"])))
    old_policy, new_policy = archived.get("policy") or {}, replayed.get("policy") or {}
    if isinstance(old_policy, dict) and old_policy.get("config_sha256") != new_policy.get("config_sha256"):
        found.append(
            f"policy.config_sha256: archived {old_policy.get('config_sha256')}, "
            f"replay {new_policy.get('config_sha256')}"
        )
    if isinstance(old_policy, dict) and old_policy.get("consentry") != new_policy.get("consentry"):
        notes.append(
            f"recorded by consentry {old_policy.get('consentry')}, replayed by {new_policy.get('consentry')}"
        )
    return found, notes
