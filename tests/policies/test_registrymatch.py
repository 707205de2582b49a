"""consentry.policies.registrymatch: a registry match → a `registry` signal (docs/signals/registry.md); thresholds as data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.policies.combine import combine
from consentry.policies.registrymatch import (
    IMAGE_RULE,
    MAX_THRESHOLD,
    MIN_CORRELATION,
    THRESHOLDS,
    ImageRule,
    RegistryMatch,
    match_signal,
    statement_of,
    unverifiable_signal,
    within_threshold,
)
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

P = Purpose
D, A = Verdict.DENY, Verdict.ALLOW


def _match(kind: str, distance: int = 0, deny=(P.AI_TRAIN,), allow=(P.SEARCH,)) -> RegistryMatch:
    return RegistryMatch(7, "Ada Artist", "harbour.jpg", tuple(deny), tuple(allow), kind, distance)


@pytest.mark.parametrize(
    ("kind", "distance", "statement", "evidence"),
    [
        ("sha256", 0, {P.AI_TRAIN: D, P.SEARCH: A}, "same bytes (SHA-256)"),
        ("c2pa", 0, {P.AI_TRAIN: D}, "same C2PA instance id"),
        ("image", 6, {P.AI_TRAIN: D}, "image content code 6 bits apart (threshold 8)"),
        ("text", 3, {P.AI_TRAIN: D}, "text content code 3 bits apart (threshold 10)"),
    ],
)
def test_match_signal_statement_and_evidence(
    kind: str, distance: int, statement: dict, evidence: str
) -> None:
    signal = match_signal(_match(kind, distance), "http://copy.example/a.jpg")
    assert signal.mechanism is Mechanism.REGISTRY
    assert signal.scope is Scope.REGISTRY
    assert signal.source == "http://copy.example/a.jpg"
    assert dict(signal.statement) == statement
    assert signal.evidence.startswith('work 7 "harbour.jpg" by Ada Artist: ')
    assert evidence in signal.evidence
    assert signal.hierarchical
    assert ("allow search not counted" in signal.evidence) is (kind != "sha256")


def test_deny_of_parent_reaches_every_leaf_through_combination() -> None:
    signal = match_signal(_match("image", 2, deny=(P.AI_TRAIN,), allow=()), "u")
    verdicts = combine([signal]).verdicts
    assert verdicts[P.GENAI_TRAIN] is D
    assert verdicts[P.ML_TRAIN] is D
    assert verdicts[P.SEARCH] is Verdict.UNKNOWN


def test_exact_allow_of_parent_propagates() -> None:
    signal = match_signal(_match("sha256", deny=(), allow=(P.AI_TRAIN,)), "u")
    assert combine([signal]).verdicts[P.GENAI_TRAIN] is A


@pytest.mark.parametrize(
    ("deny", "allow", "expected"),
    [
        ([P.TDM], [P.SEARCH], {P.TDM: D, P.SEARCH: A}),
        ([P.SEARCH], [P.SEARCH], {P.SEARCH: D}),  # both lists: deny wins
        ([], [], {}),
        ([P.ML_TRAIN, P.GENAI_TRAIN], [], {P.GENAI_TRAIN: D, P.ML_TRAIN: D}),
    ],
)
def test_statement_of(deny: list[Purpose], allow: list[Purpose], expected: dict) -> None:
    assert statement_of(deny, allow) == expected


@pytest.mark.parametrize(
    ("media", "distance", "expected"),
    [
        ("image", 0, True), ("image", 8, True), ("image", 9, False), ("image", 64, False),
        ("text", 10, True), ("text", 11, False), ("image", -1, False), ("audio", 0, False), ("", 0, False),
    ],
)  # fmt: skip
def test_within_threshold(media: str, distance: int, expected: bool) -> None:
    assert within_threshold(media, distance) is expected


def test_thresholds_are_data_for_each_fingerprinted_media() -> None:
    assert set(THRESHOLDS) == {"image", "text"}
    assert max(THRESHOLDS.values()) == MAX_THRESHOLD
    assert all(0 < t < 32 for t in THRESHOLDS.values())  # well under the 32 bits of unrelated codes


def test_image_rule_applies_the_threshold_of_the_kind_of_code_then_the_thumbnails() -> None:
    rule = ImageRule(whole=8, variant=4, min_correlation=0.9)
    ramp = bytes(range(256))
    noisy = bytes(min(255, v + (v * 7919 % 23)) for v in range(256))  # close to the ramp
    assert rule.matches(8, True, ramp, noisy)
    assert not rule.matches(8, False, ramp, noisy)  # a variant (crop, trimmed) code: within 4 only
    assert rule.matches(4, False, ramp, noisy)
    assert not rule.matches(10, True, ramp, ramp)
    assert not rule.matches(0, True, ramp, ramp[::-1])  # thumbnails anti-correlated
    assert rule.matches(4, False, ramp, b"")  # no thumbnail (an older work): the distance decides
    assert not rule.matches(6, False, ramp, b"")
    assert rule.within(-1, True) is False


def test_the_registry_image_rule_is_the_documented_data() -> None:
    assert (IMAGE_RULE.whole, IMAGE_RULE.min_correlation) == (THRESHOLDS["image"], MIN_CORRELATION)
    assert IMAGE_RULE.variant <= IMAGE_RULE.whole <= MAX_THRESHOLD  # the band index finds every candidate


def test_unverifiable_signal_has_no_statement() -> None:
    signal = unverifiable_signal("http://x/a.jpg", "disk I/O error")
    assert signal.statement == {}
    assert signal.tags == (Tag.UNVERIFIABLE,)
    assert "disk I/O error" in signal.evidence


@given(
    kind=st.sampled_from(["c2pa", "image", "text", "", "garbage"]) | st.text(max_size=10),
    distance=st.integers(min_value=-5, max_value=100),
    deny=st.lists(st.sampled_from(list(Purpose)), max_size=6),
    allow=st.lists(st.sampled_from(list(Purpose)), max_size=6),
    title=st.text(max_size=30),
)
def test_only_exact_matches_can_grant(kind: str, distance: int, deny: list, allow: list, title: str) -> None:
    if kind == "sha256":
        return
    match = RegistryMatch(1, "c", title, tuple(deny), tuple(allow), kind, distance)
    signal = match_signal(match, "u")
    assert A not in signal.statement.values()
    assert set(signal.statement) == set(deny)
