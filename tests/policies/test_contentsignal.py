"""Cloudflare Content Signals: de-facto grammar, policy examples, header form
(docs/signals/content-signal.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.contentsignal import header_signals, parse_content_signal
from consentry.policies.model import AssetResponse, SiteFile
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

P, A, D = Purpose, Verdict.ALLOW, Verdict.DENY


@pytest.mark.parametrize(
    ("value", "statement", "tags", "noted"),
    [
        ("search=yes, ai-train=no", {P.SEARCH: A, P.AI_TRAIN: D}, (), False),  # ex. 1
        ("search=yes,ai-train=no,use=reference", {P.SEARCH: A, P.AI_TRAIN: D}, (), True),  # ex. 3
        ("ai-train=maybe", {}, (), True),  # ex. 4
        ("ai-input=no", {P.AI_INPUT: D}, (), False),
        ("ai-train=N", {P.AI_TRAIN: D}, (Tag.LENIENT,), True),
        ("search=Yes", {P.SEARCH: A}, (Tag.LENIENT,), True),
        ("search = y", {P.SEARCH: A}, (Tag.LENIENT,), True),
        ("ai-train=yes, ai-train=no", {P.AI_TRAIN: D}, (Tag.CONFLICT,), True),
        ("/private ai-train=no", {}, (), True),
        ("garbage", {}, (), True),
        ("", {}, (), False),
    ],
)
def test_parse_content_signal(
    value: str, statement: dict[Purpose, Verdict], tags: tuple[Tag, ...], noted: bool
) -> None:
    reading = parse_content_signal(value)
    assert dict(reading.statement) == statement
    assert reading.tags == tags
    assert bool(reading.notes) is noted
    assert reading.hierarchical is False


def _robots(text: str, agent: str) -> RobotsPolicy:
    return RobotsPolicy.parse(SiteFile.from_http("https://example.com/robots.txt", 200, text.encode()), agent)


def _content_signals(
    policy: RobotsPolicy, url: str = "https://example.com/x"
) -> list[dict[Purpose, Verdict]]:
    return [dict(s.statement) for s in policy.signals(url) if s.mechanism is Mechanism.ROBOTS_CONTENT_SIGNAL]


@pytest.mark.parametrize(
    ("text", "agent", "expected"),
    [
        # ex. 1
        (
            "User-Agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n",
            "ExampleAIBot",
            [{P.SEARCH: A, P.AI_TRAIN: D}],
        ),
        # ex. 2: own group wins, `*` ignored
        (
            "User-Agent: *\nContent-Signal: ai-train=no\n\nUser-Agent: ExampleAIBot\nContent-Signal: ai-train=yes\n",
            "ExampleAIBot",
            [{P.AI_TRAIN: A}],
        ),
        (
            "User-Agent: *\nContent-Signal: ai-train=no\n\nUser-Agent: ExampleAIBot\nContent-Signal: ai-train=yes\n",
            "OtherBot",
            [{P.AI_TRAIN: D}],
        ),
        # ex. 3
        (
            "User-Agent: *\nContent-Signal: search=yes,ai-train=no,use=reference\nAllow: /\n",
            "x",
            [{P.SEARCH: A, P.AI_TRAIN: D}],
        ),
        # ex. 4: unknown value -> nothing said
        ("User-Agent: *\nContent-Signal: ai-train=maybe\n", "x", []),
    ],
)
def test_robots_content_signal_examples_spec_5(
    text: str, agent: str, expected: list[dict[Purpose, Verdict]]
) -> None:
    assert _content_signals(_robots(text, agent)) == expected


def test_several_lines_in_a_group_combine_most_restrictive() -> None:
    policy = _robots(
        "User-Agent: *\nContent-Signal: ai-train=yes, search=yes\nContent-Signal: ai-train=no\n", "x"
    )
    [signal] = [
        s for s in policy.signals("https://example.com/") if s.mechanism is Mechanism.ROBOTS_CONTENT_SIGNAL
    ]
    assert signal.statement[P.AI_TRAIN] is D
    assert signal.statement[P.SEARCH] is A
    assert Tag.CONFLICT in signal.tags
    assert "line 2" in signal.evidence
    assert "line 3" in signal.evidence


def test_ungrouped_line_applies_to_every_agent() -> None:
    policy = _robots("Content-Signal: ai-train=no\nUser-Agent: consentry\nAllow: /\n", "consentry")
    [signal] = [
        s for s in policy.signals("https://example.com/") if s.mechanism is Mechanism.ROBOTS_CONTENT_SIGNAL
    ]
    assert signal.statement == {P.AI_TRAIN: D}
    assert Tag.UNGROUPED in signal.tags


def test_unknown_key_is_a_warning() -> None:
    policy = _robots("User-Agent: *\nContent-Signal: search=yes,use=reference\n", "x")
    assert any("use" in w for w in policy.warnings)


def test_header_signal() -> None:
    response = AssetResponse("https://e.com/a.md", 200, (("Content-Signal", "ai-train=no, search=yes"),))
    [signal] = header_signals(response)
    assert signal.mechanism is Mechanism.CONTENT_SIGNAL_HEADER
    assert signal.scope is Scope.RESPONSE
    assert signal.statement == {P.AI_TRAIN: D, P.SEARCH: A}
    assert signal.hierarchical is False
    assert header_signals(AssetResponse("https://e.com/", 200)) == []


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_garbage_never_allows(value: str) -> None:
    reading = parse_content_signal(value)
    if "y" not in value.lower():
        assert Verdict.ALLOW not in reading.statement.values()
