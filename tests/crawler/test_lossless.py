"""Nothing logged is lost: the output directory lock, write failures (a full tmpfs, RLIMIT_FSIZE) that stop the
crawl with exit 1 and never apply an unlogged decision, and items.jsonl keeping up with the log after SIGKILL."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import ROOT, crawl_command, html, read_warc

pytestmark = pytest.mark.e2e
_PAGES = 300


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    routes: dict[str, Route] = {"/robots.txt": Route.text("User-agent: *\nAllow: /\n")}
    for i in range(_PAGES):
        links = "".join(f'<a href="/p{j}.html">{j}</a>' for j in range(i + 1, min(i + 4, _PAGES)))
        routes[f"/p{i}.html"] = html(f"<html><body>{'x' * 300}{links}</body></html>", ("X-Page", str(i)))
    with SiteServer(routes) as server:
        yield server


def _command(site: SiteServer, out: Path, **settings: object) -> list[str]:
    merged = {"CONCURRENT_REQUESTS": 1, "DOWNLOAD_DELAY": 0.01, "DEPTH_LIMIT": 0, **settings}
    return crawl_command([site.url("/p0.html")], out, "--max-requests", "0", settings=merged)


def _start(site: SiteServer, out: Path, **settings: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(site, out, **settings), cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the crawl never produced decisions")


def _finish(proc: subprocess.Popen[str], signum: int) -> None:
    proc.send_signal(signum)
    proc.communicate(timeout=30)


def test_a_second_crawl_into_the_same_directory_is_refused(site: SiteServer, tmp_path: Path) -> None:
    first = _start(site, tmp_path)
    try:
        _wait_for_lines(tmp_path / "decisions.jsonl", 10, first)
        second = subprocess.run(
            _command(site, tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"consentry: error: {tmp_path} is in use by another crawl (pid {first.pid}); choose another -o DIR"
        ]
        before = len(_lines(tmp_path / "decisions.jsonl"))
        _wait_for_lines(tmp_path / "decisions.jsonl", before + 5, first)  # the first crawl's log is untouched
        assert len(_lines(tmp_path / "decisions.jsonl")) >= before + 5
    finally:
        _finish(first, signal.SIGKILL)
    # the kernel dropped the killed crawl's lock: a stale lock file blocks nothing
    third = subprocess.run(
        _command(site, tmp_path, DEPTH_LIMIT=1), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert third.returncode == 0, third.stderr[-2000:]
    assert (tmp_path / ".consentry.lock").read_text().strip() != str(first.pid)


def test_items_keep_up_with_the_decision_log_after_sigkill(site: SiteServer, tmp_path: Path) -> None:
    proc = _start(site, tmp_path)
    _wait_for_lines(tmp_path / "decisions.jsonl", 30, proc)
    _finish(proc, signal.SIGKILL)
    decisions = _lines(tmp_path / "decisions.jsonl")  # every line parses: no torn line
    items = _lines(tmp_path / "items.jsonl")
    kept = {d["url"] for d in decisions if d["action"] == "keep"}
    assert {item["url"] for item in items} <= kept
    # Items are written as they are scraped: at the kill, only responses already downloaded (decision logged) but
    # not yet through the spider lack one — the one in flight with Scrapy 2.19; Scrapy 2.15 queues a few more.
    assert len(items) >= len(kept) - 5


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the RLIMIT_FSIZE test covers write errors without it)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def _crawl(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, **kwargs)


def test_a_full_disk_under_the_decision_log_stops_the_crawl(
    site: SiteServer, tmp_path: Path, tiny_tmpfs: Path
) -> None:
    log = tiny_tmpfs / "decisions.jsonl"
    requested_before = len(site.requested)
    done = _crawl(_command(site, tmp_path / "out", CONSENT_LOG_PATH=log, CONCURRENT_REQUESTS=4))
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last == (f"consentry: error: cannot write the decision log {log}: No space left on device; "
                    "the crawl was stopped")
    assert "Traceback" not in done.stderr
    decisions = _lines(log)  # every line on the full disk parses: the failed one was truncated away
    assert f"consentry crawl: {len(_lines(tmp_path / 'out' / 'items.jsonl'))} items; kept {len(decisions)}," in done.stdout
    assert 0 < len(decisions) < _PAGES
    logged = {d["url"] for d in decisions}
    items = _lines(tmp_path / "out" / "items.jsonl")
    assert {item["url"] for item in items} <= logged  # no decision applied unlogged
    assert len(site.requested) - requested_before < len(decisions) + 20  # stopped, not crawled to the end


def test_a_warc_write_error_stops_the_crawl_without_a_torn_record(site: SiteServer, tmp_path: Path) -> None:
    limit = 40_000

    def small_files() -> None:  # every file the crawl writes is capped: EFBIG past the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = _crawl(_command(site, tmp_path), preexec_fn=small_files)
    assert done.returncode == 1, done.stderr[-2000:]
    warc = tmp_path / "crawl.warc.gz"
    assert done.stderr.strip().splitlines()[-1] == (
        f"consentry: error: cannot write the WARC {warc}: File too large; the crawl was stopped"
    )
    assert "Traceback" not in done.stderr
    records = read_warc(warc)  # reads to the end: no torn gzip member
    assert warc.stat().st_size <= limit
    archived = {uri for kind, uri, _, content, _ in records if kind == "metadata" and b'"action"' in content}
    items = _lines(tmp_path / "items.jsonl")
    assert items
    assert {item["url"] for item in items} <= archived  # every item's decision is in the WARC
    assert len(_lines(tmp_path / "decisions.jsonl")) < _PAGES
