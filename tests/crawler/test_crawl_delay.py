"""robots.txt `Crawl-delay` / `Request-rate` honoured per origin, seen from the server's own arrival times (a
behaviour assertion on the server log: how far apart requests arrived, never how long the crawl took)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import SITE_FILES, html, run_crawl

pytestmark = pytest.mark.e2e


def _site(robots: str) -> dict[str, Route]:
    return {
        "/robots.txt": Route.text(robots),
        "/": html('<html><body><a href="/a.html">a</a><a href="/b.html">b</a></body></html>'),
        "/a.html": html("<html><body>a</body></html>"),
        "/b.html": html("<html><body>b</body></html>"),
    }


def _gaps(site: SiteServer) -> list[float]:
    """Seconds between consecutive arrivals, from the first request made after the site files on."""
    arrivals = sorted(site.arrivals)
    first = next(i for i, (_, path) in enumerate(arrivals) if path not in SITE_FILES)
    times = [t for t, _ in arrivals[first - 1:]]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_crawl_delay_spaces_requests_on_the_origin(tmp_path: Path) -> None:
    with SiteServer(_site("User-agent: *\nAllow: /\nCrawl-delay: 2\n")) as site:
        result = run_crawl([site.url("/")], tmp_path, settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 8})
        assert result.returncode == 0, result.stderr[-2000:]
        assert {"/", "/a.html", "/b.html"} <= set(site.requested)
        gaps = _gaps(site)
        assert len(gaps) == 3  # the last site file -> /, / -> a, a -> b
        assert min(gaps) >= 2.0, gaps


def test_request_rate_and_the_ceiling(tmp_path: Path) -> None:
    with SiteServer(_site("User-agent: *\nAllow: /\nRequest-rate: 1/1\nCrawl-delay: 3600\n")) as site:
        result = run_crawl([site.url("/")], tmp_path, settings={"CONSENT_MAX_CRAWL_DELAY": 1})
        assert result.returncode == 0, result.stderr[-2000:]
        gaps = _gaps(site)
        assert len(gaps) == 3
        assert min(gaps) >= 1.0, gaps  # the slowest pace asked (an hour), capped at CONSENT_MAX_CRAWL_DELAY
        assert max(gaps) < 30, gaps  # the cap, not the hour

