"""`consentry check`'s command-line contract, case by case, through the real console script (issue 15).

Each case runs `.venv/bin/consentry check …` in a subprocess against loopback servers, with names resolved by
`tests/crawler/nodns/sitecustomize.py` (`*.test` is 127.0.0.1, every other name unknown: no real DNS), and
asserts the exit code (`consentry.crawler.exitcodes`), which stream carries the message, that the message
names the problem, and that no traceback appears anywhere.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from consentry.crawler import exitcodes
from consentry.crawler.demo.server import Route, SiteServer
from consentry.policies.record import record_problems

ROOT = Path(__file__).resolve().parents[2]
CONSENTRY = Path(sys.executable).with_name("consentry")
NODNS = Path(__file__).resolve().parent / "nodns"
HTML = "<!doctype html><html><head><title>t</title></head><body><p>hello</p></body></html>"


def _consentry(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(NODNS), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([str(CONSENTRY), *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Site:
    """The loopback site of one case: `url(path)` on 127.0.0.1 and `named(path)` under the name site.test."""

    server: SiteServer

    def url(self, path: str) -> str:
        return self.server.url(path)

    def named(self, path: str) -> str:
        return self.server.url(path).replace("127.0.0.1", "site.test", 1)


@pytest.fixture
def site(servers: list[SiteServer]) -> Site:
    server = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
                         "/a.html": Route.text(HTML, "text/html"),
                         "/moved": Route(301, (("Location", "/a.html"),), b"")}).start()
    servers.append(server)
    return Site(server)


@dataclass(frozen=True)
class Case:
    """One bad-input case: argv (built from the site and tmp_path), exit code, the stream naming it, the words."""

    name: str
    argv: Callable[[Site, Path], list[str]]
    code: int
    stream: str
    words: tuple[str, ...]


def _unreadable_anchors(tmp: Path) -> str:
    path = tmp / "anchors.pem"
    path.write_bytes(b"\xff\xfe not ascii")
    return str(path)


CASES = [
    Case("non-http URL", lambda s, t: ["ftp://example.com/a"], exitcodes.USAGE, "stderr",
         ("'ftp://example.com/a'", "not an absolute http(s) URL")),
    Case("no host", lambda s, t: ["http://"], exitcodes.USAGE, "stderr", ("'http://'", "has no host")),
    Case("bad IPv6 literal", lambda s, t: ["http://[::1/"], exitcodes.USAGE, "stderr",
         ("'http://[::1/'", "invalid IPv6 URL")),
    Case("port 99999", lambda s, t: ["http://127.0.0.1:99999/"], exitcodes.USAGE, "stderr",
         ("'http://127.0.0.1:99999/'", "port out of range")),
    Case("space in the host", lambda s, t: ["http://exa mple.test/"], exitcodes.USAGE, "stderr",
         ("'exa mple.test' is not a host name",)),
    Case("missing --root", lambda s, t: ["--root", str(t / "absent"), "https://example.com/"], exitcodes.USAGE,
         "stderr", ("--root", "absent", "not a directory")),
    Case("bad --header", lambda s, t: ["--header", "no-colon", s.url("/a.html")], exitcodes.USAGE, "stderr",
         ("--header 'no-colon'", "expected 'Name: value'")),
    Case("missing --trust-anchors", lambda s, t: ["--trust-anchors", str(t / "none.pem"), s.url("/a.html")],
         exitcodes.USAGE, "stderr", ("--trust-anchors", "cannot read", "none.pem")),
    Case("unreadable --trust-anchors", lambda s, t: ["--trust-anchors", _unreadable_anchors(t), s.url("/a.html")],
         exitcodes.USAGE, "stderr", ("--trust-anchors", "cannot read", "anchors.pem")),
    Case("bad --deadline", lambda s, t: ["--deadline", "0", s.url("/a.html")], exitcodes.USAGE, "stderr",
         ("--deadline '0'", "more than 0")),
    Case("refused host", lambda s, t: [f"http://127.0.0.1:{_closed_port()}/a.html"], exitcodes.FINDING, "stderr",
         ("could not fetch: connection refused", "/robots.txt")),
    Case("misspelled host", lambda s, t: ["http://www.exmaple.invalid/a.html"], exitcodes.FINDING, "stderr",
         ("could not fetch: host not found", "www.exmaple.invalid")),
    Case("404 asset", lambda s, t: [s.url("/missing.html")], exitcodes.FINDING, "stderr",
         ("/missing.html: HTTP 404",)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, site: Site, tmp_path: Path) -> None:
    done = _consentry("check", *case.argv(site, tmp_path))
    assert done.returncode == case.code, (done.stdout, done.stderr)
    message = getattr(done, case.stream)
    for words in case.words:
        assert words in message, message
    assert "Traceback" not in done.stdout + done.stderr
    if case.code == exitcodes.USAGE:
        assert done.stdout == ""
        assert done.stderr.startswith("consentry: error: ")
        assert done.stderr.count("\n") == 1


def test_refused_host_is_never_a_confident_skip(site: Site) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/a.html"
    table = _consentry("check", url)
    assert table.returncode == exitcodes.FINDING
    assert "FETCH     could not fetch: connection refused" in table.stdout
    assert "robots.txt unreachable" in table.stdout
    assert "SKIP" not in table.stdout
    assert "access denied" not in table.stdout
    [element] = json.loads(_consentry("check", "--json", url).stdout)
    assert element == {"url": url, "error": {"reason": "connection-refused",
                                             "message": f"could not fetch: connection refused (at "
                                                        f"{url.removesuffix('/a.html')}/robots.txt)"}}


def test_json_keeps_one_element_per_argument_in_order(site: Site) -> None:
    refused = f"http://127.0.0.1:{_closed_port()}/x.jpg"
    argv = [site.url("/a.html"), refused, "http://www.exmaple.invalid/", site.url("/missing.html"),
            site.named("/moved")]
    done = _consentry("check", "--json", *argv)
    assert done.returncode == exitcodes.FINDING
    assert "Traceback" not in done.stdout + done.stderr
    ok, gone, misspelled, missing, moved = json.loads(done.stdout)
    assert ok["url"] == argv[0]
    assert ok["check"] == {"requested_url": argv[0], "final_url": argv[0], "status": 200, "problem": None}
    assert gone["error"]["reason"] == "connection-refused"
    assert gone["url"] == refused
    assert misspelled["url"] == argv[2]
    assert misspelled["error"]["reason"] == "host-not-found"
    assert missing["check"]["status"] == 404
    assert missing["check"]["problem"] == "HTTP 404"
    assert missing["response"]["status"] == 404
    assert missing["action"] == "keep"  # the verdict is still given: of the error page
    assert moved["check"] == {"requested_url": argv[4], "final_url": site.named("/a.html"), "status": 200,
                              "problem": None}
    for record in (ok, missing, moved):
        assert record_problems(record) == []
    assert set(done.stderr.splitlines()) == {
        f"consentry: {refused}: could not fetch: connection refused (at {refused.removesuffix('/x.jpg')}/robots.txt)",
        f"consentry: {argv[2]}: could not fetch: host not found: cannot resolve www.exmaple.invalid: [Errno -2] "
        "Name or service not known (www.exmaple.invalid: no real DNS in tests) (at http://www.exmaple.invalid/robots.txt)",
        f"consentry: {argv[3]}: HTTP 404",
    }


def test_table_shows_status_and_final_url_and_exit_0_when_all_answer_2xx(site: Site) -> None:
    done = _consentry("check", site.named("/moved"), site.url("/a.html"))
    assert done.returncode == exitcodes.OK, done.stderr
    assert done.stderr == ""
    assert f"FETCH     HTTP 200 {site.named('/a.html')} (redirected from {site.named('/moved')})" in done.stdout
    assert f"FETCH     HTTP 200 {site.url('/a.html')}\n" in done.stdout


def test_404_asset_states_the_status_and_still_gives_the_verdict(site: Site) -> None:
    done = _consentry("check", site.url("/missing.html"))
    assert done.returncode == exitcodes.FINDING
    assert f"FETCH     HTTP 404 {site.url('/missing.html')} — not a 2xx answer" in done.stdout
    assert "VERDICTS" in done.stdout
    assert "ACTION    KEEP" in done.stdout
