"""From access and signals to a `Decision`: verdicts, action, reason, tags (docs/purposes.md "The action").

Pure. The order of the questions: access (RFC 9309) first — a denied URL is `skip`; then a denied
declared purpose (`CONSENT_ON_DENY`); then an unverifiable source (`CONSENT_ON_UNVERIFIABLE`); then an
unknown declared purpose (`CONSENT_ON_UNKNOWN`); everything else is `keep`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from consentry.policies.combine import Combination, combine
from consentry.policies.config import InferredMode, OnDeny, OnUnknown, OnUnverifiable, PolicyConfig
from consentry.policies.model import Action, AssetResponse, Signal
from consentry.policies.record import Decision, Provenance, ResponseSummary
from consentry.policies.vocabulary import Purpose, Tag, Verdict

__all__ = ["apply_inferred_mode", "decide"]

_DISCOUNTABLE = frozenset({Tag.INFERRED, Tag.VENDOR_SPECIFIC})


def apply_inferred_mode(signals: Iterable[Signal], mode: InferredMode) -> tuple[Signal, ...]:
    """`CONSENT_INFERRED`: enforce counts inferred/vendor-specific signals, tag records them uncounted,
    ignore leaves them out."""
    out: list[Signal] = []
    for signal in signals:
        if _DISCOUNTABLE.isdisjoint(signal.tags) or mode is InferredMode.ENFORCE:
            out.append(signal)
        elif mode is InferredMode.TAG:
            out.append(dataclasses.replace(signal, counted=False))
    return tuple(out)


def _by_whom(signals: Iterable[Signal]) -> str:
    # members' `_value_`: the `.value` descriptor is slow in Python 3.11, and every decision names its deciders
    names = list(dict.fromkeys(f"{s.mechanism._value_} ({s.scope._value_})" for s in signals))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _verdict_clauses(comb: Combination, leaves: Sequence[Purpose], verdict: Verdict, word: str) -> list[str]:
    groups: dict[str, list[str]] = {}
    named: dict[tuple[int, ...], str] = {}  # the same deciders usually decide several leaves: named once
    for leaf in leaves:
        if comb.verdicts[leaf] is verdict:
            deciders = comb.deciders[leaf]
            key = tuple(map(id, deciders))
            whom = named.get(key)
            if whom is None:
                whom = named[key] = _by_whom(deciders)
            groups.setdefault(whom, []).append(leaf._value_)
    return [f"{', '.join(purposes)} {word} by {who}" for who, purposes in groups.items()]


def _unverifiable_clause(unverifiable: Sequence[Signal]) -> str:
    return "unverifiable: " + "; ".join(f"{s.mechanism.value} ({s.scope.value}) {s.evidence}" for s in unverifiable)


def _action(config: PolicyConfig, comb: Combination, unverifiable: Sequence[Signal]) -> tuple[Action, str]:
    leaves = config.declared
    denied = _verdict_clauses(comb, leaves, Verdict.DENY, "denied")
    if denied:
        if config.on_deny is OnDeny.DROP:
            return Action.DROP, "; ".join(denied)
        prefix = "kept with CONSENT_ON_DENY=tag: "
        return Action.KEEP, prefix + "; ".join(denied)
    if unverifiable and config.on_unverifiable is OnUnverifiable.DROP:
        return Action.DROP, _unverifiable_clause(unverifiable)
    unknown = [leaf.value for leaf in leaves if comb.verdicts[leaf] is Verdict.UNKNOWN]
    if unknown and config.on_unknown is OnUnknown.DROP:
        return Action.DROP, f"no signal for {', '.join(unknown)} (CONSENT_ON_UNKNOWN=drop)"
    clauses = _verdict_clauses(comb, leaves, Verdict.ALLOW, "allowed")
    if unknown:
        clauses.append(f"{', '.join(unknown)} unknown (no signal)")
    if unverifiable:
        clauses.append(_unverifiable_clause(unverifiable) + " (CONSENT_ON_UNVERIFIABLE=keep)")
    return Action.KEEP, "; ".join(clauses)


def _tags(config: PolicyConfig, comb: Combination, signals: Sequence[Signal]) -> tuple[Tag, ...]:
    tags: set[Tag] = set()
    for leaf in config.declared:
        for signal in comb.deciders[leaf]:
            tags.update(signal.tags)
    if comb.conflicts:
        tags.add(Tag.CONFLICT)
    if any(Tag.UNVERIFIABLE in s.tags for s in signals):
        tags.add(Tag.UNVERIFIABLE)
    if any(Tag.INFERRED in s.tags and not s.counted for s in signals):
        tags.add(Tag.INFERRED)
    return tuple(sorted(tags))


def decide(
    *,
    url: str,
    config: PolicyConfig,
    access: Verdict,
    access_signal: Signal,
    signals: Sequence[Signal] = (),
    response: AssetResponse | None = None,
    fetched_at: str | None = None,
    provenance: Provenance | None = None,
) -> Decision:
    """The decision for one URL. For a `skip` pass `response=None`: the asset was never fetched. `provenance`
    (the asset's AI-generated label) is recorded unless the decision is a `skip`."""
    used = (access_signal, *apply_inferred_mode(signals, config.inferred))
    comb = combine(used)
    unverifiable = [s for s in used if Tag.UNVERIFIABLE in s.tags]
    if access is Verdict.DENY:
        action, reason = Action.SKIP, f"access denied: {access_signal.evidence}"
        response = None
    else:
        action, reason = _action(config, comb, unverifiable)
    return Decision(
        url=url,
        agent=config.agent,
        purposes_declared=config.declared,
        access=access,
        purposes=comb.verdicts,
        action=action,
        reason=reason,
        tags=_tags(config, comb, used),
        signals=used,
        response=ResponseSummary.from_response(response) if response is not None else None,
        fetched_at=fetched_at,
        config_sha256=config.config_sha256,
        provenance=None if action is Action.SKIP else provenance,
    )
