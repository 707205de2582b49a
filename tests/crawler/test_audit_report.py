"""`consentry audit --report`: one self-contained HTML page, checked in real headless Chromium without network."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.crawler._audit import run_audit
from tests.fixtures.warc.generate import write_all

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("report")
    files = write_all(directory)
    target = directory / "audit.html"
    from consentry.crawler.audit import command as audit
    from consentry.crawler.errors import Parser as _Parser

    parser = _Parser(prog="consentry")
    audit.add_parser(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    args = parser.parse_args(
        [
            "audit",
            str(files["foreign-wget.warc.gz"]),
            str(files["out-of-order-captures.warc.gz"]),
            "--report",
            str(target),
            "--jobs",
            "1",
        ]
    )
    assert audit.run(args) == 0
    return target


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert "Decisions by site" in html
    assert "foreign.example" in html
    assert "Decisions by deciding mechanism" in html
    assert "Decisions over time" in html
    # no resource of any kind is referenced: no src/href/xmlns/url() pointing anywhere but data:
    assert not re.search(r"""(?:src|href|xmlns|action|data|poster)\s*=\s*["']?(?!data:)[a-z]+:""", html, re.I)
    assert "url(" not in html
    assert "@import" not in html
    assert "<script src" not in html
    assert "<link" not in html


def test_report_never_claims_reproduction_without_archived_decisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_all(tmp_path)
    target = tmp_path / "r.html"
    code, _, _ = run_audit(capsys, str(files["foreign-wget.warc.gz"]), "--report", str(target))
    assert code == 0
    html = target.read_text()
    assert "no decision was archived: nothing to reproduce" in html
    assert "was reproduced" not in html
    assert 'class="banner"' in html
    assert "Foreign archive" in html
    code, _, _ = run_audit(capsys, str(files["foreign-wget.warc.gz"]), "--purpose", "search", "--report",
                           str(target))
    assert "Replayed under another agent or purpose" in target.read_text()


def test_report_lists_unverifiable_records_with_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_all(tmp_path)
    target = tmp_path / "r.html"
    code, _, _ = run_audit(capsys, str(files["wrong-content-length.warc"]), "--report", str(target))
    assert code == 1
    html = target.read_text()
    assert '<table id="unverifiable">' in html
    assert "WARC digest mismatch" in html
    assert '<ul id="lacking">' in html


class _Logged(BaseHTTPRequestHandler):
    requests: list[str] = []  # noqa: RUF012 - the handler class records for the test
    page = b""

    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        self.send_response(200 if self.path == "/report.html" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(type(self).page if self.path == "/report.html" else b"")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium_without_network(report: Path, tmp_path: Path) -> None:
    _Logged.page, _Logged.requests = report.read_bytes(), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Logged)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/report.html"
        command = [str(CHROMIUM), *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url]
        dom = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False).stdout
        shot = tmp_path / "shot.png"
        command = [
            str(CHROMIUM),
            *_FLAGS,
            f"--user-data-dir={tmp_path / 'profile2'}",
            f"--screenshot={shot}",
            "--window-size=900,1200",
            url,
        ]
        subprocess.run(command, capture_output=True, timeout=90, check=False)
    finally:
        server.shutdown()
    assert dom.count("<svg") == 3
    assert dom.count("<rect") >= 3
    assert "Decisions by site" in dom
    assert set(_Logged.requests) <= {"/report.html", "/favicon.ico"}  # nothing else was fetched
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert len(data) > 5000


def _rows(dom: str) -> list[tuple[str, bool]]:
    """(data-action, hidden) of every row of the decisions table in a dumped DOM."""
    body = dom.split('<table id="decisions">', 1)[1].split("</table>", 1)[0]
    return [(m.group(1), "hidden" in m.group(0)) for m in re.finditer(r'<tr data-action="(\w+)"[^>]*>', body)]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_report_table_filters_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    """The decisions table as Chromium renders it, then filtered by the page's own script (action, search)."""
    def dump(fragment: str, profile: str) -> str:
        url = report.as_uri() + fragment
        command = [str(CHROMIUM), *_FLAGS, f"--user-data-dir={tmp_path / profile}", "--dump-dom", url]
        return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False).stdout

    dom = dump("", "p1")
    rows = _rows(dom)
    assert len(rows) == 8  # foreign-wget's 5 decisions and out-of-order's 3
    assert not any(hidden for _, hidden in rows)
    assert 'id="shown">8<' in dom
    assert "foreign archive" in dom
    assert "decisions per" in dom  # the labelled time axis
    assert "http://foreign.example:80" in dom  # origin with its port
    assert '<ul id="policy">' in dom
    dropped = dump("#action=drop", "p2")
    rows = _rows(dropped)
    assert len(rows) == 8
    visible = [action for action, hidden in rows if not hidden]
    assert visible
    assert set(visible) == {"drop"}
    assert f'id="shown">{len(visible)}<' in dropped
    searched = dump("#q=norobots", "p3")
    assert [a for a, hidden in _rows(searched) if not hidden] == ["keep"]
