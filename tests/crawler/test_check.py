"""`consentry check` end to end: a real loopback HTTP server per origin, the real CLI, both output forms."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.crawler.check.checker import Checker
from consentry.crawler.check.sources import HttpSource
from consentry.crawler.cli import main
from consentry.crawler.demo.server import Route, SiteServer
from consentry.crawler.table import not_counted, wrap
from consentry.middlewares.adapters.addresses import FetchGuard
from consentry.policies.config import PolicyConfig
from consentry.policies.model import Signal
from consentry.policies.record import record_problems
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
HTML = "<!doctype html><html><head><title>t</title></head><body><p>hello</p></body></html>"


def _site(robots: str | None, routes: dict[str, Route]) -> SiteServer:
    table = dict(routes)
    if robots is not None:
        table["/robots.txt"] = Route.text(robots)
    return SiteServer(table).start()


def _check_json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> list[dict[str, object]]:
    exit_code = main(["check", "--json", *args])
    out = capsys.readouterr().out
    assert exit_code == code, out
    records = json.loads(out)
    for record in records:
        assert record_problems(record) == [], record
    return records


def _mechanisms(record: dict[str, object]) -> set[str]:
    return {s["mechanism"] for s in record["signals"]}  # type: ignore[index, union-attr]


def test_content_signal_denies_training_and_allows_search(servers: list[SiteServer],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    site = _site("User-Agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n",
                 {"/page.html": Route.text(HTML, "text/html")})
    servers.append(site)
    [record] = _check_json(capsys, site.url("/page.html"))
    assert record["action"] == "drop"
    assert record["purposes"] == {"tdm": "unknown", "ai-train": "deny", "genai-train": "deny",
                                  "ml-train": "deny", "ai-input": "unknown", "search": "allow"}
    assert "robots-content-signal" in _mechanisms(record)
    assert record["reason"] == "genai-train, ml-train denied by robots-content-signal (site)"
    assert record["response"]["status"] == 200  # type: ignore[index]


def test_disallowed_url_is_skipped_and_never_requested(servers: list[SiteServer],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    site = _site("User-agent: *\nDisallow: /private/\n", {"/private/a.jpg": Route(200, (), JPEG)})
    servers.append(site)
    [record] = _check_json(capsys, site.url("/private/a.jpg"))
    assert record["action"] == "skip"
    assert record["access"] == "deny"
    assert record["response"] is None
    assert "/private/a.jpg" not in site.requested
    assert "Disallow: /private/" in str(record["reason"])


def test_robots_503_denies_the_whole_origin(servers: list[SiteServer], capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(None, {"/robots.txt": Route.text("<html>down</html>", "text/html", status=503),
                 "/a.jpg": Route(200, (("Content-Type", "image/jpeg"),), JPEG)})
    servers.append(site)
    [record] = _check_json(capsys, site.url("/a.jpg"), code=1)  # exit 1: robots.txt unreachable is a finding
    assert record["action"] == "skip"
    assert record["check"] == {"requested_url": site.url("/a.jpg"), "final_url": None, "status": None,
                               "problem": "robots.txt unreachable (HTTP 503)"}
    assert "/a.jpg" not in site.requested


def test_robots_404_allows_and_unknown_is_kept(servers: list[SiteServer], capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(None, {"/a.jpg": Route(200, (("Content-Type", "image/jpeg"),), JPEG)})
    servers.append(site)
    [record] = _check_json(capsys, site.url("/a.jpg"))
    assert record["access"] == "allow"
    assert record["action"] == "keep"
    assert set(record["purposes"].values()) == {"unknown"}  # type: ignore[union-attr]
    assert "/a.jpg" in site.requested


def test_noai_header_drops_the_image(servers: list[SiteServer], capsys: pytest.CaptureFixture[str]) -> None:
    site = _site("User-agent: *\nAllow: /\n",
                 {"/cat.jpg": Route(200, (("Content-Type", "image/jpeg"), ("X-Robots-Tag", "noai")), JPEG)})
    servers.append(site)
    [record] = _check_json(capsys, site.url("/cat.jpg"))
    assert record["action"] == "drop"
    assert record["purposes"]["ai-input"] == "deny"  # type: ignore[index]
    assert "x-robots-tag" in _mechanisms(record)


def test_tdmrep_header_supersedes_file(servers: list[SiteServer], capsys: pytest.CaptureFixture[str]) -> None:
    tdm = json.dumps([{"location": "/", "tdm-reservation": 1}])
    site = _site("User-agent: *\nAllow: /\n",
                 {"/.well-known/tdmrep.json": Route.text(tdm, "application/json"),
                 "/open.html": Route.text(HTML, "text/html", headers=(("tdm-reservation", "0"),)),
                 "/closed.html": Route.text(HTML, "text/html")})
    servers.append(site)
    opened, closed = _check_json(capsys, site.url("/open.html"), site.url("/closed.html"))
    assert opened["url"].endswith("/open.html")  # type: ignore[union-attr]
    assert opened["action"] == "keep"
    assert opened["purposes"]["genai-train"] == "allow"  # type: ignore[index]
    counted = {s["mechanism"]: s["counted"] for s in opened["signals"]}  # type: ignore[index, union-attr]
    assert counted["tdmrep-file"] is False
    assert counted["tdmrep-header"] is True
    assert closed["action"] == "drop"
    assert closed["purposes"]["ai-input"] == "deny"  # type: ignore[index]


def test_content_usage_header_cannot_lift_robots_deny(servers: list[SiteServer],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    site = _site("User-agent: *\nAllow: /\nContent-Usage: train-ai=n\n",
                 {"/a.html": Route.text(HTML, "text/html", headers=(("Content-Usage", "train-ai=y"),))})
    servers.append(site)
    [record] = _check_json(capsys, site.url("/a.html"))
    assert record["purposes"]["genai-train"] == "deny"  # type: ignore[index]
    assert "conflict" in record["tags"]  # type: ignore[operator]
    assert {"robots-content-usage", "content-usage-header"} <= _mechanisms(record)


def test_rsl_licence_named_in_robots_is_fetched_and_read(servers: list[SiteServer],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    licence = ('<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
               '<prohibits type="usage">ai-all</prohibits></license></content></rsl>')
    site = _site(None, {"/license.xml": Route.text(licence, "application/rsl+xml"),
                 "/a.html": Route.text(HTML, "text/html")})
    site.set_route("/robots.txt", Route.text(f"User-agent: *\nAllow: /\nLicense: {site.url('/license.xml')}\n"))
    servers.append(site)
    [record] = _check_json(capsys, site.url("/a.html"))
    assert "/license.xml" in site.requested
    assert record["action"] == "drop"
    assert record["purposes"]["ai-input"] == "deny"  # type: ignore[index]
    assert record["purposes"]["search"] == "unknown"  # type: ignore[index]
    assert "robots-license" in _mechanisms(record)


def test_ai_txt_denies_images_but_not_pages(servers: list[SiteServer], capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(None, {"/ai.txt": Route.text("User-agent: *\nDisallow: *.jpg\nAllow: /\n"),
                 "/a.jpg": Route(200, (("Content-Type", "image/jpeg"),), JPEG),
                 "/post.html": Route.text(HTML, "text/html")})
    servers.append(site)
    image, page = _check_json(capsys, site.url("/a.jpg"), site.url("/post.html"))
    assert image["purposes"]["ai-train"] == "deny"  # type: ignore[index]
    assert image["action"] == "drop"
    assert page["purposes"]["ai-train"] == "allow"  # type: ignore[index]
    assert page["purposes"]["genai-train"] == "unknown"  # type: ignore[index]  # flat ALLOW does not leak


def test_table_shows_signals_verdicts_action_and_contradiction(servers: list[SiteServer],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    site = _site("User-agent: *\nContent-Signal: ai-train=yes\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /\n",
                 {"/a.html": Route.text(HTML, "text/html")})
    servers.append(site)
    assert main(["check", site.url("/a.html")]) == 0
    out = capsys.readouterr().out
    assert "robots-content-signal" in out
    assert "robots-inferred" in out
    assert "VERDICTS" in out
    assert "genai-train=DENY" in out
    assert "ACTION    DROP" in out
    assert "contradiction on ai-train" in out


def test_root_mode_reads_a_local_web_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "robots.txt").write_text("User-agent: *\nDisallow: /drafts/\n")
    (tmp_path / ".well-known").mkdir()
    (tmp_path / ".well-known" / "tdmrep.json").write_text('[{"location": "/img/", "tdm-reservation": 1}]')
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(JPEG)
    (tmp_path / "index.html").write_text(HTML)
    records = _check_json(capsys, "--root", str(tmp_path), "--header", "Content-Usage: search=n",
                          "https://example.com/img/a.jpg", "https://example.com/", "https://example.com/drafts/x")
    image, index, draft = records
    assert image["action"] == "drop"
    assert "tdmrep-file" in _mechanisms(image)
    assert index["action"] == "keep"
    assert index["purposes"]["search"] == "deny"  # type: ignore[index]
    assert draft["action"] == "skip"


@pytest.mark.parametrize(("argv", "message"), [
    (["check", "example.com/a"], "not an absolute http(s) URL"),
    (["check", "--purpose", "mind-reading", "https://example.com/"], "CONSENT_PURPOSES: unknown purpose"),
    (["check", "--agent", "bad agent", "https://example.com/"], "CONSENT_AGENT"),
    (["check", "--root", "/nonexistent/dir", "https://example.com/"], "not a directory"),
    (["check", "--header", "no-colon", "https://example.com/"], "expected 'Name: value'"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_console_script_exit_code_and_json_only_stdout(servers: list[SiteServer]) -> None:
    site = _site("User-agent: *\nAllow: /\n", {"/a.html": Route.text(HTML, "text/html")})
    servers.append(site)
    done = subprocess.run([sys.executable, "-m", "consentry.crawler.cli", "check", "--json", site.url("/a.html")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["url"] == site.url("/a.html")


def test_unreachable_asset_is_an_error_element_with_exit_1(servers: list[SiteServer],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    site = _site("User-agent: *\nAllow: /\n", {"/gone": Route(fault="drop")})
    servers.append(site)
    assert main(["check", "--json", site.url("/gone")]) == 1
    captured = capsys.readouterr()
    [element] = json.loads(captured.out)
    assert element["url"] == site.url("/gone")
    assert element["error"]["reason"] == "network-error"
    assert element["error"]["message"].startswith("could not fetch: network error")
    assert f"{site.url('/gone')}: could not fetch" in captured.err


def _owner_site() -> SiteServer:
    """A site whose robots.txt has two mistakes, whose ai.txt allows everything, and whose tdmrep.json a
    response header overrides."""
    tdm = json.dumps([{"location": "/open.html", "tdm-reservation": 1}])
    return _site("User-agent: *\nAllow: /\nFoo bar\nContent-Signal: ai-train=maybe\n",
                 {"/ai.txt": Route.text("User-agent: *\nAllow: /\n"),
                  "/.well-known/tdmrep.json": Route.text(tdm, "application/json"),
                  "/open.html": Route.text(HTML, "text/html", headers=(("tdm-reservation", "0"),)),
                  "/b.html": Route.text(HTML, "text/html")})


def test_table_shows_allows_as_allows_and_says_why_a_signal_did_not_count(
        servers: list[SiteServer], capsys: pytest.CaptureFixture[str]) -> None:
    site = _owner_site()
    servers.append(site)
    assert main(["check", site.url("/open.html"), site.url("/b.html")]) == 0
    opened, other = capsys.readouterr().out.split("\n\n")
    assert "  ai-txt                       site      ai-train=allow\n        line 2: Allow: /" in other
    action = " ".join(other[other.index("ACTION"):].split("AI-GENERATED")[0].split())
    assert action == ("ACTION KEEP: genai-train, ml-train unknown (ai-txt (site) allows ai-train, which does not "
                      "extend to genai-train, ml-train)")
    assert "tdmrep-file                  site      ai-train=deny ai-input=deny  [not counted: superseded by " \
           "tdmrep-header]" in opened


def test_site_warnings_name_their_file_and_line_once_per_origin(
        servers: list[SiteServer], capsys: pytest.CaptureFixture[str]) -> None:
    site = _owner_site()
    servers.append(site)
    unparsed = "/robots.txt: lines that parse to nothing: 3 ('Foo bar')"
    maybe = "/robots.txt line 4: Content-Signal: ai-train='maybe' is neither yes nor no (unknown)"
    assert main(["check", site.url("/open.html"), site.url("/b.html")]) == 0
    first, second = capsys.readouterr().out.split("\n\n")
    assert f"  SITE WARNINGS ({site.origin}, shown once per origin)\n    - {unparsed}\n    - {maybe}" in first
    assert "SITE WARNINGS" not in second
    assert main(["check", "--json", site.url("/open.html"), site.url("/b.html")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err.count(f"consentry: warning: {site.origin}: {maybe}") == 1
    assert err.count(f"consentry: warning: {site.origin}: {unparsed}") == 1
    assert main(["check", "--json", "-q", site.url("/open.html"), site.url("/b.html")]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == ""
    assert len(json.loads(quiet.out)) == 2


def test_a_misspelled_host_is_host_not_found_with_no_verdict(servers: list[SiteServer]) -> None:
    """The resolver is injected (`FetchGuard(resolve=…)`): the misspelled name never reaches real DNS."""
    site = _site("User-agent: *\nAllow: /\n", {"/a.html": Route.text(HTML, "text/html")})
    servers.append(site)
    port = site.origin.rsplit(":", 1)[1]
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        if host != "site.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return ["127.0.0.1"]

    guard = FetchGuard(resolve=resolve)
    guard.allow_urls([f"http://site.test:{port}/"])
    source = HttpSource("consentry", guard=guard)
    try:
        checker = Checker(source, PolicyConfig.from_settings({}))
        right, wrong = checker.check(f"http://site.test:{port}/a.html"), checker.check(f"http://stie.test:{port}/a.html")
    finally:
        source.close()
    assert (right.status, right.problem, right.final_url) == (200, None, f"http://site.test:{port}/a.html")
    assert wrong.decision is None
    assert wrong.failure is not None
    assert wrong.failure.reason == "host-not-found"
    assert wrong.problem == (f"could not fetch: host not found: cannot resolve stie.test: [Errno -2] Name or service "
                             f"not known (at http://stie.test:{port}/robots.txt)")
    assert "stie.test" in asked


def test_a_skip_by_choice_is_not_fetched_and_exit_0(servers: list[SiteServer], capsys: pytest.CaptureFixture[str]) -> None:
    site = _site("User-agent: *\nDisallow: /private/\n", {"/private/a.jpg": Route(200, (), JPEG)})
    servers.append(site)
    assert main(["check", site.url("/private/a.jpg")]) == 0
    assert "  FETCH     not fetched: access denied by robots.txt\n" in capsys.readouterr().out
    [record] = _check_json(capsys, site.url("/private/a.jpg"))
    assert record["check"] == {"requested_url": site.url("/private/a.jpg"), "final_url": None, "status": None,
                               "problem": None}


def test_not_counted_names_the_reason() -> None:
    inferred = Signal(Mechanism.ROBOTS_INFERRED, Scope.SITE, "http://a.test/robots.txt",
                      'line 5: Disallow: / (group "GPTBot")', {Purpose.AI_TRAIN: Verdict.DENY}, (Tag.INFERRED,),
                      counted=False)
    assert not_counted(inferred) == "not counted: inferred signal under CONSENT_INFERRED=tag"
    assert not_counted(dataclasses.replace(inferred, counted=True)) is None


@settings(max_examples=600)
@given(st.text(alphabet="ab -\t\n\r\u00a0\u3000é", max_size=40), st.integers(min_value=1, max_value=30),
       st.sampled_from(["", "   "]))
def test_table_wrap_equals_textwrap(text: str, width: int, indent: str) -> None:
    """The check table's `wrap` skips `textwrap` for a line that already fits; it answers as `textwrap.wrap` does
    for every text."""
    import textwrap

    assert wrap(text, width, subsequent_indent=indent) == textwrap.wrap(text, width, subsequent_indent=indent)
