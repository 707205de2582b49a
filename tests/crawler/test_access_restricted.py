"""Access restrictions in a real crawl: 401, 402, 403 with WWW-Authenticate and schema.org paywall markup are
recorded as `access-restricted`, and nothing is retried with credentials, cookies or another user agent (the
loopback server logs every request's headers)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crawler._helpers import ROOT, CrawlResult, run_crawl
from tests.crawler._loopback import LoggingServer, serving

_PAYWALL_LD = (b'<html><head><script type="application/ld+json">{"@context": "https://schema.org", '
               b'"@type": "NewsArticle", "isAccessibleForFree": false, "hasPart": {"@type": "WebPageElement", '
               b'"cssSelector": ".paywall"}}</script></head><body>teaser</body></html>')
_PAYWALL_MICRODATA = (b'<html><body><article itemscope itemtype="https://schema.org/Article">'
                      b'<meta itemprop="isAccessibleForFree" content="False">teaser</article></body></html>')
_ROUTES: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {
    "/robots.txt": (200, [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
    "/": (200, [("Content-Type", "text/html"), ("Set-Cookie", "session=abc; Path=/")],
          b'<a href="/members">m</a><a href="/pay">p</a><a href="/private">x</a><a href="/forbidden">f</a>'
          b'<a href="/article">a</a><a href="/story">s</a><a href="/free">free</a>'),
    "/members": (401, [("Content-Type", "text/html"), ("WWW-Authenticate", 'Basic realm="members"'),
                       ("Set-Cookie", "tried=1; Path=/")], b"<p>log in</p>"),
    "/pay": (402, [("Content-Type", "text/html")], b"<p>pay</p>"),
    "/private": (403, [("Content-Type", "text/html"), ("WWW-Authenticate", 'Bearer realm="api"')], b"no"),
    "/forbidden": (403, [("Content-Type", "text/html")], b"<p>forbidden</p>"),
    "/article": (200, [("Content-Type", "text/html; charset=utf-8")], _PAYWALL_LD),
    "/story": (200, [("Content-Type", "text/html")], _PAYWALL_MICRODATA),
    "/free": (200, [("Content-Type", "text/html")], b'<script type="application/ld+json">'
              b'{"isAccessibleForFree": true}</script>free'),
}


def _answer(host: str, path: str, port: int) -> tuple[int, list[tuple[str, str]], bytes]:
    return _ROUTES.get(path, (404, [], b""))


@pytest.fixture(scope="module")
def server() -> Iterator[LoggingServer]:
    with serving(_answer) as srv:
        yield srv


@pytest.fixture(scope="module")
def crawled(server: LoggingServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    out = tmp_path_factory.mktemp("restricted") / "out"
    result = run_crawl([f"http://127.0.0.1:{server.port}/"], out)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _url(server: LoggingServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


@pytest.mark.parametrize(("path", "evidence"), [
    ("/members", 'HTTP 401, WWW-Authenticate: Basic realm="members"'),
    ("/pay", "HTTP 402"),
    ("/private", 'HTTP 403, WWW-Authenticate: Bearer realm="api"'),
    ("/article", "JSON-LD isAccessibleForFree: false"),
    ("/story", 'microdata <meta itemprop="isAccessibleForFree" content="False">'),
])
def test_restricted_responses_are_recorded(crawled: CrawlResult, server: LoggingServer, path: str, evidence: str) -> None:
    record = crawled.decision(_url(server, path))
    assert "access-restricted" in record["tags"]
    found = [s for s in record["signals"] if s["mechanism"] == "access-restriction"]
    assert [s["evidence"] for s in found] == [evidence]
    assert found[0]["tags"] == ["access-restricted"]
    assert found[0]["statement"] == {}


@pytest.mark.parametrize("path", ["/forbidden", "/free", "/"])
def test_other_responses_are_not_restricted(crawled: CrawlResult, server: LoggingServer, path: str) -> None:
    record = crawled.decision(_url(server, path))
    assert "access-restricted" not in record["tags"]
    assert not [s for s in record["signals"] if s["mechanism"] == "access-restriction"]


def test_nothing_is_retried_with_credentials_cookies_or_another_agent(crawled: CrawlResult,
                                                                      server: LoggingServer) -> None:
    paths = [r.path for r in server.log]
    for path in ("/members", "/pay", "/private", "/article", "/story"):
        assert paths.count(path) == 1, paths
    assert not [r for r in server.log if {"cookie", "authorization", "proxy-authorization"} & set(r.headers)]
    agents = {r.headers.get("user-agent") for r in server.log}
    assert len(agents) == 1
    assert "consentry" in next(iter(agents))


def test_the_report_lists_the_restricted_responses(crawled: CrawlResult, server: LoggingServer) -> None:
    proc = subprocess.run([sys.executable, "-m", "consentry.crawler.cli", "report", "--json", "--no-audit",
                           str(crawled.out)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    restricted = json.loads(proc.stdout)["access_restricted"]
    assert restricted["total"] == 5
    assert {r["url"]: r["status"] for r in restricted["responses"]} == {
        _url(server, "/members"): 401, _url(server, "/pay"): 402, _url(server, "/private"): 403,
        _url(server, "/article"): 200, _url(server, "/story"): 200}


def test_the_report_names_the_contact_and_withholds_claims_the_archive_contradicts(tmp_path: Path) -> None:
    agent = "Mozilla/5.0 (compatible; consentry/0.1; +https://example.org/our-crawler)"
    with serving(_answer) as other:
        done = run_crawl([f"http://127.0.0.1:{other.port}/"], tmp_path / "out",
                         settings={"COOKIES_ENABLED": "True", "USER_AGENT": agent})
        assert done.returncode == 0, done.stderr[-2000:]
        cookies = [r for r in other.log if "cookie" in r.headers]
    assert cookies  # the site's Set-Cookie came back: this crawl kept a cookie jar
    proc = subprocess.run([sys.executable, "-m", "consentry.crawler.cli", "report", "--json", "--no-audit",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    report = json.loads(proc.stdout)
    assert report["crawler"]["contact_urls"] == ["https://example.org/our-crawler"]
    assert report["crawler"]["user_agents"] == [agent]
    assert report["crawler"]["requests_with_credentials_or_cookies"] == len(cookies)
    assert "never retried with credentials" not in report["crawler_information"]
    assert "Contact: https://example.org/our-crawler." in report["crawler_information"]
