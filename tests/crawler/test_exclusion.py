"""Excluded domains in a real crawl: a listed domain and its subdomains are never requested — linked, as media,
behind a redirect from an allowed site, or as a licence an allowed asset names — and the audit replays the skips.

One loopback server answers for `allowed.test`, `excluded.test` and its subdomains (the crawl resolves `*.test`
to 127.0.0.1 through `tests.crawler.hostsresolver`); it logs the Host header of every request it receives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crawler._helpers import ROOT, SITE_FILES, CrawlResult, run_crawl
from tests.crawler._loopback import LoggingServer, serving

_RESOLVER = {"DNS_RESOLVER": "tests.crawler.hostsresolver.LoopbackTestResolver"}


def _answer(host: str, path: str, port: int) -> tuple[int, list[tuple[str, str]], bytes]:
    html = [("Content-Type", "text/html; charset=utf-8")]
    jpeg = [("Content-Type", "image/jpeg")]
    if host == "redirecting.test" and path == "/robots.txt":
        return 301, [("Location", f"http://excluded.test:{port}/robots.txt")], b""
    if path == "/robots.txt":
        return 200, [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"
    if path in ("/ai.txt", "/.well-known/tdmrep.json"):
        return 404, [], b""
    if host == "allowed.test" and path == "/":
        page = (
            f'<html><body><a href="/go">go</a><a href="/about">about</a>'
            f'<img src="http://cdn.excluded.test:{port}/pic.jpg">'
            f'<img src="http://excluded.test:{port}/photo.jpg">'
            f'<img src="/licensed.jpg"></body></html>'
        )
        return 200, html, page.encode()
    if host == "allowed.test" and path == "/go":
        return 302, [("Location", f"http://www.excluded.test:{port}/landing")], b""
    if host == "allowed.test" and path == "/licensed.jpg":
        link = f'<http://excluded.test:{port}/licence.xml>; rel="license"; type="application/rsl+xml"'
        return 200, [*jpeg, ("Link", link)], b"\xff\xd8\xff\xe0 jpeg"
    if host == "allowed.test" and path == "/about":
        return 200, html, b"<html><body>about</body></html>"
    return 200, jpeg, b"\xff\xd8\xff\xe0 excluded content"


@pytest.fixture(scope="module")
def server() -> Iterator[LoggingServer]:
    with serving(_answer) as srv:
        yield srv


@pytest.fixture(scope="module")
def crawled(server: LoggingServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    directory = tmp_path_factory.mktemp("exclusion")
    listing = directory / "blocked.txt"
    listing.write_text("# domains recognised as infringing\nexcluded.test\nnot a domain  # malformed\n",
                       encoding="utf-8")
    port = server.port
    starts = [f"http://allowed.test:{port}/", f"http://redirecting.test:{port}/",
              f"http://list.excluded.test:{port}/start"]  # a listed subdomain given as a start URL
    result = run_crawl(starts, directory / "out", "--exclude-list", str(listing),
                       settings=_RESOLVER)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_listed_domain_and_subdomains_are_never_requested(crawled: CrawlResult, server: LoggingServer) -> None:
    hosts = {r.host for r in server.log}
    assert "allowed.test" in hosts
    assert {(r.host, r.path) for r in server.log if r.host == "allowed.test"} >= {("allowed.test", "/go"),
                                                                       ("allowed.test", "/licensed.jpg")}
    assert not [h for h in hosts if h == "excluded.test" or h.endswith(".excluded.test")], server.log


def test_each_excluded_url_is_a_skip_with_the_list_and_line(crawled: CrawlResult, server: LoggingServer) -> None:
    port = server.port
    for url in (f"http://cdn.excluded.test:{port}/pic.jpg", f"http://excluded.test:{port}/photo.jpg",
                f"http://list.excluded.test:{port}/start",
                f"http://www.excluded.test:{port}/landing"):  # the last one only behind allowed.test's redirect
        record = crawled.decision(url)
        assert record["action"] == "skip"
        assert record["response"] is None
        first = record["signals"][0]
        assert first["mechanism"] == "excluded-domain"
        assert "blocked.txt line 2" in first["evidence"]
        assert "excluded domain excluded.test" in record["reason"]


def test_a_licence_on_an_excluded_domain_is_not_fetched_and_reads_unverifiable(crawled: CrawlResult,
                                                                                server: LoggingServer) -> None:
    record = crawled.decision(f"http://allowed.test:{server.port}/licensed.jpg")
    rsl = [s for s in record["signals"] if s["mechanism"] == "rsl"]
    assert rsl
    assert "unverifiable" in rsl[0]["tags"]
    assert "excluded domain excluded.test" in rsl[0]["evidence"]
    assert record["action"] == "drop"


def test_a_site_file_redirected_to_an_excluded_domain_is_not_followed(crawled: CrawlResult,
                                                                       server: LoggingServer) -> None:
    assert ("redirecting.test", "/robots.txt") in {(r.host, r.path) for r in server.log}
    record = crawled.decision(f"http://redirecting.test:{server.port}/")
    assert record["action"] == "skip"  # robots.txt unreachable: complete disallow (RFC 9309 §2.3.1.4)
    assert "not fetched: excluded domain excluded.test" in record["reason"]
    assert {r.path for r in server.log if r.host == "redirecting.test"} == SITE_FILES  # the page itself never


def test_malformed_lines_are_reported_with_their_number(crawled: CrawlResult) -> None:
    assert "blocked.txt line 3: 'not a domain' is not a domain or host; skipped" in crawled.stderr


def test_the_audit_replays_the_excluded_skips(crawled: CrawlResult) -> None:
    proc = subprocess.run([sys.executable, "-m", "consentry.crawler.cli", "audit", "--jobs", "1",
                           str(crawled.out / "crawl.warc.gz")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mismatches: 0" in proc.stdout


def test_the_report_lists_the_excluded_domain_hit(crawled: CrawlResult) -> None:
    proc = subprocess.run([sys.executable, "-m", "consentry.crawler.cli", "report", "--json", str(crawled.out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    listing = str(crawled.out.parent / "blocked.txt")
    assert report["excluded_domains"] == {"listed": 1, "skipped": 4, "hits": [{
        "domain": "excluded.test", "list": listing, "line": 2, "urls": 4,
        "hosts": ["cdn.excluded.test", "excluded.test", "list.excluded.test", "www.excluded.test"]}]}
    assert report["policy"]["settings"]["exclusion_lists"] == [listing]
    assert report["audit"]["mismatches"] == 0
    assert "It never requests 1 listed domains" in report["crawler_information"]
    rows = {row["protocol"]: row for row in report["protocols"]}
    assert rows["Excluded domains"]["decided_actions"]["skip"] == 4


def test_an_unreadable_list_is_exit_2_in_one_line(tmp_path: Path) -> None:
    result = run_crawl(["http://127.0.0.1:9/"], tmp_path / "out", "--exclude-list", str(tmp_path / "missing.txt"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "CONSENT_EXCLUDED_DOMAINS: cannot read list file" in lines[0]
    assert "missing.txt" in lines[0]
