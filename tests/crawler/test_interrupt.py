"""Interrupting `consentry crawl` (SIGINT, SIGKILL): the decision log and the WARC stay readable."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import ROOT, crawl_command, html

pytestmark = pytest.mark.e2e
_PAGES = 400


@pytest.fixture(scope="module")
def slow_site() -> Iterator[SiteServer]:
    routes: dict[str, Route] = {"/robots.txt": Route.text("User-agent: *\nAllow: /\n")}
    for i in range(_PAGES):
        links = "".join(f'<a href="/p{j}.html">{j}</a>' for j in range(i + 1, min(i + 4, _PAGES)))
        routes[f"/p{i}.html"] = html(
            f"<html><body>{links}</body></html>", ("X-Robots-Tag", "noai") if i % 3 else ("X-Page", str(i))
        )
    with SiteServer(routes) as site:
        yield site


def _start(site: SiteServer, out: Path) -> subprocess.Popen[str]:
    settings = {"CONCURRENT_REQUESTS": 1, "DOWNLOAD_DELAY": 0.02, "DEPTH_LIMIT": 0}
    command = crawl_command(
        [site.url("/p0.html")], out, "--max-requests", "0", "--on-deny", "tag", settings=settings
    )
    return subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def _wait_for_decisions(out: Path, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    path = out / "decisions.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the crawl never produced decisions")


def _warc_reads_back(path: Path) -> tuple[int, int]:
    """(complete records, metadata records); a truncated record is accepted only as the very last one."""
    complete = metadata = end = 0
    with path.open("rb") as fh:
        records = ArchiveIterator(fh)
        try:
            for record in records:
                record.content_stream().read()
                complete += 1
                metadata += record.rec_type == "metadata"
                end = records.get_record_offset() + records.get_record_length()
        except (ArchiveLoadFailed, EOFError, OSError):
            tail = path.read_bytes()[end:]
            assert tail.count(b"\x1f\x8b\x08") <= 1, "unreadable records before the end of the WARC"
    return complete, metadata


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_crawl_leaves_readable_outputs(
    signum: int, slow_site: SiteServer, tmp_path: Path
) -> None:
    proc = _start(slow_site, tmp_path)
    _wait_for_decisions(tmp_path, 20, proc)
    proc.send_signal(signum)
    proc.communicate(timeout=30)
    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
    assert 20 <= len(lines) < _PAGES
    for line in lines:
        json.loads(line)  # every line on disk is complete
    complete, metadata = _warc_reads_back(tmp_path / "crawl.warc.gz")
    assert complete > 2 * len(lines)
    assert metadata >= len(lines) - 1  # at most the one being written when killed
    if signum == signal.SIGINT:
        assert proc.returncode == 130
        assert metadata == len(lines)
