"""Linear-time RFC 9309 path patterns, request-path normalisation and percent-encoding in rules
(RFC 9309 §2.2.2-§2.2.3, RFC 3986 §5.2.4 and §6.2.2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.model import SiteFile
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.robots.urlpattern import compile_pattern, match_key, request_path, server_key
from consentry.policies.vocabulary import Verdict

ROBOTS = "https://example.com/robots.txt"


def _policy(text: str, agent: str = "FooBot") -> RobotsPolicy:
    return RobotsPolicy.parse(SiteFile.from_http(ROBOTS, 200, text.encode()), agent)


def _reference(pattern: str, key: str) -> bool:
    """Textbook dynamic-programming wildcard match: `*` any run, a final `$` anchors, else a prefix."""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    # reach[j]: the pattern read so far can end at key position j.
    reach = [True] + [False] * len(key)
    for char in body:
        if char == "*":
            for j in range(1, len(key) + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [reach[j - 1] and key[j - 1] == char for j in range(1, len(key) + 1)]
    return reach[len(key)] if anchored else any(reach)


@settings(max_examples=600)
@given(st.text(alphabet="ab/*$", max_size=12), st.text(alphabet="ab*$", max_size=24))
def test_matcher_agrees_with_dynamic_programming_reference(tail: str, path: str) -> None:
    pattern = "/" + tail
    compiled = compile_pattern(pattern)
    assert compiled is not None
    key = "/" + path  # no "/" after the first, so the match key is the path itself
    assert match_key(key) == key
    assert compiled.matches_key(key) is _reference(pattern, key)


@settings(max_examples=300)
@given(st.text(alphabet="ab*$", max_size=10), st.text(alphabet="ab*$", max_size=30))
def test_star_first_patterns_agree_with_reference(tail: str, path: str) -> None:
    compiled = compile_pattern("*" + tail)
    assert compiled is not None
    assert compiled.matches_key("/" + path) is _reference("*" + tail, "/" + path)


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/*a*a*a*a*a*a*a*a*a*a*a*a*b", "/" + "a" * 10_000, False),
    ("/*a*a*a*a*a*a*a*a*a*a*a*a*b", "/" + "a" * 10_000 + "b", True),
    ("/" + "*a" * 40 + "*b$", "/" + "a" * 10_000 + "c", False),
    ("/" + "*a" * 40 + "*b$", "/" + "a" * 10_000 + "b", True),
    ("/" + "*" * 40 + "x", "/" + "y" * 10_000, False),
    ("/a$b", "/a$b/c", True),          # a `$` that does not end the pattern is literal
    ("/a$b$", "/a$b/c", False),
    ("/a$b$", "/a$b", True),
    ("/a*$", "/a/anything", True),     # `*$` anchors nothing more than `*`
    ("/a$$", "/a$", True),             # only the last `$` anchors
    ("/fish*.php", "/fish.php", True),
    ("/fish*.php", "/fishheads/catfish.php?p=1", True),
    ("/*.php$", "/filename.php?q", False),
])
def test_adversarial_and_literal_dollar(pattern: str, path: str, matches: bool) -> None:
    compiled = compile_pattern(pattern)
    assert compiled is not None
    assert compiled.matches(path) is matches


# RFC 9309 §2.2.2 Figure 4: each spelling of the rule path matches each spelling of the URL path.
FIGURE_4 = [
    ("/foo/bar?baz=quz", "/foo/bar?baz=quz", "/foo/bar?baz=quz"),
    ("/foo/bar?baz=https://foo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar"),
    ("/foo/bar/\u30c4", "/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84"),
    ("/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84"),
    ("/foo/bar/%62%61%7A", "/foo/bar/%62%61%7A", "/foo/bar/baz"),
]
# RFC 9309 §2.2.3 Figure 6: a percent-encoded special character in a rule matches it verbatim.
FIGURE_6 = [
    ("/path/file-with-a-%2A.html", "https://www.example.com/path/file-with-a-*.html"),
    ("/path/foo-%24", "https://www.example.com/path/foo-$"),
]


@pytest.mark.parametrize("row", FIGURE_4)
@pytest.mark.parametrize("rule_column", [0, 1, 2])
@pytest.mark.parametrize("url_column", [0, 1, 2])
def test_rfc9309_figure_4(row: tuple[str, str, str], rule_column: int, url_column: int) -> None:
    policy = _policy(f"User-agent: *\nDisallow: {row[rule_column]}\n")
    verdict, signal = policy.access("https://www.example.com" + row[url_column])
    assert verdict is Verdict.DENY, signal.evidence


@pytest.mark.parametrize(("rule", "url"), FIGURE_6)
def test_rfc9309_figure_6(rule: str, url: str) -> None:
    assert _policy(f"User-agent: *\nDisallow: {rule}\n").access(url)[0] is Verdict.DENY
    # The encoded form of the URL is the same resource.
    encoded = url.replace("*", "%2A").replace("$", "%24")
    assert _policy(f"User-agent: *\nDisallow: {rule}\n").access(encoded)[0] is Verdict.DENY


@pytest.mark.parametrize(("rule", "path", "verdict"), [
    ("/path/file-with-a-%2A.html", "/path/file-with-a-x.html", Verdict.ALLOW),  # %2A is no wildcard
    ("/path/foo-%24", "/path/foo-", Verdict.ALLOW),                             # %24 is no anchor
    ("/path/foo-%24", "/path/foo-$bar", Verdict.DENY),                          # ... nor an end
    ("/path/*-%24", "/path/x/y-$", Verdict.DENY),
    ("/a%2Fb", "/a/b", Verdict.ALLOW),     # an encoded slash is not a path separator
    ("/a%2Fb", "/a%2fb", Verdict.DENY),
    ("/%7Ejoe/", "/~joe/x", Verdict.DENY),
])
def test_percent_encoded_rules(rule: str, path: str, verdict: Verdict) -> None:
    assert _policy(f"User-agent: *\nDisallow: {rule}\n").access("https://example.com" + path)[0] is verdict


@pytest.mark.parametrize("path", [
    "/private/x",
    "/public/../private/x",
    "/public/./../private/x",
    "/public/%2e%2e/private/x",
    "/public/%2E%2E/private/x",
    "/public/..%2fprivate/x",
    "/public/..%2Fprivate/x",
    "/public%2f..%2fprivate/x",
    "/%70rivate/x",
    "/%70%72%69%76%61%74%65/x",
    "//private/x",
    "/public//../private/x",
    "/a/b/../../private/x",
    "/../private/x",
])
def test_spellings_a_server_resolves_to_private_are_disallowed(path: str) -> None:
    policy = _policy("User-agent: *\nAllow: /public/\nDisallow: /private/\n")
    verdict, signal = policy.access("https://example.com" + path)
    assert verdict is Verdict.DENY, path
    assert "Disallow: /private/" in signal.evidence


@pytest.mark.parametrize("path", ["/public/x", "/public/./x", "/public/a/../x", "/public//x"])
def test_normalisation_keeps_allowed_paths_allowed(path: str) -> None:
    policy = _policy("User-agent: *\nDisallow: /\nAllow: /public/\n")
    assert policy.access("https://example.com" + path)[0] is Verdict.ALLOW


def test_double_slash_is_read_both_ways_and_never_widens_a_rule() -> None:
    # `//public/x` is not under /public/ to an RFC 3986 server: the Disallow reading wins.
    policy = _policy("User-agent: *\nDisallow: /\nAllow: /public/\n")
    assert policy.access("https://example.com//public/x")[0] is Verdict.DENY
    # A rule written with `//` still matches the path written with `//` (no merging on the rule side),
    # and `Allow: //` does not become `Allow: /`.
    literal = _policy("User-agent: *\nDisallow: /http://other.example/feed\n")
    assert literal.access("https://example.com/http://other.example/feed")[0] is Verdict.DENY
    assert _policy("User-agent: *\nDisallow: /\nAllow: //\n").access("https://example.com/x")[0] is Verdict.DENY


@pytest.mark.parametrize(("url", "path"), [
    ("https://ex.com/public/../private/", "/private/"),
    ("https://ex.com/public/%2e%2e/private/", "/private/"),
    ("https://ex.com/public/..%2fprivate/", "/public/..%2Fprivate/"),  # the request keeps the encoded slash
    ("https://ex.com//private//a", "//private//a"),       # `//` is sent as written
    ("https://ex.com/public//../private/", "/public/private/"),  # RFC 3986 §5.2.4: `..` removes the empty segment
    ("https://ex.com/%70rivate/?q=%2f", "/private/?q=%2F"),
    ("https://ex.com/a/b/..", "/a/"),
    ("https://ex.com/a/.", "/a/"),
    ("https://ex.com/..", "/"),
    ("https://ex.com/a/./b/../c?x=/../y", "/a/c?x=/../y"),  # the query is not a path
])
def test_request_path_is_the_normalised_url_to_request(url: str, path: str) -> None:
    assert request_path(url) == path


def test_server_key_only_when_it_differs() -> None:
    assert server_key("/public/..%2Fprivate/") == "/private/"
    assert server_key("//private/") == "/private/"
    assert server_key("https://ex.com//private/") == "/private/"
    assert server_key("/public//../private/") == "/private/"
    assert server_key("https://ex.com/public//../private/?u=http://x") == "/private/?u=http://x"
    assert server_key("https://ex.com/a?u=http://x") is None
    assert server_key("/private/") is None
    assert server_key("/a%2Fb") == "/a/b"
    assert match_key("/a%2Fb") != match_key("/a/b")


def test_rfc_reading_still_decides_when_the_decoded_reading_allows() -> None:
    # The Disallow that matches only the RFC 9309 reading keeps the path disallowed.
    policy = _policy("User-agent: *\nDisallow: /private/..%2Fpublic/\n")
    assert policy.access("https://example.com/private/..%2Fpublic/x")[0] is Verdict.DENY


_UNRESERVED = "abcdefghijklmnopqrstuvwxyz0123456789-._~"


@st.composite
def _private_spellings(draw: st.DrawFn) -> str:
    """A path to /private/<name> spelled as a hostile client might: detours through `..`, doubled
    slashes, percent-encoded unreserved characters, `..%2F`."""
    name = draw(st.text(alphabet="abc", min_size=1, max_size=5))
    detours = draw(st.lists(st.sampled_from(["/public/..", "/public/%2e%2e", "/public/..%2F", "/./", "//"]),
                            max_size=3))
    spelled = "".join(
        f"%{ord(c):02X}" if c in _UNRESERVED and draw(st.booleans()) else c for c in "private"
    )
    path = "".join(detours) + "/" + spelled + "/" + name
    return path.replace("%2F/", "%2F")  # `..%2F` already carries its slash


@settings(max_examples=300)
@given(_private_spellings())
def test_no_spelling_steps_out_of_a_disallowed_directory(path: str) -> None:
    policy = _policy("User-agent: *\nAllow: /public/\nDisallow: /private/\n")
    assert policy.access("https://example.com" + path)[0] is Verdict.DENY, path


@given(st.text(max_size=300), st.text(max_size=80))
def test_any_robots_text_and_url_never_raise(text: str, path: str) -> None:
    policy = _policy(text)
    verdict, _ = policy.access("https://example.com/" + path)
    assert verdict in (Verdict.ALLOW, Verdict.DENY)
    assert isinstance(policy.signals("https://example.com/" + path), list)


def _longest_match(rules: list[tuple[bool, str]], key: str) -> tuple[int, bool] | None:
    """Brute force over every rule: the longest matching pattern (by the reference matcher) and whether an
    Allow of that length is among the matches; None when nothing matches."""
    lengths = [(len(pattern.encode()), allow) for allow, pattern in rules if _reference(pattern, key)]
    if not lengths:
        return None
    longest = max(length for length, _ in lengths)
    return longest, any(allow for length, allow in lengths if length == longest)


@settings(max_examples=500)
@given(
    st.lists(st.tuples(st.booleans(), st.text(alphabet="ab.x/*$", min_size=1, max_size=7)), max_size=8),
    st.text(alphabet="ab.x/", max_size=16),
)
def test_rule_choice_agrees_with_brute_force(rules: list[tuple[bool, str]], tail: str) -> None:
    """`RuleMatcher` skips the wildcard rules when one search finds none of their required literals in the key;
    whatever it skips, its choice is the longest match over every rule, Allow winning ties (RFC 9309 §2.2.2)."""
    from consentry.policies.robots.groups import Line
    from consentry.policies.robots.rules import RuleMatcher, rules_from

    written = [(allow, "/" + pattern.lstrip("/")) for allow, pattern in rules]
    lines = [Line(number, "allow" if allow else "disallow", pattern, f"x: {pattern}")
             for number, (allow, pattern) in enumerate(written, start=1)]
    key = match_key("/" + tail)
    rule, _ = RuleMatcher(rules_from(lines, "allow", "disallow"))._decide_key(key)
    expected = _longest_match(written, key)
    assert (None if rule is None else (rule.pattern.length, rule.allow)) == expected


@settings(max_examples=800)
@given(st.text(alphabet="ab/.%2F?#éx-_~ ", max_size=20))
def test_match_key_shortcut_equals_the_full_reading(tail: str) -> None:
    """`match_key` returns a clean request path as it is; for every path it equals normalising, resolving and
    decoding it in full (RFC 3986 §6.2.2, §5.2.4)."""
    from consentry.policies.robots import urlpattern

    for path in ("/" + tail, tail):
        head, mark, query = urlpattern._split_normalized(path)
        full = urlpattern._decode(head) + mark + urlpattern._decode_query(query)
        assert urlpattern.match_key.__wrapped__(path) == full
