"""DecisionLogExtension: one valid `consentry.decision/1` line per decision, flushed per line; stats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from consentry.crawler.demo.server import Route, SiteServer
from consentry.middlewares.decisionlog import DecisionLogExtension, signal_stat_keys
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import SiteDocuments, SitePolicy, evaluate_access
from consentry.policies.model import SiteFile
from consentry.policies.record import record_problems
from tests.crawler._helpers import CrawlResult, html, jpeg, run_crawl


def _skip_decision():  # type: ignore[no-untyped-def]
    origin = "http://example.test"
    files = {
        "robots": SiteFile.from_http(f"{origin}/robots.txt", 503, b""),
        "ai_txt": SiteFile.from_http(f"{origin}/ai.txt", 404, b""),
        "tdmrep": SiteFile.from_http(f"{origin}/.well-known/tdmrep.json", 404, b""),
    }
    site = SitePolicy.build(SiteDocuments(origin, **files), "consentry")
    decision = evaluate_access(site, f"{origin}/a", PolicyConfig(), fetched_at="2026-01-01T00:00:00Z")
    assert decision is not None
    return decision


def test_line_is_on_disk_before_close(tmp_path: Path) -> None:
    path = tmp_path / "log" / "decisions.jsonl"
    stats = get_crawler().stats
    extension = DecisionLogExtension(str(path), stats)
    extension.log_decision(_skip_decision())
    assert stats is not None
    assert stats.get_value("consent/action/skip") == 1
    assert stats.get_value("consent/signal/robots/unknown") == 1
    (line,) = path.read_text().splitlines()  # read while the extension still holds the file open
    assert record_problems(json.loads(line)) == []
    assert json.loads(line)["action"] == "skip"
    extension.close()


def test_from_crawler_wiring(tmp_path: Path) -> None:
    from scrapy.exceptions import NotConfigured

    with pytest.raises(NotConfigured):
        DecisionLogExtension.from_crawler(get_crawler(settings_dict={}))
    with pytest.raises(NotConfigured):
        DecisionLogExtension.from_crawler(
            get_crawler(settings_dict={"CONSENT_ENABLED": False, "CONSENT_LOG_PATH": str(tmp_path / "x")})
        )
    crawler = get_crawler(settings_dict={"CONSENT_LOG_PATH": str(tmp_path / "d.jsonl")})
    assert isinstance(DecisionLogExtension.from_crawler(crawler), DecisionLogExtension)


def test_signal_stat_keys() -> None:
    assert signal_stat_keys(_skip_decision()) == ["consent/signal/robots/unknown"]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrawlResult]:
    routes = {
        "/robots.txt": Route.text("User-agent: *\nDisallow: /no/\nContent-Usage: /img/ train-ai=n\n"),
        "/": html('<a href="/no/x">x</a><img src="/img/a.jpg"><img src="/b.jpg">'),
        "/img/a.jpg": jpeg(("Content-Usage", "train-ai=y")),
        "/b.jpg": jpeg(("X-Robots-Tag", "noai")),
    }
    with SiteServer(routes) as server:
        yield run_crawl([server.url("/")], tmp_path_factory.mktemp("log"))


def test_every_line_follows_the_schema(crawled: CrawlResult) -> None:
    lines = (crawled.out / "decisions.jsonl").read_text().splitlines()
    assert len(lines) == 4
    for line in lines:
        assert record_problems(json.loads(line)) == []
    assert sorted(d["action"] for d in crawled.decisions) == ["drop", "drop", "keep", "skip"]
