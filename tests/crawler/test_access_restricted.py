"""Access restrictions in a real crawl: 401, 402, 403 with WWW-Authenticate and schema.org paywall markup are
recorded as `access-restricted`, and nothing is retried with credentials, cookies or another user agent (the
loopback server logs every request's headers)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.crawler._helpers import ROOT, CrawlResult, run_crawl

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


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        with server.lock:
            server.log.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        status, headers, body = _ROUTES.get(self.path, (404, [], b""))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.log: list[tuple[str, dict[str, str]]] = []


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def crawled(server: _Server, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    out = tmp_path_factory.mktemp("restricted") / "out"
    result = run_crawl([f"http://127.0.0.1:{server.server_address[1]}/"], out)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _url(server: _Server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@pytest.mark.parametrize(("path", "evidence"), [
    ("/members", 'HTTP 401, WWW-Authenticate: Basic realm="members"'),
    ("/pay", "HTTP 402"),
    ("/private", 'HTTP 403, WWW-Authenticate: Bearer realm="api"'),
    ("/article", "JSON-LD isAccessibleForFree: false"),
    ("/story", 'microdata <meta itemprop="isAccessibleForFree" content="False">'),
])
def test_restricted_responses_are_recorded(crawled: CrawlResult, server: _Server, path: str, evidence: str) -> None:
    record = crawled.decision(_url(server, path))
    assert "access-restricted" in record["tags"]
    found = [s for s in record["signals"] if s["mechanism"] == "access-restriction"]
    assert [s["evidence"] for s in found] == [evidence]
    assert found[0]["tags"] == ["access-restricted"]
    assert found[0]["statement"] == {}


@pytest.mark.parametrize("path", ["/forbidden", "/free", "/"])
def test_other_responses_are_not_restricted(crawled: CrawlResult, server: _Server, path: str) -> None:
    record = crawled.decision(_url(server, path))
    assert "access-restricted" not in record["tags"]
    assert not [s for s in record["signals"] if s["mechanism"] == "access-restriction"]


def test_nothing_is_retried_with_credentials_cookies_or_another_agent(crawled: CrawlResult,
                                                                      server: _Server) -> None:
    paths = [path for path, _ in server.log]
    for path in ("/members", "/pay", "/private", "/article", "/story"):
        assert paths.count(path) == 1, paths
    assert not [h for _, h in server.log if "cookie" in h or "authorization" in h or "proxy-authorization" in h]
    agents = {h.get("user-agent") for _, h in server.log}
    assert len(agents) == 1
    assert "consentry" in next(iter(agents))


def test_the_report_lists_the_restricted_responses(crawled: CrawlResult, server: _Server) -> None:
    proc = subprocess.run([sys.executable, "-m", "consentry.crawler.cli", "report", "--json", "--no-audit",
                           str(crawled.out)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    restricted = json.loads(proc.stdout)["access_restricted"]
    assert restricted["total"] == 5
    assert {r["url"]: r["status"] for r in restricted["responses"]} == {
        _url(server, "/members"): 401, _url(server, "/pay"): 402, _url(server, "/private"): 403,
        _url(server, "/article"): 200, _url(server, "/story"): 200}
