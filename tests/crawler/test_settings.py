"""Project settings and start-up validation of `CONSENT_*` (README "Settings")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from consentry.crawler import settings as project
from consentry.middlewares._config import consent_settings, policy_config_from_settings
from consentry.middlewares.assets import AssetConsentMiddleware
from consentry.middlewares.sitefiles import SiteFilesMiddleware
from consentry.middlewares.tagging import ConsentTagMiddleware
from tests.crawler._helpers import ROOT


def test_component_orders_and_robotstxt_off() -> None:
    assert project.ROBOTSTXT_OBEY is False
    assert project.DOWNLOADER_MIDDLEWARES == {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "consentry.middlewares.sitefiles.SiteFilesMiddleware": 100,
        "consentry.middlewares.assets.AssetConsentMiddleware": 120,
    }
    assert "consentry.middlewares.tagging.ConsentTagMiddleware" in project.SPIDER_MIDDLEWARES
    assert set(project.EXTENSIONS) == {
        "consentry.middlewares.decisionlog.DecisionLogExtension",
        "consentry.middlewares.warc.WarcExtension",
    }
    assert "consentry/" in project.USER_AGENT


def test_project_settings_validate() -> None:
    settings = Settings()
    settings.setmodule(project)
    assert consent_settings(settings).config == policy_config_from_settings(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSENT_ON_DENY", "maybe"),
        ("CONSENT_PURPOSES", ["ai-training"]),
        ("CONSENT_AGENT", "my bot/1.0"),
        ("CONSENT_SITEFILE_TTL", "soon"),
        ("CONSENT_MAX_SITEFILE_BYTES", 1000),
        ("CONSENT_INFERRED", "yes"),
        ("CONSENT_C2PA_TRUST_ANCHORS", "/nonexistent.pem"),
        ("CONSENT_ENABLED", "perhaps"),
        ("CONSENT_UNREACHABLE_TTL", -1),
    ],
)
@pytest.mark.parametrize("component", [SiteFilesMiddleware, AssetConsentMiddleware, ConsentTagMiddleware])
def test_bad_setting_named_at_start_up(name: str, value: object, component: type) -> None:
    with pytest.raises(ValueError, match=f"^{name}"):
        component.from_crawler(get_crawler(settings_dict={name: value}))


@pytest.mark.parametrize("component", [SiteFilesMiddleware, AssetConsentMiddleware, ConsentTagMiddleware])
def test_disabled_is_not_configured(component: type) -> None:
    with pytest.raises(NotConfigured):
        component.from_crawler(get_crawler(settings_dict={"CONSENT_ENABLED": False}))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://127.0.0.1:9/", "--set", "CONSENT_ON_UNVERIFIABLE=never"], "CONSENT_ON_UNVERIFIABLE"),
        (["ftp://example.com/"], "not an absolute http(s) URL"),
        (["http://127.0.0.1:9/", "--on-deny", "burn"], "--on-deny"),
        (["http://127.0.0.1:9/", "--purpose", "everything"], "CONSENT_PURPOSES"),
        (["http://127.0.0.1:9/", "--set", "NOEQUALS"], "NAME=VALUE"),
    ],
)
def test_cli_bad_usage_exits_2_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "consentry.crawler.cli", "crawl", *args, "-o", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "decisions.jsonl").exists()
