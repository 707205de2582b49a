"""AI-generated labelling (docs/signals/c2pa.md "AI-generated"): IPTC digital source types read as data,
the label in the decision record, and `CONSENT_ON_AI_GENERATED` keep | tag | drop."""

from __future__ import annotations

import dataclasses

import pytest

from consentry.policies.assets.aigenerated import SOURCE_TYPES, apply_policy, label, store_source_types
from consentry.policies.config import OnAiGenerated, PolicyConfig
from consentry.policies.decide import decide
from consentry.policies.model import Action, AssetResponse, Signal
from consentry.policies.record import Provenance, record_problems
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

NEWS = "http://cv.iptc.org/newscodes/digitalsourcetype/"
URL = "https://ex.com/img/cat.jpg"
ACCESS = Signal(Mechanism.ROBOTS, Scope.SITE, "https://ex.com/robots.txt", "no rule matches")
RESPONSE = AssetResponse(URL, 200, (("Content-Type", "image/jpeg"),), b"\xff\xd8\xff")


def store(*types: str, state: str = "Valid", label_name: str = "c2pa.actions.v2") -> dict[str, object]:
    actions = [{"action": "c2pa.created", "digitalSourceType": t} for t in types]
    return {"active_manifest": "m1", "validation_state": state, "manifests": {
        "m1": {"assertions": [{"label": label_name, "data": {"actions": actions}}]},
        "m0": {"assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": NEWS + "trainedAlgorithmicMedia"}]}}]}}}


@pytest.mark.parametrize(("value", "expected"), [
    (NEWS + "trainedAlgorithmicMedia", "yes"),
    (NEWS + "compositeWithTrainedAlgorithmicMedia", "yes"),
    (NEWS + "algorithmicMedia", "yes"),
    (NEWS + "compositeSynthetic", "yes"),
    (NEWS + "digitalCapture", "no"),
    (NEWS + "algorithmicallyEnhanced", "no"),
    (NEWS + "digitalCreation", "no"),
    (" " + NEWS + "digitalCapture", "no"),  # c2pa-rs C_with_CAWG_data.jpg has a leading space
    ("https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia/", "yes"),
    ("trainedAlgorithmicMedia", "yes"),  # a bare NewsCodes term
    ("http://c2pa.org/digitalsourcetype/empty", "unknown"),
    ("https://example.com/vocab/madeUp", "unknown"),
])  # fmt: skip
def test_one_value(value: str, expected: str) -> None:
    assert label(store(value), ()).ai_generated == expected


def test_yes_beats_no_beats_unknown_across_actions_and_xmp() -> None:
    assert label(store(NEWS + "digitalCapture", NEWS + "compositeWithTrainedAlgorithmicMedia"), ()).ai_generated == "yes"
    assert label(store(NEWS + "digitalCapture"), (NEWS + "trainedAlgorithmicMedia",)).ai_generated == "yes"
    assert label(store("http://c2pa.org/digitalsourcetype/empty", NEWS + "print"), ()).ai_generated == "no"
    assert label(None, ()).ai_generated == "unknown"
    assert label(None, ()).evidence == "no digital source type in C2PA actions or XMP"


def test_only_the_active_manifest_and_actions_assertions_count() -> None:
    assert store_source_types(store()) == ()  # m0 (an ingredient) is AI-generated; the active manifest says nothing
    assert store_source_types(store(NEWS + "print", label_name="c2pa.actions__2")) == (NEWS + "print",)
    assert store_source_types(store(NEWS + "print", label_name="c2pa.hash.data")) == ()
    for garbage in ({"active_manifest": 3}, {"active_manifest": "m", "manifests": {"m": {"assertions": "x"}}},
                    {"active_manifest": "m", "manifests": {"m": {"assertions": [{"label": "c2pa.actions",
                                                                                  "data": {"actions": [1, None]}}]}}}):
        assert store_source_types(garbage) == ()


