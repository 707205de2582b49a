"""RFC 9309 conformance of RobotsPolicy.access, one test per section of RFC 9309."""

from __future__ import annotations

import pytest
from protego import Protego

from consentry.policies.model import MIN_SITEFILE_BYTES, SiteFile
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.vocabulary import Verdict

ROBOTS = "https://example.com/robots.txt"
SPEC_2_6 = """User-agent: *
Disallow: /private/
Allow: /private/public/

User-agent: ExampleAIBot
User-agent: GPTBot
Disallow: /
Allow: /press/

User-agent: GPTBot
Disallow: /press/embargo/
"""


def _policy(text: str | bytes, agent: str = "ExampleAIBot", status: int = 200) -> RobotsPolicy:
    body = text.encode() if isinstance(text, str) else text
    return RobotsPolicy.parse(SiteFile.from_http(ROBOTS, status, body), agent)


def _verdict(policy: RobotsPolicy, path: str) -> Verdict:
    return policy.access("https://example.com" + path)[0]


# Group merging and longest match (RFC 9309 §2.2.1, §2.2.2).
@pytest.mark.parametrize(
    ("agent", "path", "verdict", "deciding"),
    [
        ("ExampleAIBot", "/press/2024/x", Verdict.ALLOW, "line 8: Allow: /press/"),
        ("ExampleAIBot", "/blog", Verdict.DENY, "line 7: Disallow: /"),
        ("GPTBot", "/press/embargo/a", Verdict.DENY, "line 11: Disallow: /press/embargo/"),
        ("OtherBot", "/private/public/a", Verdict.ALLOW, "line 3: Allow: /private/public/"),
        ("OtherBot", "/private/a", Verdict.DENY, "line 2: Disallow: /private/"),
    ],
)
def test_2_2_1_group_merging_and_star_fallback(
    agent: str, path: str, verdict: Verdict, deciding: str
) -> None:
    got, signal = _policy(SPEC_2_6, agent).access("https://example.com" + path)
    assert got is verdict
    assert signal.evidence.startswith(deciding)
    assert signal.statement == {}


def test_2_2_1_product_token_is_case_insensitive_and_extracted() -> None:
    assert _verdict(_policy("User-agent: exampleaibot/2.0\nDisallow: /\n"), "/x") is Verdict.DENY
    assert _verdict(_policy("User-agent: * anything\nDisallow: /\n"), "/x") is Verdict.DENY


def test_2_2_1_no_matching_group_and_no_star_allows_everything() -> None:
    assert _verdict(_policy("User-agent: SomeOtherBot\nDisallow: /\n"), "/a") is Verdict.ALLOW


def test_2_2_1_rules_before_any_user_agent_are_ignored() -> None:
    policy = _policy("Disallow: /\nUser-agent: *\nAllow: /x\n")
    assert _verdict(policy, "/y") is Verdict.ALLOW
    assert any("before any user-agent" in w for w in policy.warnings)


@pytest.mark.parametrize(
    ("rules", "path", "verdict"),
    [
        ("Allow: /page\nDisallow: /page\n", "/page", Verdict.ALLOW),  # tie -> allow
        ("Disallow: /*.gif$\n", "/a.gif", Verdict.DENY),
        ("Disallow: /*.gif$\n", "/a.gif?x=1", Verdict.ALLOW),
        ("Disallow: /%7Ejoe/\n", "/~joe/a", Verdict.DENY),
        ("Disallow: /~joe/\n", "/%7Ejoe/a", Verdict.DENY),
        ("Disallow: /a%2Fb\n", "/a/b", Verdict.ALLOW),  # encoded reserved stays encoded
        ("Disallow: /foo/bar?baz=quz\n", "/foo/bar?baz=quz", Verdict.DENY),
        ("Disallow: /ö\n", "/%C3%B6", Verdict.DENY),
        ("Disallow: /\nAllow: /a\nAllow: /a/b$\n", "/a/b/c", Verdict.ALLOW),
        ("Disallow:\n", "/anything", Verdict.ALLOW),  # empty pattern matches nothing
        ("Disallow: /\n", "/robots.txt", Verdict.ALLOW),  # robots.txt always allowed
        ("Disallow: /Private\n", "/private", Verdict.ALLOW),  # case-sensitive
    ],
)
def test_2_2_2_percent_encoding_longest_match_allow_on_tie(rules: str, path: str, verdict: Verdict) -> None:
    assert _verdict(_policy("User-agent: *\n" + rules), path) is verdict


