"""The works registry is closed when its user is done: the crawl's asset middleware on `spider_closed`, the audit
after each file. Observable on disk: SQLite keeps `-wal`/`-shm` files beside a WAL database while any connection is
open and removes them when the last one closes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from scrapy import Spider, signals
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from consentry.crawler.audit.result import AuditOptions
from consentry.crawler.audit.runner import audit_file
from consentry.middlewares.adapters.registry import Registry
from consentry.middlewares.assets import AssetConsentMiddleware

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

WARCS = Path(__file__).resolve().parents[1] / "fixtures" / "warc"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "registry" / "works.db"
    path.parent.mkdir()
    Registry.open(path, create=True).close()
    return path


def _beside(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir())


def _close_spider(crawler: Crawler, middleware: AssetConsentMiddleware) -> None:
    """Send `spider_closed` as the engine does; the middleware's receiver ran and did not raise."""
    results = crawler.signals.send_catch_log(signals.spider_closed, spider=Spider("s"), reason="finished")
    ours = [result for receiver, result in results if getattr(receiver, "__self__", None) is middleware]
    assert len(ours) == 1
    assert not isinstance(ours[0], Failure), ours[0]


def test_asset_middleware_closes_the_registry_when_the_spider_closes(db: Path) -> None:
    crawler = get_crawler(settings_dict={"CONSENT_REGISTRY": str(db)})
    middleware = AssetConsentMiddleware.from_crawler(crawler)
    registry = middleware.registry
    assert registry is not None
    assert len(registry) == 0  # open and readable
    assert _beside(db) == ["works.db", "works.db-shm", "works.db-wal"]
    _close_spider(crawler, middleware)
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        registry.connection.execute("SELECT count(*) FROM sqlite_master")
    assert _beside(db) == ["works.db"]


def test_asset_middleware_without_a_registry_closes_nothing() -> None:
    crawler = get_crawler(settings_dict={})
    middleware = AssetConsentMiddleware.from_crawler(crawler)
    assert middleware.registry is None
    _close_spider(crawler, middleware)


@pytest.mark.parametrize("name", ["foreign-wget.warc.gz", "not-a-warc.txt"])
def test_audit_closes_the_registry_after_the_file(db: Path, name: str) -> None:
    outcome = audit_file(str(WARCS / name), AuditOptions(registry_path=str(db)))
    assert (outcome.error is None) == name.endswith(".warc.gz")  # a usable file and an unusable one
    assert _beside(db) == ["works.db"]  # no connection left open
