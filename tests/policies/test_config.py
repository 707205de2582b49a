"""`CONSENT_*` settings validation: a bad value names its setting (README "Settings")."""

from __future__ import annotations

import pytest

from consentry.policies.config import InferredMode, OnDeny, PolicyConfig
from consentry.policies.vocabulary import Purpose


def test_defaults_match_design() -> None:
    config = PolicyConfig.from_settings({})
    assert config.agent == "consentry"
    assert config.purposes == (Purpose.AI_TRAIN,)
    assert config.declared == (Purpose.GENAI_TRAIN, Purpose.ML_TRAIN)
    assert config.on_deny is OnDeny.DROP
    assert config.inferred is InferredMode.ENFORCE
    assert config.max_sitefile_bytes >= 512_000


def test_settings_are_read_with_or_without_prefix() -> None:
    config = PolicyConfig.from_settings({"CONSENT_PURPOSES": "tdm", "ON_DENY": "TAG", "CONSENT_AGENT": "My-Bot"})
    assert config.declared == (Purpose.GENAI_TRAIN, Purpose.ML_TRAIN, Purpose.AI_INPUT, Purpose.SEARCH)
    assert config.on_deny is OnDeny.TAG
    assert config.agent == "My-Bot"


@pytest.mark.parametrize(("settings", "message"), [
    ({"CONSENT_AGENT": "my bot/1.0"}, "CONSENT_AGENT"),
    ({"CONSENT_PURPOSES": ["ai-train", "world-domination"]}, "CONSENT_PURPOSES: unknown purpose"),
    ({"CONSENT_PURPOSES": []}, "CONSENT_PURPOSES"),
    ({"CONSENT_ON_DENY": "shrug"}, "CONSENT_ON_DENY: expected drop|tag"),
    ({"CONSENT_ON_UNKNOWN": 3}, "CONSENT_ON_UNKNOWN"),
    ({"CONSENT_INFERRED": "maybe"}, "CONSENT_INFERRED"),
    ({"CONSENT_MAX_SITEFILE_BYTES": 1000}, "CONSENT_MAX_SITEFILE_BYTES: must be at least 512000"),
    ({"CONSENT_SITEFILE_TTL": "soon"}, "CONSENT_SITEFILE_TTL: expected an integer"),
    ({"CONSENT_C2PA_MAX_BYTES": True}, "CONSENT_C2PA_MAX_BYTES"),
])
def test_bad_settings_name_the_setting(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PolicyConfig.from_settings(settings)


def test_config_fingerprint_changes_with_policy() -> None:
    assert PolicyConfig().config_sha256 == PolicyConfig().config_sha256
    assert PolicyConfig().config_sha256 != PolicyConfig(on_deny=OnDeny.TAG).config_sha256
    assert len(PolicyConfig().config_sha256) == 64
