"""From access and signals to action and reason (docs/purposes.md "The action")."""

from __future__ import annotations

import pytest

from consentry.policies.config import InferredMode, OnDeny, OnUnknown, OnUnverifiable, PolicyConfig
from consentry.policies.decide import decide
from consentry.policies.model import Action, AssetResponse, Signal
from consentry.policies.record import record_problems
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

P, A, D = Purpose, Verdict.ALLOW, Verdict.DENY
URL = "https://ex.com/img/cat.jpg"
ACCESS = Signal(Mechanism.ROBOTS, Scope.SITE, "https://ex.com/robots.txt", "no rule matches (group \"*\")")
RESPONSE = AssetResponse(URL, 200, (("Content-Type", "image/jpeg"),), b"\xff\xd8\xff")


def _sig(mechanism: Mechanism, scope: Scope, statement: dict[Purpose, Verdict], *tags: Tag,
         hierarchical: bool = False) -> Signal:
    return Signal(mechanism, scope, URL, f"{mechanism.value} evidence", statement, tags, hierarchical)


def _decide(signals: list[Signal], **config: object) -> object:
    return decide(url=URL, config=PolicyConfig(**config), access=A, access_signal=ACCESS,  # type: ignore[arg-type]
                  signals=signals, response=RESPONSE, fetched_at="2026-11-21T23:00:00Z")


def test_design_example_record_drop() -> None:
    tdm = _sig(Mechanism.TDMREP_FILE, Scope.SITE, {P.AI_TRAIN: D, P.AI_INPUT: D})
    xrt = _sig(Mechanism.X_ROBOTS_TAG, Scope.RESPONSE, {P.AI_TRAIN: D, P.AI_INPUT: D})
    decision = _decide([tdm, xrt])
    assert decision.action is Action.DROP
    assert decision.reason == "genai-train, ml-train denied by tdmrep-file (site) and x-robots-tag (response)"
    record = decision.to_record()
    assert record_problems(record) == []
    assert record["purposes_declared"] == ["genai-train", "ml-train"]
    assert record["purposes"] == {"tdm": "unknown", "ai-train": "deny", "genai-train": "deny",
                                  "ml-train": "deny", "ai-input": "deny", "search": "unknown"}
    assert record["response"]["length"] == 3  # type: ignore[index]
    assert record["signals"][0]["mechanism"] == "robots"  # type: ignore[index]


def test_tag_mode_keeps_denied_assets_with_their_verdicts() -> None:
    decision = _decide([_sig(Mechanism.X_ROBOTS_TAG, Scope.RESPONSE, {P.AI_TRAIN: D})], on_deny=OnDeny.TAG)
    assert decision.action is Action.KEEP
    assert decision.purposes[P.GENAI_TRAIN] is D
    assert decision.reason.startswith("kept with CONSENT_ON_DENY=tag: ")


@pytest.mark.parametrize(("on_unknown", "action"), [(OnUnknown.KEEP, Action.KEEP), (OnUnknown.DROP, Action.DROP)])
def test_unknown_follows_on_unknown(on_unknown: OnUnknown, action: Action) -> None:
    decision = _decide([_sig(Mechanism.C2PA, Scope.EMBEDDED, {P.GENAI_TRAIN: A})], on_unknown=on_unknown)
    assert decision.action is action
    assert decision.purposes[P.ML_TRAIN] is Verdict.UNKNOWN


@pytest.mark.parametrize(("mode", "action"), [(OnUnverifiable.DROP, Action.DROP), (OnUnverifiable.KEEP, Action.KEEP)])
def test_unverifiable_follows_on_unverifiable(mode: OnUnverifiable, action: Action) -> None:
    broken = _sig(Mechanism.TDMREP_FILE, Scope.SITE, {}, Tag.UNVERIFIABLE)
    decision = _decide([broken], on_unverifiable=mode)
    assert decision.action is action
    assert Tag.UNVERIFIABLE in decision.tags
    assert "unverifiable" in decision.reason


def test_a_deny_outranks_unverifiable_in_the_reason() -> None:
    signals = [_sig(Mechanism.TDMREP_FILE, Scope.SITE, {}, Tag.UNVERIFIABLE),
               _sig(Mechanism.X_ROBOTS_TAG, Scope.RESPONSE, {P.AI_TRAIN: D})]
    decision = _decide(signals)
    assert decision.action is Action.DROP
    assert "denied by x-robots-tag" in decision.reason


@pytest.mark.parametrize(("mode", "action", "counted", "present"), [
    (InferredMode.ENFORCE, Action.DROP, True, True),
    (InferredMode.TAG, Action.KEEP, False, True),
    (InferredMode.IGNORE, Action.KEEP, None, False),
])
def test_inferred_mode(mode: InferredMode, action: Action, counted: bool | None, present: bool) -> None:
    inferred = _sig(Mechanism.ROBOTS_INFERRED, Scope.SITE, {P.AI_TRAIN: D}, Tag.INFERRED)
    decision = _decide([inferred], inferred=mode)
    assert decision.action is action
    found = [s for s in decision.signals if s.mechanism is Mechanism.ROBOTS_INFERRED]
    assert bool(found) is present
    if found:
        assert found[0].counted is counted
    if mode is InferredMode.TAG:
        assert Tag.INFERRED in decision.tags


def test_vendor_specific_signals_follow_the_inferred_knob() -> None:
    vendor = _sig(Mechanism.X_ROBOTS_TAG, Scope.RESPONSE, {P.GENAI_TRAIN: D}, Tag.VENDOR_SPECIFIC)
    assert _decide([vendor]).action is Action.DROP
    assert _decide([vendor], inferred=InferredMode.TAG).action is Action.KEEP


def test_skip_has_no_response_and_names_the_rule() -> None:
    deny_signal = Signal(Mechanism.ROBOTS, Scope.SITE, "https://ex.com/robots.txt", 'Disallow: /img/ (group "*")')
    decision = decide(url=URL, config=PolicyConfig(), access=D, access_signal=deny_signal,
                      response=RESPONSE, fetched_at=None)
    assert decision.action is Action.SKIP
    assert decision.response is None
    assert decision.reason == 'access denied: Disallow: /img/ (group "*")'
    assert record_problems(decision.to_record()) == []


def test_conflict_and_decider_tags_reach_the_decision() -> None:
    signals = [_sig(Mechanism.C2PA, Scope.EMBEDDED, {P.GENAI_TRAIN: D}, Tag.CONDITIONAL),
               _sig(Mechanism.ROBOTS_CONTENT_USAGE, Scope.SITE, {P.GENAI_TRAIN: A}, Tag.LEGACY_LABEL)]
    decision = _decide(signals)
    assert set(decision.tags) == {Tag.CONDITIONAL, Tag.CONFLICT}


def test_keep_reason_lists_allowed_and_unknown_purposes() -> None:
    decision = _decide([_sig(Mechanism.C2PA, Scope.EMBEDDED, {P.GENAI_TRAIN: A})])
    assert decision.reason == "genai-train allowed by c2pa (embedded); ml-train unknown (no signal)"


def test_record_problems_finds_schema_departures() -> None:
    record = _decide([]).to_record()
    record["action"] = "maybe"
    del record["policy"]
    record["signals"] = [{"mechanism": "smoke-signal"}]
    problems = record_problems(record)
    assert "action is 'maybe'" in problems
    assert "missing key 'policy'" in problems
    assert any("smoke-signal" in p for p in problems)