@pytest.mark.parametrize(
    ("status", "verdict", "cites"),
    [
        (200, Verdict.DENY, "Disallow"),
        (404, Verdict.ALLOW, "§2.3.1.3"),
        (410, Verdict.ALLOW, "§2.3.1.3"),
        (503, Verdict.DENY, "§2.3.1.4"),
        (500, Verdict.DENY, "§2.3.1.4"),
        (429, Verdict.DENY, "§2.3.1.4"),
    ],
)
def test_2_3_1_status_codes(status: int, verdict: Verdict, cites: str) -> None:
    got, signal = _policy("User-agent: *\nDisallow: /\n", status=status).access("https://example.com/a")
    assert got is verdict
    assert cites in signal.evidence
    if status != 200:
        assert str(status) in signal.evidence


def test_2_3_1_2_too_many_redirects_is_unreachable() -> None:
    policy = RobotsPolicy.parse(SiteFile.from_error(ROBOTS, "more than 5 redirects"), "ExampleAIBot")
    verdict, signal = policy.access("https://example.com/a")
    assert verdict is Verdict.DENY
    assert "redirects" in signal.evidence
    assert policy.signals("https://example.com/a") == []


def test_2_3_1_unavailable_has_no_extension_signals() -> None:
    policy = _policy("User-agent: *\nContent-Usage: train-ai=n\n", status=404)
    assert policy.signals("https://example.com/a") == []


def test_2_3_1_5_parse_errors_keep_the_parseable_rules() -> None:
    policy = _policy("User-agent: *\nthis is not a rule\nFoo: bar\nDisallow: /x\n")
    assert _verdict(policy, "/x") is Verdict.DENY
    assert any("parse to nothing" in w for w in policy.warnings)


def test_2_5_size_cap() -> None:
    body = b"User-agent: *\nDisallow: /early/\n" + b"#" * MIN_SITEFILE_BYTES + b"\nDisallow: /late/\n"
    policy = RobotsPolicy.parse(SiteFile.from_http(ROBOTS, 200, body), "x")
    early, signal = policy.access("https://example.com/early/a")
    assert early is Verdict.DENY
    assert "lenient" in {t.value for t in signal.tags}
    assert _verdict(policy, "/late/a") is Verdict.ALLOW
    assert any("truncated" in w for w in policy.warnings)


@pytest.mark.parametrize(
    "path", ["/", "/press/", "/press/embargo/x", "/private/public/y", "/private/z", "/blog?q=1", "/a.gif"]
)
@pytest.mark.parametrize("agent", ["ExampleAIBot", "GPTBot", "OtherBot"])
def test_2_2_2_agrees_with_protego_on_the_selected_group(agent: str, path: str) -> None:
    # Protego sees only the group our RFC 9309 selection picked, re-served as `*`.
    selected = {
        "ExampleAIBot": "Disallow: /\nAllow: /press/\n",
        "GPTBot": "Disallow: /\nAllow: /press/\nDisallow: /press/embargo/\n",
        "OtherBot": "Disallow: /private/\nAllow: /private/public/\n",
    }[agent]
    oracle = Protego.parse("User-agent: *\n" + selected).can_fetch("https://example.com" + path, "*")
    assert (_verdict(_policy(SPEC_2_6, agent), path) is Verdict.ALLOW) is oracle
