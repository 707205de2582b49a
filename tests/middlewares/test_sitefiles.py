"""SiteFilesMiddleware with the real engine against loopback origins (RFC 9309 §2.3.1 status rules).

One crawl covers several origins, each with a robots.txt fault; all live on 127.0.0.1, which is one
"site", so the start page links every origin. The stalling origin gets a crawl of its own with a one-second
DOWNLOAD_TIMEOUT: in the shared crawl that timer raced every other download, and on a loaded machine the
14 MB robots.txt ("junk") or even a small site file lost the race and became UNREACHABLE.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import SITE_FILES, CrawlResult, html, run_crawl

pytestmark = pytest.mark.e2e

_PAGE = html('<html><body><a href="/page.html">p</a><img src="/img.jpg"></body></html>')
_FAULTS: dict[str, Route] = {
    "ok": Route.text(
        "User-agent: *\nDisallow: /\n\nUser-agent: consentry\nDisallow: /private/\nDisallow: /mine/\n"
    ),
    "5xx": Route.text("<html>Service unavailable</html>", "text/html", status=503),
    "stall": Route(fault="stall", delay=30.0),  # answers nothing: only the download timeout ends it
    "redirect-loop": Route(fault="redirect-loop"),
    "drop": Route(fault="drop"),
    "junk": Route(200, (("Content-Type", "text/plain"),), b"\x00\xff garbage \xfe" * 1_000_000),
    "html": html("<!doctype html><html><body><h1>Welcome</h1><p>Disallow: nothing here</p></body></html>"),
    "404": Route.text("not here", status=404),
    "redirect-3": Route(302, (("Location", "/r1"),)),
}


def _routes(robots: Route) -> dict[str, Route]:
    pages = {f"/p{i}.html": _PAGE for i in range(6)}
    return {
        "/robots.txt": robots,
        "/": _PAGE,
        "/page.html": _PAGE,
        "/img.jpg": Route(200, (), b"jpeg"),
        "/private/secret.html": _PAGE,
        "/mine/x.html": _PAGE,
        "/r1": Route(302, (("Location", "/r2"),)),
        "/r2": Route(302, (("Location", "/r3"),)),
        "/r3": Route.text("User-agent: *\nDisallow: /private/\n"),
        **pages,
    }


@pytest.fixture(scope="module")
def sites() -> Iterator[dict[str, SiteServer]]:
    servers = {name: SiteServer(_routes(robots)).start() for name, robots in _FAULTS.items()}
    yield servers
    for server in servers.values():
        server.stop()


#: Origins crawled with a short DOWNLOAD_TIMEOUT, apart from the others (see the module docstring).
_TIMED_OUT = frozenset({"stall"})


@pytest.fixture(scope="module")
def crawls(sites: dict[str, SiteServer], tmp_path_factory: pytest.TempPathFactory) -> dict[str, CrawlResult]:
    """Two crawls side by side: "result", every origin but the stalling one with the crawl's default
    DOWNLOAD_TIMEOUT; "timed_out", the stalling origin alone with a one-second DOWNLOAD_TIMEOUT (it can only
    end by timing out)."""
    ok = sites["ok"]
    starts = [s.url("/") for name, s in sites.items() if name not in _TIMED_OUT]
    starts += [ok.url(f"/p{i}.html") for i in range(6)]
    starts += [ok.url("/private/secret.html"), ok.url("/mine/x.html")]
    stalled = [sites[name].url("/") for name in sorted(_TIMED_OUT)]
    with ThreadPoolExecutor(2) as pool:
        runs = {
            "result": pool.submit(run_crawl, starts, tmp_path_factory.mktemp("sitefiles")),
            "timed_out": pool.submit(
                run_crawl, stalled, tmp_path_factory.mktemp("sitefiles-timeout"), settings={"DOWNLOAD_TIMEOUT": 1}
            ),
        }
        done = {name: run.result() for name, run in runs.items()}
    for res in done.values():
        assert res.returncode == 0, res.stderr
    return done


@pytest.fixture(scope="module")
def result(crawls: dict[str, CrawlResult]) -> CrawlResult:
    return crawls["result"]


def test_disallowed_urls_are_never_requested(sites: dict[str, SiteServer], result: CrawlResult) -> None:
    ok = sites["ok"]
    assert "/private/secret.html" not in ok.requested
    assert "/mine/x.html" not in ok.requested
    assert "/page.html" in ok.requested  # our own group applies, not "*" (RFC 9309 §2.2.1)
    assert result.decision(ok.url("/private/secret.html"))["action"] == "skip"
    assert result.decision(ok.url("/mine/x.html"))["access"] == "deny"
    assert "/page.html" in ok.requested


def test_site_files_fetched_once_per_origin_with_product_token(
    sites: dict[str, SiteServer], result: CrawlResult
) -> None:
    ok = sites["ok"]
    assert ok.requested.count("/robots.txt") == 1
    assert ok.requested.count("/ai.txt") == 1
    assert all("consentry/" in agent for agent in ok.user_agents)


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ("5xx", "503"),
        ("stall", "timeout"),
        ("redirect-loop", "more than 5 redirects"),
        ("drop", "connection"),
    ],
)
def test_unreachable_robots_fetches_nothing_from_origin(
    fault: str, why: str, sites: dict[str, SiteServer], crawls: dict[str, CrawlResult]
) -> None:
    result = crawls["timed_out" if fault in _TIMED_OUT else "result"]
    server = sites[fault]
    assert set(server.requested) <= SITE_FILES | {"/robots.txt"}, server.requested
    skip = result.decision(server.url("/"))
    assert skip["action"] == "skip"
    assert skip["access"] == "deny"
    assert skip["response"] is None
    assert "complete disallow" in skip["reason"]
    assert why in skip["reason"].lower(), skip["reason"]


@pytest.mark.parametrize("fault", ["junk", "html", "404", "redirect-3"])
def test_readable_or_absent_robots_allows_access(
    fault: str, sites: dict[str, SiteServer], result: CrawlResult
) -> None:
    server = sites[fault]
    assert "/page.html" in server.requested
    assert result.decision(server.url("/"))["access"] == "allow"


def test_followed_robots_redirect_applies(sites: dict[str, SiteServer], result: CrawlResult) -> None:
    server = sites["redirect-3"]
    assert server.requested.count("/r3") == 1
    assert "/private/secret.html" not in server.requested


def test_site_file_stats_in_summary(result: CrawlResult) -> None:
    assert "skipped" in result.stdout
    assert "robots" in result.stdout
