"""Spawning ai.txt: the generator's formats (docs/signals/ai-txt.md), tie/case handling, hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.aitxt import AiTxtPolicy
from consentry.policies.model import SiteFile
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

P, A, D = Purpose, Verdict.ALLOW, Verdict.DENY
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aitxt"
AI_TXT = "https://example.com/ai.txt"


def _policy(text: str | bytes, status: int = 200) -> AiTxtPolicy:
    body = text.encode() if isinstance(text, str) else text
    return AiTxtPolicy.parse(SiteFile.from_http(AI_TXT, status, body), "consentry")


def _verdicts(policy: AiTxtPolicy, path: str) -> list[Verdict]:
    return [s.statement[P.AI_TRAIN] for s in policy.signals("https://example.com" + path)]


EX1 = "User-agent: *\nDisallow: *.jpg\nDisallow: *.png\nAllow: /\n"
EX2 = "User-agent: *\nDisallow: *\nDisallow: /\n"


@pytest.mark.parametrize(
    ("text", "status", "path", "verdicts"),
    [
        (EX1, 200, "/img/cat.jpg", [D]),  # ex. 1
        (EX1, 200, "/post.html", [A]),  # ex. 1
        (EX2, 200, "/anything", [D]),  # ex. 2
        (EX2, 200, "/", [D]),  # ex. 2
        (EX1, 404, "/img/cat.jpg", []),  # ex. 3: no statement
        ((FIXTURES / "markdown-front-matter.txt").read_text(), 200, "/a.jpg", []),  # ex. 4
    ],
)
def test_examples_spec_3(text: str, status: int, path: str, verdicts: list[Verdict]) -> None:
    assert _verdicts(_policy(text, status), path) == verdicts


def test_markdown_is_ignored_with_a_warning() -> None:
    policy = _policy((FIXTURES / "markdown-front-matter.txt").read_bytes())
    assert any("not Spawning format" in w for w in policy.warnings)


def test_signal_shape() -> None:
    [signal] = _policy(EX1).signals("https://example.com/img/cat.jpg")
    assert signal.mechanism is Mechanism.AI_TXT
    assert signal.scope is Scope.SITE
    assert signal.source == AI_TXT
    assert signal.evidence == "line 2: Disallow: *.jpg"
    assert signal.hierarchical is False


def test_generator_output_with_stray_slashes() -> None:
    policy = _policy((FIXTURES / "spawning-generator.txt").read_bytes())
    assert _verdicts(policy, "/a/b.png") == [D]
    assert _verdicts(policy, "/notes.txt") == [A]
    assert _verdicts(policy, "/index.html") == [A]


def test_crlf_disallow_everything() -> None:
    assert _verdicts(_policy((FIXTURES / "disallow-everything-crlf.txt").read_bytes()), "/x.html") == [D]


def test_exact_tie_goes_to_disallow_with_conflict() -> None:
    [signal] = _policy("User-agent: *\nAllow: /a/\nDisallow: /a/\n").signals("https://example.com/a/x")
    assert signal.statement == {P.AI_TRAIN: D}
    assert Tag.CONFLICT in signal.tags


def test_case_insensitive_second_look_is_lenient() -> None:
    [signal] = _policy(EX1).signals("https://example.com/IMG.JPG")
    assert signal.statement == {P.AI_TRAIN: D}
    assert Tag.LENIENT in signal.tags


def test_unreachable_is_unverifiable() -> None:
    [signal] = _policy(EX1, status=503).signals("https://example.com/a.jpg")
    assert signal.statement == {}
    assert signal.tags == (Tag.UNVERIFIABLE,)
    assert "503" in signal.evidence
    policy = AiTxtPolicy.parse(SiteFile.from_error(AI_TXT, "connection refused"), "consentry")
    assert policy.signals("https://example.com/")[0].tags == (Tag.UNVERIFIABLE,)


def test_own_group_beats_star() -> None:
    policy = _policy("User-agent: *\nDisallow: /\n\nUser-agent: consentry\nAllow: /\n")
    assert _verdicts(policy, "/x") == [A]


def test_html_error_page_is_not_spawning() -> None:
    policy = _policy("<!doctype html><html><body>Disallow: /</body></html>")
    assert policy.signals("https://example.com/") == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["/", "/a.jpg", "/A.JPG", "/x?y"]))
def test_never_raises_and_garbage_never_allows(body: bytes, path: str) -> None:
    signals = _policy(body).signals("https://example.com" + path)
    if b"allow" not in body.lower() or b"user" not in body.lower():
        assert all(Verdict.ALLOW not in s.statement.values() for s in signals)
