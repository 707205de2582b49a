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


def test_report_lists_mismatches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_all(tmp_path)
    target = tmp_path / "r.html"
    code, _, _ = run_audit(capsys, str(files["foreign-wget.warc.gz"]), "--report", str(target))
    assert code == 0
    assert "none: every archived decision was reproduced" in target.read_text()


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
