"""Excluded-domain lists: line validation with numbered problems, host/subdomain matching, the skip decision."""

from __future__ import annotations

import pytest

from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import evaluate_exclusion
from consentry.policies.exclusion import ExcludedDomains, parse_list
from consentry.policies.vocabulary import Mechanism, Verdict

_LIST = """\
# persistently infringing sites
Pirates.example
cdn.mirror.example.  # a host only
not a domain
-bad-.example
10.0.0.7
[::1]
co.uk
"""


def _parsed() -> tuple[ExcludedDomains, tuple[str, ...]]:
    entries, problems = parse_list(_LIST, "blocked.txt", is_public_suffix=lambda name: name == "co.uk")
    return ExcludedDomains(entries), problems


def test_lines_are_validated_and_numbered() -> None:
    excluded, problems = _parsed()
    assert [(e.name, e.line) for e in excluded.entries] == [
        ("pirates.example", 2), ("cdn.mirror.example", 3), ("10.0.0.7", 6), ("::1", 7)]
    assert problems == (
        "blocked.txt line 4: 'not a domain' is not a domain or host; skipped",
        "blocked.txt line 5: '-bad-.example' is not a domain or host; skipped",
        "blocked.txt line 8: 'co.uk' is a public suffix, not a registrable domain; skipped",
    )


@pytest.mark.parametrize(("url", "name"), [
    ("https://pirates.example/film.mp4", "pirates.example"),
    ("https://WWW.Pirates.Example./x", "pirates.example"),
    ("http://a.b.pirates.example:8080/", "pirates.example"),
    ("https://cdn.mirror.example/x.jpg", "cdn.mirror.example"),
    ("https://img.cdn.mirror.example/x.jpg", "cdn.mirror.example"),
    ("http://10.0.0.7:81/", "10.0.0.7"),
    ("http://[::1]:8000/", "::1"),
    ("https://mirror.example/", None),
    ("https://notpirates.example/", None),
    ("https://pirates.example.org/", None),
    ("http://110.0.0.7/", None),
    ("mailto:someone@pirates.example", None),
    ("http://[broken/", None),
])
def test_match_covers_the_name_and_its_subdomains_only(url: str, name: str | None) -> None:
    excluded, _ = _parsed()
    entry = excluded.match(url)
    assert (entry.name if entry else None) == name


def test_the_first_list_naming_a_domain_is_the_evidence() -> None:
    first, _ = parse_list("a.example\n", "one.txt")
    second, _ = parse_list("\n\na.example\n", "two.txt")
    entry = ExcludedDomains((*first, *second)).match("https://a.example/")
    assert entry is not None
    assert (entry.source, entry.line) == ("one.txt", 1)


def test_json_round_trip_and_refusal() -> None:
    excluded, _ = _parsed()
    assert ExcludedDomains.from_json(excluded.to_json()) == excluded
    with pytest.raises(ValueError, match="not a list"):
        ExcludedDomains.from_json({"a": 1})
    with pytest.raises(ValueError, match="not \\[name, source, line\\]"):
        ExcludedDomains.from_json([["a.example", "x"]])


def test_exclusion_decision_is_a_skip_with_list_and_line() -> None:
    excluded, _ = _parsed()
    config = PolicyConfig(excluded=excluded)
    decision = evaluate_exclusion("https://img.pirates.example/a.jpg", config, fetched_at=None)
    assert decision is not None
    record = decision.to_record()
    assert record["action"] == "skip"
    assert record["access"] == Verdict.DENY.value
    assert record["signals"][0]["mechanism"] == Mechanism.EXCLUDED_DOMAIN.value
    assert record["signals"][0]["evidence"] == (
        "excluded domain pirates.example (blocked.txt line 2) covers img.pirates.example")
    assert evaluate_exclusion("https://example.org/", config, fetched_at=None) is None


def test_exclusions_enter_the_fingerprint_only_when_set() -> None:
    excluded, _ = _parsed()
    assert "excluded_domains" not in PolicyConfig().fingerprint()
    assert PolicyConfig(excluded=excluded).config_sha256 != PolicyConfig().config_sha256
