"""`consentry crawl` end to end: the real engine, the asset spider, every consent component, loopback sites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from consentry.crawler.spiders.assets import site_of
from consentry.policies.record import record_problems
from tests.crawler._helpers import CrawlResult, html, jpeg, run_crawl

pytestmark = pytest.mark.e2e

_INDEX = """<html><body>
<img srcset="/m/small.jpg 1x, /m/big.jpg 2x"><picture><source srcset="/m/pic.webp"></picture>
<video src="/m/clip.mp4"></video><audio><source src="/m/song.mp3"></audio>
<a href="/docs/paper.pdf">pdf</a><a href="/deep/1.html">deeper</a><a href="/private/x.html">private</a>
</body></html>"""


def _routes() -> dict[str, Route]:
    media = {p: jpeg() for p in ("/m/small.jpg", "/m/big.jpg", "/m/pic.webp", "/m/clip.mp4", "/m/song.mp3")}
    return {
        "/robots.txt": Route.text("User-agent: *\nDisallow: /private/\n"),
        "/ai.txt": Route.text("User-Agent: *\nDisallow: *.mp3\n"),
        "/.well-known/tdmrep.json": Route.text(
            '[{"location": "/docs/", "tdm-reservation": 1}]', "application/json"
        ),
        "/": html(_INDEX),
        **media,
        "/docs/paper.pdf": Route(200, (("Content-Type", "application/pdf"),), b"%PDF-1.4 fake"),
        "/deep/1.html": html('<a href="/deep/2.html">2</a>'),
        "/deep/2.html": html('<a href="/deep/3.html">3</a>'),
        "/deep/3.html": html("end"),
        "/private/x.html": html("secret"),
    }


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    with SiteServer(_routes()) as site:
        yield site


@pytest.fixture(scope="module")
def dropped(server: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    result = run_crawl([server.url("/")], tmp_path_factory.mktemp("e2e"), "--depth", "2")
    assert result.returncode == 0, result.stderr
    return result


def test_spider_fetches_pages_and_referenced_media(server: SiteServer, dropped: CrawlResult) -> None:
    for path in (
        "/m/small.jpg",
        "/m/big.jpg",
        "/m/pic.webp",
        "/m/clip.mp4",
        "/docs/paper.pdf",
        "/deep/1.html",
        "/deep/2.html",
    ):
        assert path in server.requested
    assert "/deep/3.html" not in server.requested  # --depth 2
    assert "/private/x.html" not in server.requested
    assert "/m/song.mp3" not in server.requested  # ai.txt denies every declared purpose: withheld before download


def test_items_and_decisions(server: SiteServer, dropped: CrawlResult) -> None:
    urls = dropped.item_urls()
    assert server.url("/m/song.mp3") not in urls  # ai.txt
    assert server.url("/docs/paper.pdf") not in urls  # tdmrep.json
    assert server.url("/m/small.jpg") in urls
    item = next(i for i in dropped.items if i["url"] == server.url("/m/small.jpg"))
    assert set(item) == {"url", "status", "content_type", "length", "sha256", "consent"}
    assert all(record_problems(d) == [] for d in dropped.decisions)
    assert "ai-txt" in dropped.decision(server.url("/m/song.mp3"))["reason"]
    assert dropped.decision(server.url("/m/song.mp3"))["response"] is None
    assert "tdmrep-file" in dropped.decision(server.url("/docs/paper.pdf"))["reason"]


def test_summary_on_stdout(dropped: CrawlResult) -> None:
    lines = dropped.stdout.splitlines()
    assert lines[0].startswith("consentry crawl: ")
    assert "dropped 2" in lines[0]
    assert "skipped 1" in lines[0]
    rows = {
        line.split()[0]: line.split()[1:]
        for line in lines[2:]
        if line.startswith("  ") and line.split()[0] in {"ai-txt", "tdmrep-file", "robots"}
    }
    assert rows["ai-txt"] == ["0", "1", "0"]
    assert rows["tdmrep-file"] == ["0", "1", "0"]
    assert rows["robots"] == ["0", "0", "1"]


def test_max_requests_limits_the_crawl(server: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    result = run_crawl([server.url("/")], tmp_path_factory.mktemp("limit"), "--max-requests", "3")
    assert result.returncode == 0, result.stderr
    assert len(result.decisions) == 3


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.example.co.uk/a", "example.co.uk"),
        ("http://127.0.0.1:8080/", "127.0.0.1"),
        ("http://localhost:1/", "localhost"),
        ("https://a.b.example.com/", "example.com"),
    ],
)
def test_site_is_registrable_domain(url: str, site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*_: object, **__: object) -> None:
        raise AssertionError("tldextract tried the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert site_of(url) == site
