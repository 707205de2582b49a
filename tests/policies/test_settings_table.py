"""The one table of `CONSENT_*` settings: README equals it, every reader agrees with it, unknown names are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consentry.policies.config import PolicyConfig
from consentry.policies.settings_table import SETTINGS, check_names, default, markdown_table, setting

ROOT = Path(__file__).resolve().parents[2]

#: A valid, non-default value for every decision-shaping setting.
_OTHER_VALUES: dict[str, object] = {
    "CONSENT_AGENT": "otherbot",
    "CONSENT_PURPOSES": ["search"],
    "CONSENT_ON_DENY": "tag",
    "CONSENT_ON_UNKNOWN": "drop",
    "CONSENT_ON_UNVERIFIABLE": "keep",
    "CONSENT_INFERRED": "ignore",
    "CONSENT_SITEFILE_TTL": 5,
    "CONSENT_MAX_SITEFILE_BYTES": 600_000,
    "CONSENT_C2PA_MAX_BYTES": 10,
    "CONSENT_C2PA_TRUST_ANCHORS": "anchors.pem",
    "CONSENT_ON_AI_GENERATED": "drop",
}


def _readme_rows() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


def test_readme_settings_table_is_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README's settings table differs: paste markdown_table()'s output"
    rows = _readme_rows()
    assert [row[0] for row in rows] == [f"`{s.name}`" for s in SETTINGS]
    assert [row[1] for row in rows] == [s.shown_default() for s in SETTINGS]
    assert [row[3] for row in rows] == [s.meaning for s in SETTINGS]
    assert "`CONSENT_REGISTRY`" in [row[0] for row in rows]


def test_names_are_unique_and_prefixed() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"CONSENT_[A-Z0-9_]+", n) for n in names)


def test_policy_defaults_are_policyconfigs() -> None:
    policy = {s.name: s for s in SETTINGS if s.policy_field is not None}
    assert set(policy) == set(_OTHER_VALUES)
    assert PolicyConfig.from_settings({name: default(name) for name in policy}) == PolicyConfig()
    assert setting("CONSENT_PURPOSES").scrapy_value() == ["ai-train"]
    assert setting("CONSENT_MAX_SITEFILE_BYTES").default == 512_000


@pytest.mark.parametrize(("name", "value"), sorted(_OTHER_VALUES.items()))
def test_from_settings_reads_every_policy_setting(name: str, value: object) -> None:
    field = setting(name).policy_field
    assert field is not None
    changed = PolicyConfig.from_settings({name: value})
    assert getattr(changed, field) != getattr(PolicyConfig(), field)


def test_every_consent_name_in_the_code_and_docs_is_in_the_table() -> None:
    found: set[str] = set()
    for folder, pattern in (("policies", "*.py"), ("middlewares", "*.py"), ("crawler", "*.py"), ("docs", "*.md")):
        for path in (ROOT / folder).rglob(pattern):
            found |= set(re.findall(r"\bCONSENT_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    assert found - {s.name for s in SETTINGS} == set()


def test_known_and_foreign_names_pass() -> None:
    check_names([s.name for s in SETTINGS] + ["ROBOTSTXT_OBEY", "USER_AGENT", "CONSENTS"])


@pytest.mark.parametrize(("names", "message"), [
    (["CONSENT_ON_DENNY"], "CONSENT_ON_DENNY: unknown setting (did you mean CONSENT_ON_DENY?)"),
    (["consent_agnt"], "consent_agnt: unknown setting (did you mean CONSENT_AGENT?)"),
    (["CONSENT_LOGPATH", "CONSENT_AGENT"], "CONSENT_LOGPATH: unknown setting (did you mean CONSENT_LOG_PATH?)"),
    (["CONSENT_ZZZZZZZZZZZZZZ"], "CONSENT_ZZZZZZZZZZZZZZ: unknown setting"),
])
def test_unknown_names_are_refused_with_the_closest(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_names(names)
