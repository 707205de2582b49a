"""AI-generated labelling end to end: a real crawl (Scrapy engine, loopback server) with
`--on-ai-generated drop|tag`, `consentry check` showing the label and its evidence, and `consentry audit`
replaying the archived decisions (label and action) with zero mismatches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from consentry.crawler.cli import main
from consentry.crawler.demo.server import Route, SiteServer
from consentry.policies.record import record_problems
from tests.crawler._audit import results, run_audit
from tests.crawler._helpers import CrawlResult, html, run_crawl
from tests.provenance_fixtures import plain_image

INDEX = '<html><body><img src="/ai.jpg"><img src="/made.jpg"><img src="/plain.jpg"></body></html>'


def _jpeg(body: bytes) -> Route:
    return Route(200, (("Content-Type", "image/jpeg"),), body)


@pytest.fixture(scope="module")
def site(signed_assets: dict[str, bytes]) -> Iterator[SiteServer]:
    server = SiteServer({
        "/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
        "/": html(INDEX),
        "/ai.jpg": _jpeg(signed_assets["ai-generated.jpg"]),
        "/made.jpg": _jpeg(signed_assets["no-training.jpg"]),
        "/plain.jpg": _jpeg(plain_image("jpeg")),
    }).start()
    yield server
    server.stop()


def _crawl(site: SiteServer, tmp: pytest.TempPathFactory, mode: str) -> CrawlResult:
    result = run_crawl([site.url("/")], tmp.mktemp(mode), "--depth", "1", "--on-ai-generated", mode,
                       "--set", f"CONSENT_WARC_PATH={tmp.getbasetemp()}/{mode}.warc.gz")
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def dropped(site: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    return _crawl(site, tmp_path_factory, "drop")


def test_drop_mode_drops_only_the_ai_generated_asset(site: SiteServer, dropped: CrawlResult) -> None:
    ai = dropped.decision(site.url("/ai.jpg"))
    assert ai["action"] == "drop"
    assert ai["reason"].startswith("AI-generated (CONSENT_ON_AI_GENERATED=drop): ")
    assert "ai-generated" in ai["tags"]
    assert ai["provenance"]["ai_generated"] == "yes"
    assert "trainedAlgorithmicMedia" in ai["provenance"]["evidence"]
    assert site.url("/ai.jpg") not in dropped.item_urls()
    made = dropped.decision(site.url("/made.jpg"))
    assert (made["action"], made["provenance"]["ai_generated"]) == ("keep", "no")
    plain = dropped.decision(site.url("/plain.jpg"))
    assert (plain["action"], plain["provenance"]["ai_generated"]) == ("keep", "unknown")
    assert {site.url("/made.jpg"), site.url("/plain.jpg")} <= dropped.item_urls()
    for record in dropped.decisions:
        assert record_problems(record) == []


def test_tag_mode_keeps_and_tags(site: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    tagged = _crawl(site, tmp_path_factory, "tag")
    ai = tagged.decision(site.url("/ai.jpg"))
    assert ai["action"] == "keep"
    assert "ai-generated" in ai["tags"]
    [item] = [i for i in tagged.items if i["url"] == site.url("/ai.jpg")]
    assert item["consent"]["provenance"]["ai_generated"] == "yes"


def test_audit_replays_the_label_and_the_drop(dropped: CrawlResult, tmp_path_factory: pytest.TempPathFactory,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    warc = Path(tmp_path_factory.getbasetemp()) / "drop.warc.gz"
    code, out, _ = run_audit(capsys, str(warc), "--json")
    found = {r["url"]: r for r in results(out)}
    assert code == 0
    ai = next(r for url, r in found.items() if url.endswith("/ai.jpg"))
    assert ai["match"] is True
    assert ai["replayed"]["action"] == "drop"
    assert ai["replayed"]["provenance"]["ai_generated"] == "yes"


def test_check_shows_label_and_evidence(site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", site.url("/ai.jpg")]) == 0
    out = capsys.readouterr().out
    assert "AI-GENERATED yes: C2PA actions digitalSourceType" in out
    assert "trainedAlgorithmicMedia (yes)" in out
    assert main(["check", "--json", site.url("/made.jpg")]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["provenance"]["ai_generated"] == "no"
