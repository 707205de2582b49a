"""`CONSENT_EXCLUDED_DOMAINS` as the transport reads it: list files and domains, warnings, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentry.middlewares._config import consent_settings, read_excluded_domains


def test_files_and_domains_mix(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("a.example\nbad name\ncom\n", encoding="utf-8")
    excluded, problems = read_excluded_domains([str(listing), "B.example"])
    assert [(e.name, e.source, e.line) for e in excluded.entries] == [
        ("a.example", str(listing), 1), ("b.example", "CONSENT_EXCLUDED_DOMAINS", 2)]
    assert problems == (f"{listing} line 2: 'bad name' is not a domain or host; skipped",
                        f"{listing} line 3: 'com' is a public suffix, not a registrable domain; skipped")


def test_a_comma_separated_string_as_from_set(tmp_path: Path) -> None:
    listing = tmp_path / "l.txt"
    listing.write_text("x.example\n", encoding="utf-8")
    excluded, _ = read_excluded_domains(f"{listing},y.example")
    assert [e.name for e in excluded.entries] == ["x.example", "y.example"]


@pytest.mark.parametrize(("value", "message"), [
    (["./missing.txt"], "CONSENT_EXCLUDED_DOMAINS: cannot read list file ./missing.txt: No such file or directory"),
    (["co.uk"], "CONSENT_EXCLUDED_DOMAINS: 'co.uk' is neither a list file nor a registrable domain or host"),
    (["not a domain"], "CONSENT_EXCLUDED_DOMAINS: 'not a domain' is neither a list file nor a registrable domain"),
    (5, "CONSENT_EXCLUDED_DOMAINS: expected a list of list files and/or domains, got 5"),
])
def test_bad_values_name_the_setting(value: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        read_excluded_domains(value)


def test_the_policy_carries_the_lists(tmp_path: Path) -> None:
    listing = tmp_path / "l.txt"
    listing.write_text("z.example\n", encoding="utf-8")
    config = consent_settings({"CONSENT_EXCLUDED_DOMAINS": [str(listing)]}).config
    assert config.excluded.match("https://cdn.z.example/a") is not None
    assert config.fingerprint()["excluded_domains"] == [["z.example", str(listing), 1]]
    assert consent_settings({}).config.excluded.match("https://cdn.z.example/a") is None
