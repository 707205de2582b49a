"""robots.txt extension records for our token: Content-Usage (AIPREF attach-05), DisallowAITraining,
inferred AI-token groups, License lines (docs/signals/robots.md), warnings, hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.aitokens import TOKENS
from consentry.policies.model import SiteFile
from consentry.policies.robots.groups import product_token
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.vocabulary import Mechanism, Purpose, Tag, Verdict

P, A, D = Purpose, Verdict.ALLOW, Verdict.DENY
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "robots"
ROBOTS = "https://example.com/robots.txt"

ATTACH_05 = """User-Agent: *
Allow: /
Disallow: /never/
Content-Usage: train-ai=n
Content-Usage: /ai-ok/ train-ai=y

User-Agent: ExampleBot
Allow: /
Content-Usage: train-ai=y
"""


def _policy(text: str | bytes, agent: str = "consentry") -> RobotsPolicy:
    body = text.encode() if isinstance(text, str) else text
    return RobotsPolicy.parse(SiteFile.from_http(ROBOTS, 200, body), agent)


def _fixture(name: str, agent: str = "consentry") -> RobotsPolicy:
    return _policy((FIXTURES / name).read_bytes(), agent)


def _of(policy: RobotsPolicy, path: str, mechanism: Mechanism) -> list[dict[Purpose, Verdict]]:
    return [
        dict(s.statement) for s in policy.signals("https://example.com" + path) if s.mechanism is mechanism
    ]


# The robots.txt example of attach-05.
@pytest.mark.parametrize(
    ("agent", "path", "crawl", "preference"),
    [
        ("OtherBot", "/test", A, [{P.AI_TRAIN: D}]),
        ("OtherBot", "/never/test", D, []),
        ("OtherBot", "/ai-ok/test", A, [{P.GENAI_TRAIN: A}]),
        ("ExampleBot", "/test", A, [{P.GENAI_TRAIN: A}]),
        ("ExampleBot", "/never/test", A, [{P.GENAI_TRAIN: A}]),
        ("ExampleBot", "/ai-ok/test", A, [{P.GENAI_TRAIN: A}]),
    ],
)
def test_content_usage_robots_table_spec_4_5(
    agent: str, path: str, crawl: Verdict, preference: list[dict[Purpose, Verdict]]
) -> None:
    policy = _policy(ATTACH_05, agent)
    assert policy.access("https://example.com" + path)[0] is crawl
    assert _of(policy, path, Mechanism.ROBOTS_CONTENT_USAGE) == preference


def test_content_usage_evidence_names_line_and_group() -> None:
    [signal] = [
        s
        for s in _policy(ATTACH_05, "x").signals("https://example.com/ai-ok/a")
        if s.mechanism is Mechanism.ROBOTS_CONTENT_USAGE
    ]
    assert signal.evidence == 'line 5: Content-Usage: /ai-ok/ train-ai=y (group "*")'
    assert signal.hierarchical


def test_content_usage_equal_paths_conflict_most_restrictive_spec_4_5() -> None:
    policy = _policy("User-Agent: *\nContent-Usage: /a/ train-ai=y\nContent-Usage: /a/ train-ai=n\n")
    [signal] = [
        s for s in policy.signals("https://example.com/a/x") if s.mechanism is Mechanism.ROBOTS_CONTENT_USAGE
    ]
    assert signal.statement[P.GENAI_TRAIN] is D
    assert signal.statement[P.AI_TRAIN] is D
    assert Tag.CONFLICT in signal.tags


def test_content_usage_root_path_beats_pathless() -> None:
    policy = _policy("User-Agent: *\nContent-Usage: train-ai=n\nContent-Usage: / train-ai=y\n")
    assert _of(policy, "/x", Mechanism.ROBOTS_CONTENT_USAGE) == [{P.GENAI_TRAIN: A}]


def test_content_usage_wildcards_and_legacy_labels_warn() -> None:
    policy = _policy("User-Agent: *\nContent-Usage: /*.pdf$ ai=n\n")
    assert _of(policy, "/doc.pdf", Mechanism.ROBOTS_CONTENT_USAGE) == [{P.AI_TRAIN: D}]
    assert _of(policy, "/doc.html", Mechanism.ROBOTS_CONTENT_USAGE) == []
    assert any("legacy label" in w for w in policy.warnings)


# draft-canel-robots-ai-control-00
@pytest.mark.parametrize(
    ("path", "statement", "conflict"),
    [
        ("/x", {P.GENAI_TRAIN: D}, False),
        ("/open/x", {P.GENAI_TRAIN: A}, False),
        ("/tie/x", {P.GENAI_TRAIN: D}, True),
    ],
)
def test_disallow_ai_training_spec_12_1(path: str, statement: dict[Purpose, Verdict], conflict: bool) -> None:
    policy = _fixture("disallow-ai-training.txt")
    [signal] = [
        s
        for s in policy.signals("https://example.com" + path)
        if s.mechanism is Mechanism.ROBOTS_DISALLOW_AI_TRAINING
    ]
    assert dict(signal.statement) == statement
    assert Tag.LEGACY_LABEL in signal.tags
    assert (Tag.CONFLICT in signal.tags) is conflict
    # the same file's `Content-Usage: ai=n` (vocab-01) is read too
    assert _of(policy, path, Mechanism.ROBOTS_CONTENT_USAGE) == [{P.AI_TRAIN: D}]


# docs/signals/robots.md: `*` allows all; GPTBot, ClaudeBot, CCBot, Google-Extended -> Disallow: /
SPEC_14_3_4 = """User-agent: *
Allow: /

