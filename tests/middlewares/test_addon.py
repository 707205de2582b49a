"""`ConsentAddon` with Scrapy's real `Crawler` (`get_crawler`): components, robots.txt, defaults, reactor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.core.spidermw import SpiderMiddlewareManager
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.test import get_crawler

from consentry.middlewares.addon import ASYNCIO_REACTOR
from consentry.middlewares.assets import AssetConsentMiddleware
from consentry.middlewares.cluster import ClusterExtension, LeaseOutputMiddleware
from consentry.middlewares.decisionlog import DecisionLogExtension
from consentry.middlewares.fetchguard import FetchGuardMiddleware
from consentry.middlewares.politeness import OriginPolitenessMiddleware
from consentry.middlewares.sitefiles import SiteFilesMiddleware
from consentry.middlewares.tagging import ConsentTagMiddleware
from consentry.middlewares.warc import WarcExtension
from consentry.policies.config import user_agent
from consentry.policies.settings_table import SETTINGS

ADDONS = {"ADDONS": {"consentry.middlewares.addon.ConsentAddon": 0}}


def _crawler(**settings: Any) -> Any:
    return get_crawler(settings_dict={**ADDONS, **settings})


def test_the_addon_alone_installs_every_component(tmp_path: Path) -> None:
    crawler = _crawler(CONSENT_LOG_PATH=str(tmp_path / "d.jsonl"), CONSENT_WARC_PATH=str(tmp_path / "c.warc.gz"))
    settings = crawler.settings
    assert settings.getdict("DOWNLOADER_MIDDLEWARES") == {
        RobotsTxtMiddleware: None, FetchGuardMiddleware: 50, SiteFilesMiddleware: 100, AssetConsentMiddleware: 120,
        OriginPolitenessMiddleware: 950}
    assert settings.getdict("SPIDER_MIDDLEWARES") == {ConsentTagMiddleware: 800, LeaseOutputMiddleware: 850}
    assert settings.getdict("EXTENSIONS") == {DecisionLogExtension: 500, WarcExtension: 500, ClusterExtension: 510}
    assert settings.getbool("ROBOTSTXT_OBEY") is False
    downloader = [type(m) for m in DownloaderMiddlewareManager.from_crawler(crawler).middlewares]
    assert RobotsTxtMiddleware not in downloader
    assert downloader.index(SiteFilesMiddleware) < downloader.index(AssetConsentMiddleware)
    assert downloader[-1] is OriginPolitenessMiddleware  # innermost: sees a 429 before RetryMiddleware
    assert ConsentTagMiddleware in [type(m) for m in SpiderMiddlewareManager.from_crawler(crawler).middlewares]
    extensions = {type(e) for e in crawler.extensions.middlewares}
    assert {DecisionLogExtension, WarcExtension} <= extensions
    assert ClusterExtension not in extensions  # a distributed crawl's only (CONSENT_REDIS_URL)


def test_every_default_is_set_at_addon_priority() -> None:
    settings = _crawler().settings
    for entry in SETTINGS:
        assert settings[entry.name] == entry.scrapy_value(), entry.name
        assert settings.getpriority(entry.name) == 15, entry.name
    assert settings["USER_AGENT"] == user_agent("consentry")


def test_the_projects_settings_win() -> None:
    crawler = _crawler(
        CONSENT_AGENT="mybot",
        CONSENT_ON_DENY="tag",
        CONSENT_PURPOSES=["search"],
        DOWNLOADER_MIDDLEWARES={"consentry.middlewares.assets.AssetConsentMiddleware": 130},
        EXTENSIONS={"consentry.middlewares.warc.WarcExtension": None},
    )
    settings = crawler.settings
    assert (settings["CONSENT_AGENT"], settings["CONSENT_ON_DENY"], settings["CONSENT_PURPOSES"]) == (
        "mybot", "tag", ["search"])
    assert settings["USER_AGENT"] == user_agent("mybot")  # the add-on's User-Agent carries the project's token
    downloader = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert downloader["consentry.middlewares.assets.AssetConsentMiddleware"] == 130
    assert AssetConsentMiddleware not in downloader
    assert downloader[SiteFilesMiddleware] == 100
    assert settings.getdict("EXTENSIONS") == {
        "consentry.middlewares.warc.WarcExtension": None, DecisionLogExtension: 500, ClusterExtension: 510}


def test_a_projects_own_user_agent_wins() -> None:
    assert _crawler(USER_AGENT="Mozilla/5.0 (compatible; mybot/2)").settings["USER_AGENT"] == (
        "Mozilla/5.0 (compatible; mybot/2)")


def test_robotstxt_obey_true_is_replaced_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consentry.middlewares.addon"):
        settings = _crawler(ROBOTSTXT_OBEY=True).settings
    assert settings.getbool("ROBOTSTXT_OBEY") is False
    assert settings.getdict("DOWNLOADER_MIDDLEWARES")[RobotsTxtMiddleware] is None
    assert any("ROBOTSTXT_OBEY = True is replaced" in r.getMessage() for r in caplog.records)


def test_no_warning_when_robotstxt_obey_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consentry.middlewares.addon"):
        _crawler()
    assert not [r for r in caplog.records if r.name == "consentry.middlewares.addon"]


@pytest.mark.parametrize("reactor", ["twisted.internet.selectreactor.SelectReactor", None])
def test_a_non_asyncio_reactor_is_refused(reactor: str | None) -> None:
    with pytest.raises(ValueError, match=r"^TWISTED_REACTOR: consentry needs the asyncio reactor") as caught:
        _crawler(TWISTED_REACTOR_ENABLED=True, TWISTED_REACTOR=reactor)
    assert f'set TWISTED_REACTOR = "{ASYNCIO_REACTOR}"' in str(caught.value)


def test_an_unknown_setting_stops_the_crawler_with_the_closest_name() -> None:
    with pytest.raises(ValueError, match=r"^CONSENT_ON_DENNY: unknown setting \(did you mean CONSENT_ON_DENY\?\)$"):
        _crawler(CONSENT_ON_DENNY="tag", CONSENT_LOG_PATH="unused.jsonl")


def test_disabled_the_addon_changes_nothing() -> None:
    settings = _crawler(CONSENT_ENABLED=False, ROBOTSTXT_OBEY=True).settings
    assert settings.getbool("ROBOTSTXT_OBEY") is True
    assert settings.getdict("DOWNLOADER_MIDDLEWARES") == {}
    assert "CONSENT_AGENT" not in settings
