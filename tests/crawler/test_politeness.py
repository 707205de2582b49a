"""Politeness of `consentry crawl` against real loopback servers: download slots per origin, `Retry-After`
on 429/503, a 429 robots.txt (unreachable, fetched again after `CONSENT_UNREACHABLE_TTL`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from consentry.middlewares.politeness import retry_after_seconds
from tests.crawler._helpers import run_crawl

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Reply:
    """One answer: status, extra headers, body, seconds to wait before answering."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: str = "<html><body>ok</body></html>"
    delay: float = 0.0


@dataclass
class InFlight:
    """Requests being answered right now, per server and over every server sharing it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    now: int = 0
    peak: int = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        server.arrivals.append((time.monotonic(), self.path))
        server.own.enter()
        server.shared.enter()
        try:
            reply = server.next_reply(self.path)
            time.sleep(reply.delay)
            body = reply.body.encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/plain" if self.path == "/robots.txt" else "text/html")
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            server.own.leave()
            server.shared.leave()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Sequence[Reply]], shared: InFlight) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = {path: list(replies) for path, replies in routes.items()}
        self.arrivals: list[tuple[float, str]] = []
        self.own = InFlight()
        self.shared = shared
        self._lock = threading.Lock()

    def next_reply(self, path: str) -> Reply:
        """The route's next reply (the last one repeats); 404 for an unknown path."""
        with self._lock:
            replies = self.routes.get(path)
            if not replies:
                return Reply(404, body="not found")
            return replies.pop(0) if len(replies) > 1 else replies[0]


@dataclass
class Origin:
    server: _Server

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def times(self, path: str) -> list[float]:
        return [t for t, p in self.server.arrivals if p == path]


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[_Server] = []

    def start(routes: dict[str, Sequence[Reply]], shared: InFlight | None = None) -> Origin:
        server = _Server(routes, shared or InFlight())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return Origin(server)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


_ALLOW = [Reply(body="User-agent: *\nAllow: /\n")]


def _slow_site(pages: int) -> dict[str, Sequence[Reply]]:
    links = "".join(f'<a href="/p{i}.html">{i}</a>' for i in range(pages))
    routes: dict[str, Sequence[Reply]] = {"/robots.txt": _ALLOW, "/": [Reply(body=f"<html><body>{links}</body></html>")]}
    for i in range(pages):
        routes[f"/p{i}.html"] = [Reply(delay=0.3)]
    return routes


def test_concurrency_is_per_origin_not_per_host(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shared = InFlight()
    first, second = serve(_slow_site(12), shared), serve(_slow_site(12), shared)
    result = run_crawl(
        [first.url("/"), second.url("/")], tmp_path,
        settings={"CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 2},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(first.times("/p11.html")) == len(second.times("/p11.html")) == 1
    assert first.server.own.peak == second.server.own.peak == 2  # each origin held to its own limit
    assert shared.peak >= 3  # one host, two origins: two slots, not one shared by host name


def test_retry_after_seconds_holds_the_origin(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    links = '<a href="/busy.html">b</a><a href="/other.html">o</a>'
    site = serve({
        "/robots.txt": _ALLOW,
        "/": [Reply(body=f"<html><body>{links}</body></html>")],
        "/busy.html": [Reply(429, (("Retry-After", "2"),)), Reply()],
        "/other.html": [Reply(delay=0.2)],
    })
    result = run_crawl([site.url("/")], tmp_path, settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 1})
    assert result.returncode == 0, result.stderr[-2000:]
    refused, retried = site.times("/busy.html")
    assert retried - refused >= 2.0
    later = [t for t, _ in site.server.arrivals if t > refused]
    assert later
    assert min(later) - refused >= 2.0  # no request to the origin in the meantime
    assert site.url("/busy.html") in result.item_urls()


def test_retry_after_http_date_and_ceiling(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    links = '<a href="/date.html">d</a>'
    until = int(time.time()) + 8
    site = serve({
        "/robots.txt": _ALLOW,
        "/": [Reply(body=f"<html><body>{links}</body></html>")],
        "/date.html": [Reply(503, (("Retry-After", formatdate(until, usegmt=True)),)), Reply()],
    })
    result = run_crawl([site.url("/")], tmp_path, settings={"CONSENT_MAX_RETRY_AFTER": 30})
    assert result.returncode == 0, result.stderr[-2000:]
    refused, retried = site.times("/date.html")
    retried_at = time.time() - (time.monotonic() - retried)  # the retry's wall-clock time
    assert retried - refused >= 1.0
    assert retried_at >= until - 1  # not before the date (one-second resolution)

    capped = serve({
        "/robots.txt": _ALLOW,
        "/": [Reply(body=f"<html><body>{links}</body></html>")],
        "/date.html": [Reply(429, (("Retry-After", "3600"),)), Reply()],
    })
    result = run_crawl([capped.url("/")], tmp_path / "capped", settings={"CONSENT_MAX_RETRY_AFTER": 1})
    assert result.returncode == 0, result.stderr[-2000:]
    refused, retried = capped.times("/date.html")
    assert 1.0 <= retried - refused < 60  # capped at CONSENT_MAX_RETRY_AFTER, not an hour


def test_429_robots_txt_denies_then_is_fetched_again(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = serve({
        "/robots.txt": [Reply(429, body="slow down"), *_ALLOW],
        "/p0.html": [Reply()],
        "/p1.html": [Reply()],
    })
    slow = serve({
        "/robots.txt": _ALLOW,
        "/slow.html": [Reply(delay=2.5, body=f'<html><body><a href="{target.url("/p1.html")}">p1</a></body></html>')],
    })
    result = run_crawl(
        [target.url("/p0.html"), slow.url("/slow.html")], tmp_path, settings={"CONSENT_UNREACHABLE_TTL": 1}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    skipped = result.decision(target.url("/p0.html"))
    assert skipped["action"] == "skip"
    assert "/p0.html" not in [p for _, p in target.server.arrivals]  # denied while robots.txt was unreachable
    first, again = target.times("/robots.txt")
    assert again - first >= 1.0  # fetched again after CONSENT_UNREACHABLE_TTL, not before
    assert result.decision(target.url("/p1.html"))["action"] == "keep"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2.0), ("0", 0.0), (" 120 ", 120.0), ("soon", None), ("-3", None), ("1.5", None)],
)
def test_retry_after_values(value: str, expected: float | None) -> None:
    assert retry_after_seconds(value, now=0.0) == expected


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    assert retry_after_seconds(formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert retry_after_seconds(formatdate(now - 30, usegmt=True), now=now) == 0.0
