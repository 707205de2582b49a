"""AIPREF usage preferences: vocab-07 processing, header examples and the label
mapping of docs/signals/content-usage.md."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.aipref import LABELS, header_signals, most_restrictive, parse_usage
from consentry.policies.model import AssetResponse
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

P, A, D = Purpose, Verdict.ALLOW, Verdict.DENY


def _response(*values: str) -> AssetResponse:
    return AssetResponse("https://example.com/a.jpg", 200, tuple(("Content-Usage", v) for v in values))


# Header examples (vocab-07), mapped with the label table of docs/signals/content-usage.md.
@pytest.mark.parametrize(
    ("values", "statement", "tags"),
    [
        (("train-ai=n",), {P.AI_TRAIN: D}, ()),
        (("train-ai=y, search=n",), {P.GENAI_TRAIN: A, P.SEARCH: D}, ()),
        (("train-ai=y", "train-ai=n"), {P.AI_TRAIN: D}, (Tag.CONFLICT,)),
        (("Train-AI=n",), {}, ()),
        (('train-ai="n"',), {}, ()),
        (("train-ai=no",), {}, ()),
        (("train-ai;x=1;y=2, search=y",), {P.SEARCH: A}, ()),
    ],
)
def test_header_examples_spec_4_5(
    values: tuple[str, ...], statement: dict[Purpose, Verdict], tags: tuple[Tag, ...]
) -> None:
    [signal] = header_signals(_response(*values))
    assert dict(signal.statement) == statement
    assert signal.tags == tags
    assert signal.mechanism is Mechanism.CONTENT_USAGE_HEADER
    assert signal.scope is Scope.RESPONSE
    assert signal.source == "https://example.com/a.jpg"
    assert signal.evidence.startswith("Content-Usage: " + ", ".join(values))
    assert signal.hierarchical
    assert signal.counted


def test_header_absent_gives_nothing() -> None:
    assert header_signals(AssetResponse("https://e.com/", 200, (("X-Other", "1"),))) == []


def test_header_that_says_nothing_explains_why() -> None:
    [signal] = header_signals(_response("Train-AI=n"))
    assert signal.statement == {}
    assert "not a structured-field dictionary" in signal.evidence


def test_duplicate_keys_last_wins_vocab_example() -> None:
    # vocab-07: `train-ai=y, train-ai, search=n, search="n"` -> everything unknown.
    reading = parse_usage('train-ai=y, train-ai, search=n, search="n"')
    assert reading.statement == {}
    assert len(reading.notes) == 2


# docs/signals/content-usage.md mapping table, one row per label and value.
@pytest.mark.parametrize(
    ("value", "statement", "legacy"),
    [
        ("train-ai=n", {P.AI_TRAIN: D}, False),
        ("train-ai=y", {P.GENAI_TRAIN: A}, False),
        ("search=n", {P.SEARCH: D}, False),
        ("search=y", {P.SEARCH: A}, False),
        ("train-genai=n", {P.GENAI_TRAIN: D}, True),
        ("train-genai=y", {P.GENAI_TRAIN: A}, True),
        ("all=n", {P.TDM: D}, True),
        ("bots=y", {P.TDM: A}, True),
        ("tdm=n", {P.TDM: D}, True),
        ("ai=n", {P.AI_TRAIN: D}, True),
        ("genai=y", {P.GENAI_TRAIN: A}, True),
        ("ai-use=n", {P.AI_INPUT: D}, True),
        ("inference=y", {P.AI_INPUT: A}, True),
        ("ai-output=n", {P.AI_INPUT: D, P.SEARCH: D}, True),
        ("ai-output=y", {P.AI_INPUT: A, P.SEARCH: A}, True),
        ("foo=n", {}, False),
    ],
)
def test_label_mapping_spec_4_6(value: str, statement: dict[Purpose, Verdict], legacy: bool) -> None:
    reading = parse_usage(value)
    assert dict(reading.statement) == statement
    assert (Tag.LEGACY_LABEL in reading.tags) is legacy
    assert reading.hierarchical
    if legacy:
        assert any("vocab-0" in note for note in reading.notes)


def test_train_ai_allow_stays_narrow() -> None:
    assert P.ML_TRAIN not in parse_usage("train-ai=y").statement
    assert P.AI_TRAIN not in parse_usage("train-ai=y").statement


def test_cc_signals_exception_is_conditional_denial() -> None:
    reading = parse_usage("train-genai=n;exceptions=cc-cr-ec")
    assert reading.statement == {P.GENAI_TRAIN: D}
    assert Tag.CONDITIONAL in reading.tags
    assert any("exceptions" in note for note in reading.notes)


def test_allow_with_parameters_is_not_conditional() -> None:
    reading = parse_usage("search=y;foo=1")
    assert reading.statement == {P.SEARCH: A}
    assert Tag.CONDITIONAL not in reading.tags


def test_labels_disagreeing_on_a_purpose_deny_wins() -> None:
    reading = parse_usage("ai=y, train-ai=n")
    assert reading.statement == {P.AI_TRAIN: D}
    assert Tag.CONFLICT in reading.tags


@pytest.mark.parametrize("value", ["", "   ", "train-ai=n,", "=", "train-ai=n, Search=y", "\x00"])
def test_unparseable_or_empty_is_no_statement(value: str) -> None:
    assert parse_usage(value).statement == {}


def test_labels_table_is_data() -> None:
    assert set(LABELS) >= {
        "train-ai",
        "search",
        "train-genai",
        "all",
        "bots",
        "tdm",
        "ai",
        "genai",
        "ai-use",
        "inference",
        "ai-output",
    }


def test_most_restrictive_resolves_before_combining() -> None:
    # attach-05: `/a/ train-ai=y` + `/a/ train-ai=n` -> disallowed (genai-train too).
    merged, conflict = most_restrictive([{P.GENAI_TRAIN: A}, {P.AI_TRAIN: D}], hierarchical=True)
    assert merged[P.GENAI_TRAIN] is D
    assert merged[P.AI_TRAIN] is D
    assert conflict


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_usage_never_raises(value: str) -> None:
    reading = parse_usage(value)
    assert all(v in (A, D) for v in reading.statement.values())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=255)), max_size=4))
def test_header_never_raises_and_garbage_never_allows(values: list[str]) -> None:
    signals = header_signals(_response(*values))
    assert len(signals) == (1 if values else 0)
    label_free = not any(label in v for v in values for label in LABELS)
    if label_free:
        assert all(signal.statement == {} for signal in signals)
