"""Data-driven conformance: Google's robots_test.cc expectations, google/robotstxt-spec-test's compliance
cases and a sample of Protego's real robots.txt corpus, run through `RobotsPolicy.access` (sources and
commits: tests/fixtures/conformance/SOURCES).

Where we deliberately differ (RFC 9309 over Google's parser, conservative readings), the case is listed
below with its reason; docs/robots-conformance.md carries the same list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from protego import Protego

from consentry.policies.model import SiteFile
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.vocabulary import Verdict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "conformance"
GOOGLE = json.loads((FIXTURES / "google_robots_test.json").read_text(encoding="utf-8"))
SPEC_TEST = json.loads((FIXTURES / "google_spec_test.json").read_text(encoding="utf-8"))
SPEC_CASES = [(test, expectation) for test in SPEC_TEST for expectation in test["expectations"]]
CORPUS = sorted((FIXTURES / "protego_corpus").iterdir())

#: (test, line in robots_test.cc) -> why our answer differs from Google's expectation.
GOOGLE_DIFFERENCES = {
    ("GoogleOnly_AcceptUserAgentUpToFirstSpace", 247):
        "the crawler's own agent string 'Foo Bar' is reduced to its product token 'foo' (as the group's "
        "user-agent value is), so the 'Foo Bar' group applies; Google compares the caller's string whole",
    ("ID_Encoding", 419):
        "RFC 9309 §2.2.2 Figure 4: the URL path /foo/bar/ツ is matched as /foo/bar/%E3%83%84",
    ("ID_Encoding", 430):
        "RFC 9309 §2.2.2 Figure 4: /foo/bar/%E3%83%84 in a rule matches the URL /foo/bar/ツ",
    ("ID_Encoding", 441):
        "RFC 9309 §2.2.2 Figure 4 and RFC 3986 §6.2.2: %62%61%7A is the unreserved 'baz' and is decoded",
    ("GoogleOnly_IndexHTMLisDirectory", 505):
        "Google-only: an Allow for .../index.html also allowing the directory URL is not in RFC 9309",
}

_ROBOTS_TXT = "RFC 9309 §2.2.2: the /robots.txt URI is implicitly allowed; Google's matcher applies the rules to it"
_AGENT_TOKEN = (
    "the crawler's own agent string is reduced to its product token as the group's value is "
    "('AB42bot' -> 'ab', 'Foo Bar' -> 'foo'), so its group applies; Google compares the caller's string whole"
)
_FIGURE_4 = "RFC 9309 §2.2.2 Figure 4: ツ, %E3%83%84 and an encoded unreserved 'baz' compare equal after normalisation"

#: (file, test, agent, url) -> why our answer differs from robotstxt-spec-test's expectation.
SPEC_DIFFERENCES = {
    ("correctness/BOM-characters.textproto", 4, "foo", "http://example.com/AnyValue"):
        "a broken byte-order mark before line 1 is skipped (lenient, with a warning), the group kept",
    ("correctness/index-page.textproto", 1, "foobot", "http://foo.com/allowed-slash/"):
        "Google-only: an Allow for .../index.html also allowing the directory URL is not in RFC 9309",
    ("correctness/non-ascii-paths.textproto", 2, "FooBot", "http://foo.bar/foo/bar/ツ"): _FIGURE_4,
    ("correctness/non-ascii-paths.textproto", 3, "FooBot", "http://foo.bar/foo/bar/ツ"): _FIGURE_4,
    ("correctness/non-ascii-paths.textproto", 4, "FooBot", "http://foo.bar/foo/bar/baz"): _FIGURE_4,
    ("correctness/user-agent-name.textproto", 1, "Foo Bar", "http://foo.bar/x/y"): _AGENT_TOKEN,
    ("stress/327748.textproto", 1, "asdfbot", "http://m.example.com/robots.txt"): _ROBOTS_TXT,
    ("stress/369883.textproto", 1, "BarBot", "http://example.com/robots.txt"): _ROBOTS_TXT,
    ("stress/369883.textproto", 1, "AB", "http://example.com/robots.txt"): _ROBOTS_TXT,
    ("stress/369883.textproto", 1, "AB42bot", "http://example.com/foo/bar"): _AGENT_TOKEN,
    ("stress/369883.textproto", 1, "AB42bot", "http://example.com/"): _AGENT_TOKEN,
    ("stress/860237.textproto", 1, "XYZ", "http://example.com/robots.txt"): _ROBOTS_TXT,
}

#: (file, path) -> why our answer differs from Protego's can_fetch.
PROTEGO_DIFFERENCES = {
    ("www.xerox.com", "/NULL"): "'Disallow: NULL' (no leading '/') is read leniently as /NULL; Protego ignores it",
    ("www.xerox.com", "/NULL/sub"): "as above",
}

AGENT = "consentry"
FIXED_PATHS = ("/", "/index.html", "/search?q=1", "/wp-admin/", "/private/x", "/cgi-bin/a", "/a/b/c.html")
_RULE = re.compile(r"(?im)^\s*(?:dis)?allow\s*:\s*(\S+)")


def _body(case: dict[str, object]) -> bytes:
    if "robots_hex" in case:
        return bytes.fromhex(str(case["robots_hex"]))
    return str(case["robots"]).encode("utf-8")


def _allowed(body: bytes, agent: str, url: str, origin: str = "http://foo.bar") -> bool:
    policy = RobotsPolicy.parse(SiteFile.from_http(origin + "/robots.txt", 200, body), agent)
    return policy.access(url)[0] is Verdict.ALLOW


@pytest.mark.parametrize("case", GOOGLE, ids=lambda c: f"{c['test']}:{c['line']}")
def test_google_robots_test_cc(case: dict[str, object]) -> None:
    got = _allowed(_body(case), str(case["agent"]), str(case["url"]))
    if (case["test"], case["line"]) in GOOGLE_DIFFERENCES:
        assert got is not case["allowed"], "a listed difference no longer differs: drop it from the list"
    else:
        assert got is case["allowed"]


def test_google_cases_were_all_extracted() -> None:
    assert len(GOOGLE) == 140
    assert {(c["test"], c["line"]) for c in GOOGLE} >= set(GOOGLE_DIFFERENCES)


@pytest.mark.parametrize(
    ("test", "expectation"), SPEC_CASES,
    ids=[f"{t['file']}:{t['test']}:{e['agent']}:{e['url'][:60]}" for t, e in SPEC_CASES],
)
def test_google_robotstxt_spec_test(test: dict[str, object], expectation: dict[str, object]) -> None:
    body = _body(test)
    origin = "/".join(str(expectation["url"]).split("/")[:3])
    got = _allowed(body, str(expectation["agent"]), str(expectation["url"]), origin)
    key = (test["file"], test["test"], expectation["agent"], expectation["url"])
    if key in SPEC_DIFFERENCES:
        assert got is not expectation["allowed"], "a listed difference no longer differs: drop it from the list"
    else:
        assert got is expectation["allowed"]


def test_spec_test_cases_were_all_extracted() -> None:
    assert len(SPEC_CASES) == 400
    keys = {(t["file"], t["test"], e["agent"], e["url"]) for t, e in SPEC_CASES}
    assert keys >= set(SPEC_DIFFERENCES)


def _paths(text: str) -> list[str]:
    """Fixed paths plus, per Allow/Disallow value, the path it names (wildcards as 'x') and a child."""
    paths = list(FIXED_PATHS)
    for match in _RULE.finditer(text):
        value = match.group(1).split("#", 1)[0].replace("*", "x").rstrip("$")
        value = value if value.startswith("/") else "/" + value
        paths += [value, value.rstrip("/") + "/sub"]
    return list(dict.fromkeys(paths))[:60]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_protego_corpus_never_raises_and_agrees_with_protego(path: Path) -> None:
    body = path.read_bytes()
    text = body.decode("utf-8", errors="replace")
    protego = Protego.parse(text)
    origin = f"https://{path.name}"
    policy = RobotsPolicy.parse(SiteFile.from_http(origin + "/robots.txt", 200, body), AGENT)
    checked = 0
    for url_path in _paths(text):
        url = origin + url_path
        ours = policy.access(url)[0] is Verdict.ALLOW
        policy.signals(url)
        if (path.name, url_path) in PROTEGO_DIFFERENCES:
            assert ours is not protego.can_fetch(url, AGENT)
        else:
            assert ours is protego.can_fetch(url, AGENT), url
        checked += 1
    assert checked >= len(FIXED_PATHS)


def test_corpus_sample_size() -> None:
    assert len(CORPUS) == 50


def test_every_deliberate_difference_is_listed_in_the_docs() -> None:
    """docs/robots-conformance.md names every case listed above (Google test, spec-test file, Protego file)."""
    docs = (FIXTURES.parents[2] / "docs" / "robots-conformance.md").read_text(encoding="utf-8")
    names = {test for test, _ in GOOGLE_DIFFERENCES}
    names |= {file.removesuffix(".textproto") for file, *_ in SPEC_DIFFERENCES}
    names |= {file for file, _ in PROTEGO_DIFFERENCES}
    assert sorted(name for name in names if f"`{name}" not in docs) == []
