"""C2PA/CAWG training-mining mapping (docs/signals/c2pa.md) over captured and hand-built store JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.assets.credentials import (
    HARD_BINDING_CODES,
    OFFLINE_FAILURE_CODES,
    declares_embedded,
    is_self_reference,
    remote_manifest_urls,
    signals,
)
from consentry.policies.model import AssetResponse
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa"
D, A = Verdict.DENY, Verdict.ALLOW


def fixture_json(name: str) -> dict[str, object]:
    return json.loads((FIXTURES / name).read_text())


def store(data: dict[str, object], *, label: str = "cawg.training-mining", state: str = "Valid",
          codes: tuple[str, ...] = ("signingCredential.untrusted",)) -> dict[str, object]:  # fmt: skip
    manifest = {
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created"}]}},
            {"label": label, "data": data},
        ],
        "signature_info": {"issuer": "Test CA", "common_name": "C2PA Signer"},
    }
    return {
        "active_manifest": "urn:c2pa:1",
        "manifests": {"urn:c2pa:1": manifest, "urn:c2pa:0": {"assertions": [
            {"label": label, "data": {"entries": {"cawg.ai_inference": {"use": "notAllowed"}}}}]}},
        "validation_status": [{"code": c} for c in codes],
        "validation_state": state,
    }  # fmt: skip


def one(found: list) -> object:
    assert len(found) == 1
    return found[0]


CAPTURED = [
    ("cawg-notallowed.json", {Purpose.GENAI_TRAIN: D, Purpose.AI_INPUT: D}, (), "Valid"),
    ("c2pa-v1-constrained.json", {Purpose.GENAI_TRAIN: D, Purpose.ML_TRAIN: A, Purpose.TDM: D},
     (Tag.CONDITIONAL,), "Valid"),
    ("c2pa-v1-constrained-trusted.json", {Purpose.GENAI_TRAIN: D, Purpose.ML_TRAIN: A, Purpose.TDM: D},
     (Tag.CONDITIONAL,), "Trusted"),
    ("invalid-signature-allowed.json", {Purpose.GENAI_TRAIN: D, Purpose.TDM: D}, (Tag.CONDITIONAL,), "Invalid"),
    ("cawg-allowed-valid.json", {Purpose.ML_TRAIN: A, Purpose.AI_INPUT: A}, (), "Valid"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "statement", "tags", "state"), CAPTURED, ids=[c[0] for c in CAPTURED])
def test_captured_stores(name, statement, tags, state) -> None:
    signal = one(signals(fixture_json(name), "https://ex.com/a.jpg"))
    assert dict(signal.statement) == statement
    assert signal.tags == tags
    assert (signal.mechanism, signal.scope, signal.hierarchical) == (Mechanism.C2PA, Scope.EMBEDDED, False)
    assert f'({state}, signer "C2PA Signer" by "consentry tests")' in signal.evidence


def test_invalid_allowed_is_downgraded_with_reason() -> None:
    signal = one(signals(fixture_json("invalid-signature-allowed.json"), "u"))
    assert "c2pa.ai_training=allowed (allowed not counted: manifest is Invalid)" in signal.evidence
    assert "https://example.com/tdm-licence" in signal.evidence


def test_evidence_format_of_the_brief() -> None:
    entries = {"entries": {"cawg.ai_generative_training": {"use": "notAllowed"}}}
    signal = one(signals(store(entries), "u"))
    assert signal.evidence == (
        'cawg.training-mining cawg.ai_generative_training=notAllowed (Valid, signer "C2PA Signer" by "Test CA")'
    )


SPEC_EXAMPLES = [
    # example 1
    ({"entries": {"cawg.ai_generative_training": {"use": "notAllowed"}}}, "Trusted", (), {Purpose.GENAI_TRAIN: D}, ()),
    # example 2
    ({"entries": {"cawg.ai_inference": {"use": "constrained", "constraint_info": "https://l.ex/"}}}, "Valid", (),
     {Purpose.AI_INPUT: D}, (Tag.CONDITIONAL,)),
    # example 3 (C2PA 1.x)
    ({"entries": {"c2pa.ai_training": {"use": "allowed"}, "c2pa.ai_generative_training": {"use": "notAllowed"},
                  "c2pa.data_mining": {"use": "constrained"}}}, "Valid", (),
     {Purpose.ML_TRAIN: A, Purpose.GENAI_TRAIN: D, Purpose.TDM: D}, (Tag.CONDITIONAL,)),
    # example 4: Invalid with a data-hash mismatch
    ({"entries": {"c2pa.ai_training": {"use": "allowed"}, "c2pa.ai_generative_training": {"use": "notAllowed"},
                  "c2pa.data_mining": {"use": "constrained"}}}, "Invalid", ("assertion.dataHash.mismatch",),
     {Purpose.GENAI_TRAIN: D, Purpose.TDM: D}, (Tag.CONDITIONAL,)),
    # Valid state but a binding mismatch listed: allowed still not counted
    ({"entries": {"cawg.ai_training": {"use": "allowed"}}}, "Valid", ("assertion.bmffHash.mismatch",), {}, ()),
    ({"entries": {"cawg.ai_training": {"use": "allowed"}}}, "Trusted", (), {Purpose.ML_TRAIN: A}, ()),
    ({"entries": {"cawg.ai_training": {"use": "allowed"}}}, "Well-Formed", (), {}, ()),
    # C2PA 1.4 top-level shape + `constraints_info`
    ({"c2pa.data_mining": {"use": "constrained", "constraints_info": "ask"}}, "Valid", (), {Purpose.TDM: D},
     (Tag.CONDITIONAL,)),
    # custom keys: logged only
    ({"entries": {"pact.commercial_training": {"use": "notAllowed"}}}, "Valid", (), {}, ()),
    ({"entries": {"cawg.ai_training": {"use": "maybe"}}}, "Valid", (), {}, ()),
    ({"entries": {"cawg.ai_training": {"use": "NOTALLOWED"}}}, "Valid", (), {Purpose.ML_TRAIN: D}, (Tag.LENIENT,)),
    # the same purpose twice (entries + top level) with different values: deny, conflict
    ({"entries": {"cawg.ai_training": {"use": "allowed"}}, "c2pa.ai_training": {"use": "notAllowed"}}, "Trusted", (),
     {Purpose.ML_TRAIN: D}, (Tag.CONFLICT,)),
]  # fmt: skip


@pytest.mark.parametrize(("data", "state", "codes", "statement", "tags"), SPEC_EXAMPLES)
def test_spec_examples(data, state, codes, statement, tags) -> None:
    signal = one(signals(store(data, state=state, codes=codes), "u"))
    assert dict(signal.statement) == statement
    assert signal.tags == tags


@pytest.mark.parametrize(
    "label", ["cawg.training-mining__1", "c2pa.training-mining__12", "c2pa.training-mining"]
)
def test_instance_suffixes(label) -> None:
    signal = one(signals(store({"entries": {"cawg.data_mining": {"use": "notAllowed"}}}, label=label), "u"))
    assert dict(signal.statement) == {Purpose.TDM: D}
    assert label in signal.evidence


@pytest.mark.parametrize("label", ["cawg.training-mining.v2x", "xcawg.training-mining", "c2pa.actions"])
def test_other_labels_are_ignored(label) -> None:
    assert signals(store({"entries": {"cawg.data_mining": {"use": "notAllowed"}}}, label=label), "u") == []


def test_only_the_active_manifest_counts() -> None:
    data = store({"entries": {"cawg.ai_training": {"use": "allowed"}}})
    assert Purpose.AI_INPUT not in one(signals(data, "u")).statement  # the ingredient's notAllowed is ignored


def test_error_is_unverifiable() -> None:
    signal = one(signals(None, "u", error="Other: asset could not be parsed"))
    assert (signal.statement, signal.tags) == ({}, (Tag.UNVERIFIABLE,))
    assert "asset could not be parsed" in signal.evidence


def test_no_store_no_signal() -> None:
    assert signals(None, "u") == []


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"active_manifest": "x"},
        {"active_manifest": 3, "manifests": []},
        {"active_manifest": "x", "manifests": {"x": 1}},
    ],
)
def test_malformed_stores_are_unknown(bad) -> None:
    signal = one(signals(bad, "u"))
    assert signal.statement == {}
    assert "active manifest" in signal.evidence


def test_remote_manifest_urls() -> None:
    response = AssetResponse(
        url="https://ex.com/img/a.jpg",
        status=200,
        headers=(("Link", '</m/a.c2pa>; rel="c2pa-manifest", <https://ex.com/lic>; rel=license'),
                 ("link", "<ftp://x/y.c2pa>; rel=c2pa-manifest")),
    )  # fmt: skip
    packet = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dcterms="http://purl.org/dc/terms/" dcterms:provenance="https://cdn.ex/a.c2pa"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    assert remote_manifest_urls(response, [packet]) == ("https://ex.com/m/a.c2pa", "https://cdn.ex/a.c2pa")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=30), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON, st.sampled_from(["Valid", "Invalid", "Trusted", None]))
def test_garbage_never_raises_and_never_allows_untrusted(data, state) -> None:
    built = store(data if isinstance(data, dict) else {"entries": data}, state=state or "")
    for signal in signals(built, "u"):
        if state not in ("Valid", "Trusted"):
            assert A not in signal.statement.values()
    signals(data, "u")  # type: ignore[arg-type]


# --- offline identity failures (docs/signals/c2pa.md "Trust") ------------------------------------------------


def _with_codes(base: dict, *, failure: list[str], success: list[str] | None = None) -> dict:
    copy = json.loads(json.dumps(base))
    results = copy["validation_results"]["activeManifest"]
    results["failure"] = [{"code": c} for c in failure]
    if success is not None:
        results["success"] = [{"code": c} for c in success]
    copy["validation_status"] = [{"code": c} for c in failure]
    return copy


def test_offline_identity_failure_keeps_allowed_counting() -> None:
    """c2pa's own output for a CAWG ICA whose issuer DID cannot be resolved offline (c2pa-rs
    unresolvable_did.jpg) with a training-mining assertion added: Invalid only for `cawg.ica.did_unavailable`."""
    data = fixture_json("offline-identity-allowed.json")
    assert data["validation_state"] == "Invalid"
    signal = one(signals(data, "https://ex.com/a.jpg"))
    assert signal.statement == {Purpose.GENAI_TRAIN: A, Purpose.AI_INPUT: D}
    assert "cawg.ica.did_unavailable" in signal.evidence
    assert "read as Valid" in signal.evidence


SIGNATURE = ["claimSignature.insideValidity", "claimSignature.validated", "assertion.dataHash.match"]


@pytest.mark.parametrize(("failure", "success", "counts"), [
    (["cawg.ica.did_unavailable"], SIGNATURE, True),
    (["signingCredential.ocsp.inaccessible", "signingCredential.untrusted"], SIGNATURE, True),
    (["cawg.ica.did_unavailable", "cawg.ica.signature_mismatch"], SIGNATURE, False),  # wrong data, not offline
    (["cawg.ica.did_unavailable", "cawg.identity.assertion.mismatch"], SIGNATURE, False),
    (["cawg.ica.did_unavailable", "assertion.dataHash.mismatch"], SIGNATURE, False),
    (["cawg.ica.did_unavailable", "claimSignature.mismatch"], SIGNATURE, False),
    (["cawg.ica.did_unavailable"], SIGNATURE[:2], False),  # no hard binding matched
    (["cawg.ica.did_unavailable"], SIGNATURE[1:], False),  # signature outside its validity
    (["signingCredential.ocsp.revoked"], SIGNATURE, False),  # revoked is an answer, not unavailability
    (["cawg.identity.pad.invalid"], SIGNATURE, False),
])  # fmt: skip
def test_only_the_listed_offline_codes_are_tolerated(failure, success, counts) -> None:
    data = _with_codes(fixture_json("offline-identity-allowed.json"), failure=failure, success=success)
    signal = one(signals(data, "u"))
    assert (signal.statement.get(Purpose.GENAI_TRAIN) is A) is counts
    assert signal.statement[Purpose.AI_INPUT] is D  # a restriction counts in every state
    if not counts:
        assert "allowed not counted: manifest is Invalid" in signal.evidence


def test_tolerated_codes_are_data() -> None:
    assert {"cawg.ica.did_unavailable", "signingCredential.ocsp.inaccessible"} == OFFLINE_FAILURE_CODES
    assert "assertion.dataHash.match" in HARD_BINDING_CODES


# --- where the manifest is (C2PA 2.2 §15.5) -----------------------------------------------------------------


@pytest.mark.parametrize(("target", "own"), [
    ("https://ex.com/img/a.jpg#jumbf=c2pa", True),
    ("https://ex.com/img/a.jpg#jumbf=/c2pa/urn:c2pa:1", True),
    ("self#jumbf=/c2pa/urn:c2pa:1/c2pa.claim", True),
    ("https://ex.com/img/a.jpg#JUMBF=c2pa", True),
    ("https://ex.com/img/b.jpg#jumbf=c2pa", False),  # another resource's store
    ("https://ex.com/img/a.jpg", False),
    ("https://ex.com/img/a.c2pa#x", False),
])  # fmt: skip
def test_self_references(target, own) -> None:
    assert is_self_reference(target, "https://ex.com/img/a.jpg") is own


def test_jumbf_self_reference_is_embedded_not_remote() -> None:
    response = AssetResponse("https://ex.com/img/a.jpg", 200, headers=(
        ("Link", '<a.jpg#jumbf=c2pa>; rel="c2pa-manifest", <m.c2pa>; rel="c2pa-manifest"'),))
    assert remote_manifest_urls(response, []) == ("https://ex.com/img/m.c2pa",)
    assert declares_embedded(response) == "https://ex.com/img/a.jpg#jumbf=c2pa"
    later_rel = AssetResponse("https://ex.com/img/a.jpg", 200, headers=(
        ("Link", '<m.c2pa>; rel="alternate"; rel="c2pa-manifest"'),))
    assert remote_manifest_urls(later_rel, []) == ()  # RFC 8288 §3.3: only the first rel counts
