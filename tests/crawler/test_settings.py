"""Project settings and start-up validation of `CONSENT_*` (README "Settings")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from consentry.crawler import settings as project
from consentry.middlewares._config import consent_settings, policy_config_from_settings
from consentry.middlewares.assets import AssetConsentMiddleware
from consentry.middlewares.decisionlog import DecisionLogExtension
from consentry.middlewares.sitefiles import SiteFilesMiddleware
from consentry.middlewares.tagging import ConsentTagMiddleware
from consentry.middlewares.warc import WarcExtension
from consentry.policies.config import PolicyConfig
from consentry.policies.settings_table import default
from tests.crawler._helpers import ROOT


def test_project_settings_use_the_addon() -> None:
    crawler = get_crawler(settings_dict={name: getattr(project, name) for name in dir(project) if name.isupper()})
    assert project.ADDONS == {"consentry.middlewares.addon.ConsentAddon": 0}
    assert not hasattr(project, "DOWNLOADER_MIDDLEWARES")  # the add-on installs the components
    assert crawler.settings.getbool("ROBOTSTXT_OBEY") is False
    downloader = [type(m) for m in DownloaderMiddlewareManager.from_crawler(crawler).middlewares]
    assert RobotsTxtMiddleware not in downloader
    assert downloader.index(SiteFilesMiddleware) < downloader.index(AssetConsentMiddleware)
    assert "consentry/" in crawler.settings["USER_AGENT"]


def test_project_settings_validate() -> None:
    settings = Settings()
    settings.setmodule(project)
    assert not any(name.startswith("CONSENT_") for name in settings)  # defaults come from the settings table
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


COMPONENTS = [SiteFilesMiddleware, AssetConsentMiddleware, ConsentTagMiddleware, DecisionLogExtension, WarcExtension]


@pytest.mark.parametrize("component", COMPONENTS)
def test_unknown_setting_named_at_start_up(component: type, tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"CONSENT_ON_DENNY": "tag", "CONSENT_LOG_PATH": str(tmp_path / "d.jsonl"),
                                         "CONSENT_WARC_PATH": str(tmp_path / "c.warc.gz")})
    with pytest.raises(ValueError, match=r"^CONSENT_ON_DENNY: unknown setting \(did you mean CONSENT_ON_DENY\?\)$"):
        component.from_crawler(crawler)
    assert list(tmp_path.iterdir()) == []


def test_unset_settings_take_the_tables_defaults() -> None:
    read = consent_settings({})
    assert read.config == PolicyConfig()
    assert read.unreachable_ttl == default("CONSENT_UNREACHABLE_TTL") == 60
    assert read.follow_dropped_pages is default("CONSENT_FOLLOW_DROPPED_PAGES") is True
    assert (read.log_path, read.warc_path, read.registry_path) == (None, None, None)
    assert consent_settings({"CONSENT_UNREACHABLE_TTL": 5, "CONSENT_FOLLOW_DROPPED_PAGES": "no"}).unreachable_ttl == 5


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
        (["http://127.0.0.1:9/", "--set", "CONSENT_ON_DENNY=tag"],
         "consentry: error: CONSENT_ON_DENNY: unknown setting (did you mean CONSENT_ON_DENY?)"),
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