User-agent: GPTBot
User-agent: ClaudeBot
Disallow: /

User-agent: CCBot
Disallow: /

User-agent: Google-Extended
Disallow: /
"""


def test_inferred_spec_14_3_4() -> None:
    policy = _policy(SPEC_14_3_4)
    assert policy.access("https://example.com/a")[0] is A
    inferred = [
        s for s in policy.signals("https://example.com/a") if s.mechanism is Mechanism.ROBOTS_INFERRED
    ]
    by_statement = {frozenset(s.statement.items()): s for s in inferred}
    assert set(by_statement) == {
        frozenset({(P.AI_TRAIN, D)}),
        frozenset({(P.GENAI_TRAIN, D), (P.AI_INPUT, D)}),
    }
    training = by_statement[frozenset({(P.AI_TRAIN, D)})]
    assert "GPTBot, ClaudeBot" in training.evidence
    assert "CCBot" in training.evidence
    assert "Disallow: / (line 6)" in training.evidence
    assert all(s.tags == (Tag.INFERRED,) for s in inferred)


def test_inferred_ignores_star_user_and_unlisted_tokens() -> None:
    text = "User-agent: *\nDisallow: /x/\n\nUser-agent: ChatGPT-User\nUser-agent: NotAnAIBot\nDisallow: /\n"
    assert _of(_policy(text), "/a", Mechanism.ROBOTS_INFERRED) == []


def test_inferred_is_path_specific_and_search_tokens_mean_ai_input() -> None:
    text = "User-agent: PerplexityBot\nDisallow: /news/\n"
    policy = _policy(text)
    assert _of(policy, "/news/a", Mechanism.ROBOTS_INFERRED) == [{P.AI_INPUT: D}]
    assert _of(policy, "/blog/a", Mechanism.ROBOTS_INFERRED) == []


def test_inferred_air_file_shares_one_matcher() -> None:
    # The AIR robots.txt pattern: every listed name in one group, `Disallow: /`.
    names = [alias for token in TOKENS.values() for alias in token.aliases]
    text = "".join(f"User-agent: {name}\n" for name in names) + "Disallow: /\n"
    policy = _policy(text)
    inferred = [
        s for s in policy.signals("https://example.com/a") if s.mechanism is Mechanism.ROBOTS_INFERRED
    ]
    assert {P.AI_TRAIN: D} in [dict(s.statement) for s in inferred]
    assert any("Brightbot 1.0" in s.evidence or "Brightbot" in s.evidence for s in inferred)
    assert any("not a valid product token" in w for w in policy.warnings)


@pytest.mark.parametrize(
    ("token", "statement"),
    [
        ("GPTBot", {P.AI_TRAIN: D}),
        ("Google-Extended", {P.GENAI_TRAIN: D, P.AI_INPUT: D}),
        ("applebot-extended", {P.GENAI_TRAIN: D}),
        ("OAI-SearchBot", {P.AI_INPUT: D}),
        ("Brightbot 1.0", {P.AI_TRAIN: D}),
        ("iaskspider/2.0", {P.AI_INPUT: D}),
        ("ChatGPT-User", None),
        ("Amazonbot", None),
        ("consentry", None),
    ],
)
def test_ai_token_table(token: str, statement: dict[Purpose, Verdict] | None) -> None:
    entry = TOKENS.get(product_token(token))  # the lookup robots.txt groups use
    assert (None if entry is None or entry.statement is None else dict(entry.statement)) == statement


def test_license_lines_anywhere() -> None:
    text = (
        "License: https://example.com/a.xml\nUser-agent: *\nDisallow: /x\nLicense: /relative.xml\n"
        "User-agent: Other\nLicense: HTTPS://cdn.example.org/b.xml\n"
    )
    policy = _policy(text)
    assert policy.license_urls == ("https://example.com/a.xml", "HTTPS://cdn.example.org/b.xml")
    assert any("relative.xml" in w for w in policy.warnings)


def test_no_signals_for_disallowed_paths() -> None:
    policy = _policy("User-agent: *\nDisallow: /x/\nContent-Signal: ai-train=no\nContent-Usage: train-ai=n\n")
    assert policy.signals("https://example.com/x/a") == []
    assert len(policy.signals("https://example.com/y")) == 2


# Hostile inputs (fixtures named after their defect).
def test_html_error_page() -> None:
    policy = _fixture("html-error-page.txt")
    verdict, signal = policy.access("https://example.com/everything")
    assert verdict is A
    assert Tag.LENIENT in signal.tags
    assert any("HTML" in w for w in policy.warnings)


@pytest.mark.parametrize(
    ("name", "path"),
    [("bom-utf8.txt", "/bom/a"), ("cr-only-line-endings.txt", "/cr/a"), ("nul-bytes.txt", "/other")],
)
def test_odd_encodings_still_parse(name: str, path: str) -> None:
    policy = _fixture(name)
    expected = A if name == "nul-bytes.txt" else D
    assert policy.access("https://example.com" + path)[0] is expected


def test_nul_bytes_do_not_allow() -> None:
    policy = _fixture("nul-bytes.txt")
    assert policy.access("https://example.com/nul/")[0] is D


def test_cr_only_keeps_content_usage() -> None:
    assert _of(_fixture("cr-only-line-endings.txt"), "/x", Mechanism.ROBOTS_CONTENT_USAGE) == [
        {P.AI_TRAIN: D}
    ]


def test_content_usage_before_any_user_agent() -> None:
    policy = _fixture("content-usage-before-user-agent.txt")
    assert policy.access("https://example.com/orphan/")[0] is A  # orphan Disallow ignored
    signals = policy.signals("https://example.com/orphan/")
    usage = [s for s in signals if s.mechanism is Mechanism.ROBOTS_CONTENT_USAGE]
    assert [dict(s.statement) for s in usage] == [{P.AI_TRAIN: D}]
    assert all(Tag.UNGROUPED in s.tags for s in usage)
    assert any(Tag.UNGROUPED in s.tags for s in signals if s.mechanism is Mechanism.ROBOTS_CONTENT_SIGNAL)
    assert any("before any user-agent" in w for w in policy.warnings)


def test_lenient_aliases() -> None:
    policy = _fixture("lenient-aliases.txt")
    verdict, signal = policy.access("https://example.com/typo/a")
    assert verdict is D
    assert Tag.LENIENT in signal.tags
    assert any("lenient" in w for w in policy.warnings)


def test_cloudflare_managed_file() -> None:
    policy = _fixture("cloudflare-managed.txt")
    signals = policy.signals("https://example.com/a")
    assert [dict(s.statement) for s in signals if s.mechanism is Mechanism.ROBOTS_CONTENT_SIGNAL] == [
        {P.SEARCH: A, P.AI_TRAIN: D}
    ]
    assert len([s for s in signals if s.mechanism is Mechanism.ROBOTS_INFERRED]) == 2


def test_two_megabytes_of_junk() -> None:
    junk = bytes(range(256)) * 8192
    policy = RobotsPolicy.parse(SiteFile.from_http(ROBOTS, 200, junk, max_bytes=len(junk)), "consentry")
    assert policy.access("https://example.com/a")[0] is A
    assert all(Verdict.ALLOW not in s.statement.values() for s in policy.signals("https://example.com/a"))
    assert len(policy.warnings) < 50


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["/", "/a/b?c=d", "/robots.txt", "/%zz"]))
def test_never_raises(body: bytes, path: str) -> None:
    policy = RobotsPolicy.parse(SiteFile.from_http(ROBOTS, 200, body), "consentry")
    verdict, _ = policy.access("https://example.com" + path)
    assert verdict in (A, D)
    for signal in policy.signals("https://example.com" + path):
        if b"=y" not in body.lower() and b"allowaitraining" not in body.lower():
            assert Verdict.ALLOW not in signal.statement.values()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "User-agent: *",
                "User-agent: GPTBot",
                "user-agent: consentry",
                "Allow: /a",
                "Disallow: /",
                "Disallow: /a/b",
                "Content-Usage: train-ai=n",
                "Content-Usage: /a train-ai=y",
                "Content-Signal: ai-train=no",
                "Sitemap: x",
                "DisallowAITraining: /a",
                "# c",
                "",
                "License: https://l/x",
            ]
        ),
        max_size=25,
    ),
    st.sampled_from(["/", "/a", "/a/b/c", "/z"]),
)
def test_structured_never_raises(lines: list[str], path: str) -> None:
    policy = _policy("\n".join(lines))
    verdict, signal = policy.access("https://example.com" + path)
    assert signal.mechanism is Mechanism.ROBOTS
    if verdict is D:
        assert policy.signals("https://example.com" + path) == []


def test_inferred_statement_order_does_not_depend_on_the_hash_seed() -> None:
    """An inferred signal's statement lists its purposes in PURPOSES order whatever PYTHONHASHSEED is (it was a
    frozenset's order: two runs of the same crawl or audit wrote the record's keys in different orders)."""
    import os
    import subprocess
    import sys

    from consentry.policies.vocabulary import PURPOSES

    code = ("from consentry.policies.model import SiteFile\n"
            "from consentry.policies.robots.policy import RobotsPolicy\n"
            "p = RobotsPolicy.parse(SiteFile.from_http('https://e.com/robots.txt', 200,"
            " b'User-agent: Google-Extended\\nDisallow: /\\n'), 'consentry')\n"
            "print(' '.join(x.value for s in p.signals('https://e.com/a') for x in s.statement))\n")

    def order(seed: int) -> tuple[str, ...]:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)})
        return tuple(done.stdout.split())

    orders = {order(seed) for seed in range(1, 9)}
    assert orders == {tuple(p.value for p in PURPOSES if p in (Purpose.GENAI_TRAIN, Purpose.AI_INPUT))}