def test_invalid_manifest_is_evidence_not_proof() -> None:
    provenance = label(store(NEWS + "trainedAlgorithmicMedia", state="Invalid"), ())
    assert provenance.ai_generated == "yes"
    assert "manifest is Invalid: its claim is evidence, not proof" in provenance.evidence
    assert "evidence, not proof" not in label(store(NEWS + "trainedAlgorithmicMedia"), ()).evidence


def test_the_table_is_data() -> None:
    assert set(SOURCE_TYPES.values()) == {"yes", "no", "unknown"}
    assert all(k.startswith(("http://cv.iptc.org/newscodes/digitalsourcetype/", "http://c2pa.org/")) for k in SOURCE_TYPES)


def _decision(statement: dict[Purpose, Verdict], provenance: Provenance | None, **config: object):
    signal = Signal(Mechanism.C2PA, Scope.EMBEDDED, URL, "c2pa evidence", statement)
    made = decide(url=URL, config=PolicyConfig(**config), access=Verdict.ALLOW, access_signal=ACCESS,  # type: ignore[arg-type]
                  signals=[signal], response=RESPONSE, fetched_at=None)
    return dataclasses.replace(made, provenance=provenance)


YES = Provenance("yes", "C2PA actions digitalSourceType: …trainedAlgorithmicMedia (yes) (Valid)")


@pytest.mark.parametrize(("mode", "action", "tagged"), [
    (OnAiGenerated.KEEP, Action.KEEP, False),
    (OnAiGenerated.TAG, Action.KEEP, True),
    (OnAiGenerated.DROP, Action.DROP, True),
])
def test_on_ai_generated(mode: OnAiGenerated, action: Action, tagged: bool) -> None:
    decision = apply_policy(_decision({}, YES), mode)
    assert decision.action is action
    assert (Tag.AI_GENERATED in decision.tags) is tagged
    if action is Action.DROP:
        assert decision.reason.startswith("AI-generated (CONSENT_ON_AI_GENERATED=drop): ")
    record = decision.to_record()
    assert record["provenance"] == {"ai_generated": "yes", "evidence": YES.evidence}
    assert record_problems(record) == []


def test_consent_drop_keeps_its_own_reason() -> None:
    denied = _decision({Purpose.AI_TRAIN: Verdict.DENY}, YES)
    after = apply_policy(denied, OnAiGenerated.DROP)
    assert after.action is Action.DROP
    assert after.reason == denied.reason
    assert "AI-generated" not in after.reason


@pytest.mark.parametrize("value", ["no", "unknown"])
def test_not_generated_is_never_dropped(value: str) -> None:
    decision = apply_policy(_decision({}, Provenance(value, "x")), OnAiGenerated.DROP)
    assert decision.action is Action.KEEP
    assert Tag.AI_GENERATED not in decision.tags


def test_record_schema_of_provenance() -> None:
    record = _decision({}, None).to_record()
    assert record["provenance"] is None
    assert record_problems(record) == []
    del record["provenance"]  # records written before the key existed
    assert record_problems(record) == []
    for bad, problem in (({"ai_generated": "maybe", "evidence": ""}, "provenance.ai_generated"),
                         ({"ai_generated": "yes"}, "provenance.evidence"), ("yes", "neither null")):
        assert any(problem in p for p in record_problems({**record, "provenance": bad}))


def test_setting_and_fingerprint() -> None:
    assert PolicyConfig.from_settings({"CONSENT_ON_AI_GENERATED": "Drop"}).on_ai_generated is OnAiGenerated.DROP
    with pytest.raises(ValueError, match=r"^CONSENT_ON_AI_GENERATED: expected keep\|tag\|drop"):
        PolicyConfig.from_settings({"CONSENT_ON_AI_GENERATED": "delete"})
    default = PolicyConfig()
    assert "on_ai_generated" not in default.fingerprint()  # the fingerprints of older crawls stay the same
    assert PolicyConfig(on_ai_generated=OnAiGenerated.TAG).config_sha256 != default.config_sha256
