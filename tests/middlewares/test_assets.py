"""AssetConsentMiddleware with the real engine: response/document signals, drop vs tag, inheritance,
cross-origin redirects, and responses that are broken on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import CrawlResult, gzipped, html, jpeg, run_crawl

pytestmark = pytest.mark.e2e

_INDEX = """<html><body>
<img src="/img/free.jpg"><img src="/img/noai.jpg"><img src="/img/usage.jpg">
<a href="/img/tdm.jpg">tdm</a><a href="/noimageai.html">gallery</a><a href="/move.jpg">moved</a>
<a href="/gz.html">gz</a><a href="/badgz.html">bad gz</a><a href="/liar.html">liar</a>
<a href="/empty.html">empty</a><a href="/huge.bin">huge</a><a href="/dropped.html">dropped</a>
</body></html>"""
_GALLERY = (
    '<html><head><meta name="robots" content="noimageai"></head><body><img src="/img/pic.jpg"></body></html>'
)


def _main_routes(other: str) -> dict[str, Route]:
    return {
        "/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
        "/": html(_INDEX),
        "/img/free.jpg": jpeg(),
        "/img/noai.jpg": jpeg(("X-Robots-Tag", "noai")),
        "/img/usage.jpg": jpeg(("Content-Usage", "train-ai=n")),
        "/img/tdm.jpg": jpeg(("tdm-reservation", "1")),
        "/noimageai.html": html(_GALLERY),
        "/img/pic.jpg": jpeg(),
        "/move.jpg": Route(302, (("Location", other + "/elsewhere.jpg"),)),
        "/gz.html": gzipped(b"<html><body>compressed fine</body></html>"),
        "/badgz.html": Route(
            200,
            (("Content-Type", "text/html"), ("Content-Encoding", "gzip")),
            b"\x1f\x8b\x08\x00 this is not gzip at all",
        ),
        "/liar.html": Route(200, (("Content-Type", "text/html"), ("Content-Length", "5000")), b"<html>short"),
        "/empty.html": Route(200, (("Content-Type", "text/html"),), b""),
        "/huge.bin": Route(200, (("Content-Type", "application/octet-stream"),), b"\0" * 300_000),
        "/dropped.html": Route(fault="drop"),
    }


_OTHER = {
    "/robots.txt": Route.text("User-agent: *\nContent-Signal: ai-train=no\nAllow: /\n"),
    "/elsewhere.jpg": jpeg(),
}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[SiteServer, SiteServer]]:
    other = SiteServer(_OTHER).start()
    main = SiteServer(_main_routes(other.origin)).start()
    yield main, other
    main.stop()
    other.stop()


def _crawl(servers: tuple[SiteServer, SiteServer], out: Path, mode: str) -> CrawlResult:
    main, _ = servers
    result = run_crawl(
        [main.url("/")],
        out,
        "--on-deny",
        mode,
        settings={"DOWNLOAD_MAXSIZE": 100_000, "DOWNLOAD_TIMEOUT": 2, "RETRY_ENABLED": False},
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def dropped(servers: tuple[SiteServer, SiteServer], tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    return _crawl(servers, tmp_path_factory.mktemp("drop"), "drop")


@pytest.fixture(scope="module")
def tagged(servers: tuple[SiteServer, SiteServer], tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    return _crawl(servers, tmp_path_factory.mktemp("tag"), "tag")


_WITHHELD = {
    "/img/noai.jpg": "x-robots-tag",
    "/img/usage.jpg": "content-usage-header",
    "/img/tdm.jpg": "tdmrep-header",
    "/img/pic.jpg": "page-inherited",
}


@pytest.mark.parametrize(("path", "mechanism"), sorted(_WITHHELD.items()))
def test_withheld_asset_absent_in_drop_mode(
    path: str, mechanism: str, servers: tuple[SiteServer, SiteServer], dropped: CrawlResult
) -> None:
    url = servers[0].url(path)
    assert url not in dropped.item_urls()
    decision = dropped.decision(url)
    assert decision["action"] == "drop"
    assert mechanism in decision["reason"]
    assert servers[0].url("/img/free.jpg") in dropped.item_urls()


@pytest.mark.parametrize(("path", "mechanism"), sorted(_WITHHELD.items()))
def test_withheld_asset_present_with_consent_in_tag_mode(
    path: str, mechanism: str, servers: tuple[SiteServer, SiteServer], tagged: CrawlResult
) -> None:
    url = servers[0].url(path)
    (item,) = [i for i in tagged.items if i["url"] == url]
    assert item["consent"]["action"] == "keep"
    assert item["consent"]["purposes"]["genai-train"] == "deny"
    assert mechanism in item["consent"]["mechanisms"]
    assert "CONSENT_ON_DENY=tag" in item["consent"]["reason"]


def test_free_asset_kept_with_unknown(servers: tuple[SiteServer, SiteServer], dropped: CrawlResult) -> None:
    (item,) = [i for i in dropped.items if i["url"] == servers[0].url("/img/free.jpg")]
    assert item["consent"] == {
        "action": "keep",
        "purposes": item["consent"]["purposes"],
        "reason": "genai-train, ml-train unknown (no signal)",
        "mechanisms": [],
        "provenance": {"ai_generated": "unknown", "evidence": "no digital source type in C2PA actions or XMP"},
    }


def test_redirect_to_other_origin_uses_its_site_policy(
    servers: tuple[SiteServer, SiteServer], dropped: CrawlResult
) -> None:
    _, other = servers
    assert other.requested.index("/robots.txt") < other.requested.index("/elsewhere.jpg")
    decision = dropped.decision(other.url("/elsewhere.jpg"))
    assert decision["action"] == "drop"
    assert "robots-content-signal" in decision["reason"]


def test_gzip_evaluated_after_decompression(
    servers: tuple[SiteServer, SiteServer], dropped: CrawlResult
) -> None:
    decision = dropped.decision(servers[0].url("/gz.html"))
    assert decision["response"]["length"] == len(b"<html><body>compressed fine</body></html>")


def test_empty_body_is_decided(servers: tuple[SiteServer, SiteServer], dropped: CrawlResult) -> None:
    decision = dropped.decision(servers[0].url("/empty.html"))
    assert decision["response"]["length"] == 0
    assert decision["action"] == "keep"


@pytest.mark.parametrize("path", ["/badgz.html", "/liar.html", "/huge.bin", "/dropped.html"])
def test_broken_responses_do_not_stop_the_crawl(
    path: str, servers: tuple[SiteServer, SiteServer], dropped: CrawlResult
) -> None:
    main, _ = servers
    assert path in main.requested
    assert main.url(path) not in dropped.item_urls()
    assert main.url("/img/free.jpg") in dropped.item_urls()


def test_download_errors_are_reported(dropped: CrawlResult) -> None:
    line = next(x for x in dropped.stdout.splitlines() if "not fetched (download errors)" in x)
    # dropped connection, lying Content-Length (waits for bytes that never come), body over DOWNLOAD_MAXSIZE
    for reason in ("connection lost", "timeout", "cancelled"):
        assert reason in line, line
    errors = [x for x in dropped.stderr.splitlines() if "download error: " in x]
    assert len(errors) == sum(int(part.split()[0]) for part in line.split(": ", 1)[1].split(", "))
    assert "Traceback" not in dropped.stderr
