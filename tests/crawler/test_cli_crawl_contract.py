"""The command-line contract of `consentry crawl` and `consentry demo` (docs/cli.md "Exit codes", "crawl: bad
input", "crawl: download errors", "Summaries"), case by case through the installed console script against
loopback sites and the real Scrapy engine: exit code, which stream says what, the message names the problem,
never a traceback (except the ones `-v` asks for).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consentry.crawler import exitcodes
from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import ROOT, USER_SPIDER, html

pytestmark = pytest.mark.e2e

CONSENTRY = Path(sys.executable).with_name("consentry")
TIMEOUT = 120


def consentry(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run the installed `consentry` console script."""
    assert CONSENTRY.exists(), f"the console script is not installed next to {sys.executable}"
    return subprocess.run([str(CONSENTRY), *args], capture_output=True, text=True, timeout=TIMEOUT, check=False,
                          **kwargs)  # type: ignore[call-overload]


def assert_usage_error(done: subprocess.CompletedProcess[str], names: str) -> None:
    """Exit 2, nothing on stdout, exactly one line on stderr that names `names`, no traceback."""
    assert done.returncode == exitcodes.USAGE, done.stderr[-2000:]
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("consentry: error: ")
    assert names in lines[0]


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    """Pages that fail to download (dropped connection, stalled answer), one denied by two mechanisms, one
    denied by X-Robots-Tag alone, one disallowed by robots.txt, one with no signal."""
    links = "".join(f'<a href="{p}">{p}</a>' for p in ("/drop.html", "/stall.html", "/both.html", "/noai.html",
                                                        "/private/x.html", "/plain.html"))
    routes = {
        "/robots.txt": Route.text("User-agent: *\nDisallow: /private/\nAllow: /\n"),
        "/": html(links),
        "/drop.html": Route(fault="drop"),
        "/stall.html": Route(fault="stall", delay=4),
        "/both.html": html("both", ("X-Robots-Tag", "noai"), ("Content-Usage", "train-ai=n")),
        "/noai.html": html("noai", ("X-Robots-Tag", "noai")),
        "/plain.html": html("plain"),
    }
    with SiteServer(routes) as server:
        yield server


def crawl(site: SiteServer, out: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """`consentry crawl` of `site` fast: no retries, a 1 s download timeout."""
    return consentry("crawl", site.url("/"), "-o", str(out), "--set", "RETRY_TIMES=0", "--set",
                     "DOWNLOAD_TIMEOUT=1", *args, **kwargs)


# --- bad input: one line naming it, exit 2, checked before the engine starts (nothing is requested) ---------

SETTING_CASES = [
    ("CONCURRENT_REQUESTS=abc", "CONCURRENT_REQUESTS=abc: expected an integer"),
    ("DOWNLOAD_TIMEOUT=abc", "DOWNLOAD_TIMEOUT=abc: expected a number"),
    ("DEPTH_LIMIT=x", "DEPTH_LIMIT=x: expected an integer"),
    ("ROBOTSTXT_OBEY=perhaps", "ROBOTSTXT_OBEY=perhaps: expected true or false"),
    ("LOG_LEVEL=info", "LOG_LEVEL=info: expected a log level"),
    ("TWISTED_REACTOR=bogus", "TWISTED_REACTOR=bogus"),
    ("TWISTED_REACTOR=twisted.internet.selectreactor.SelectReactor", "AsyncioSelectorReactor"),
    ("SCHEDULER=no.such.Scheduler", "no.such.Scheduler does not import"),
    ('DOWNLOADER_MIDDLEWARES={"no.such.Middleware": 543}', "no.such.Middleware does not import"),
    ("EXTENSIONS={not json", "EXTENSIONS={not json: expected a JSON object"),
    ("CONSENT_NO_SUCH_SETTING=1", "CONSENT_NO_SUCH_SETTING"),
    ("NO_EQUALS_SIGN", "NAME=VALUE"),
]


@pytest.mark.parametrize(("setting", "names"), SETTING_CASES, ids=[c[0].split("=")[0] for c in SETTING_CASES])
def test_a_bad_setting_is_one_line_before_the_engine_starts(
    setting: str, names: str, site: SiteServer, tmp_path: Path
) -> None:
    before = len(site.requested)
    done = consentry("crawl", site.url("/"), "-o", str(tmp_path / "out"), "--set", setting)
    assert_usage_error(done, names)
    assert len(site.requested) == before  # refused before anything was fetched
    assert not (tmp_path / "out" / "decisions.jsonl").exists()


URL_CASES = [
    ("http://[::1/", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/", "Port out of range"),
    ("http://", "has no host"),
    ("http:///path", "has no host"),
    ("ftp://127.0.0.1/", "not an absolute http(s) URL"),
    ("127.0.0.1/page", "not an absolute http(s) URL"),
]


@pytest.mark.parametrize(("url", "names"), URL_CASES)
def test_a_bad_url_is_one_line(url: str, names: str, tmp_path: Path) -> None:
    done = consentry("crawl", url, "-o", str(tmp_path / "out"))
    assert_usage_error(done, names)
    assert repr(url) in done.stderr


def _output_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    return {
        "file": (a_file, "is a file, not a directory"),
        "under-a-file": (a_file / "sub", "cannot create the directory"),
        "unwritable": (Path("/proc/consentry-contract-test"), "cannot create the directory"),
    }


@pytest.mark.parametrize("command", ["crawl", "demo"])
@pytest.mark.parametrize("case", ["file", "under-a-file", "unwritable"])
def test_an_unusable_output_directory_is_one_line(command: str, case: str, tmp_path: Path) -> None:
    out, names = _output_cases(tmp_path)[case]
    urls = ["http://127.0.0.1:9/"] if command == "crawl" else []
    done = consentry(command, *urls, "-o", str(out))
    assert_usage_error(done, names)
    assert f"-o {out}" in done.stderr


@pytest.mark.parametrize(("setting", "names"), [
    ("CONSENT_LOG_PATH=/proc/consentry-contract-test/decisions.jsonl", "CONSENT_LOG_PATH"),
    ("CONSENT_WARC_PATH={tmp}", "is a directory, not a file"),
])
def test_an_unusable_output_file_setting_is_one_line(
    setting: str, names: str, site: SiteServer, tmp_path: Path
) -> None:
    before = len(site.requested)
    done = consentry("crawl", site.url("/"), "-o", str(tmp_path / "out"), "--set", setting.format(tmp=tmp_path))
    assert_usage_error(done, names)
    assert len(site.requested) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_read_only_output_directory_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir(mode=0o500)
    assert_usage_error(consentry("crawl", "http://127.0.0.1:9/", "-o", str(out)), "not writable")


# --- download errors, summaries, streams -------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("default") / "out"


@pytest.fixture(scope="module")
def default_run(site: SiteServer, default_out: Path) -> subprocess.CompletedProcess[str]:
    return crawl(site, default_out)


def test_download_errors_are_one_line_each_with_their_reason(
    site: SiteServer, default_run: subprocess.CompletedProcess[str]
) -> None:
    done = default_run
    assert done.returncode == exitcodes.OK, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if "download error" in line]
    assert sorted(errors) == sorted([f"ERROR: download error: {site.url('/drop.html')}: connection lost",
                                     f"ERROR: download error: {site.url('/stall.html')}: timeout"])
    assert "Gave up retrying" not in done.stderr
    assert "  not fetched (download errors): 1 connection lost, 1 timeout" in done.stdout.splitlines()


def _table(summary: str) -> dict[str, list[int]]:
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if "DECIDED BY" in line) + 1
    rows: dict[str, list[int]] = {}
    for line in lines[start:]:
        parts = line.rsplit(maxsplit=3)
        if len(parts) < 4 or not all(p.isdigit() for p in parts[1:]):
            break
        rows[parts[0].strip()] = [int(p) for p in parts[1:]]
    return rows


def test_the_decided_by_table_adds_up_to_the_totals(default_run: subprocess.CompletedProcess[str]) -> None:
    summary = default_run.stdout
    headline = summary.splitlines()[0]
    assert headline.startswith("consentry crawl: 2 items; kept 2, dropped 2, skipped 1 "), headline
    rows = _table(summary)
    assert rows["x-robots-tag"] == [0, 1, 0]  # noai.html, decided by X-Robots-Tag alone
    assert rows["robots"] == [0, 0, 1]  # /private/x.html
    assert rows["several mechanisms together:"] == [0, 1, 0]  # both.html, counted once
    assert rows["content-usage-header + x-robots-tag"] == [0, 1, 0]
    assert rows["(no signal)"] == [2, 0, 0]
    assert rows["total (each decision once)"] == [2, 2, 1]
    top = [v for k, v in rows.items() if not k.startswith(("content-usage-header +", "total"))]
    assert [sum(column) for column in zip(*top, strict=True)] == rows["total (each decision once)"]


def test_audit_follows_the_same_convention_and_its_table_adds_up(
    default_run: subprocess.CompletedProcess[str], default_out: Path
) -> None:
    warc = str(default_out / "crawl.warc.gz")
    done = consentry("audit", warc)
    assert done.returncode == exitcodes.OK, done.stderr[-2000:]
    assert _table(done.stdout) == _table(default_run.stdout)  # the replay decides, and counts, as the crawl did
    quiet = consentry("audit", warc, "-q")
    assert (quiet.returncode, quiet.stdout) == (exitcodes.OK, "")
    as_json = consentry("audit", warc, "--json")
    assert len(json.loads(as_json.stdout)) == 5
    assert "total (each decision once)" in as_json.stderr


def test_tag_mode_json_summary_on_stdout_and_the_human_one_on_stderr(site: SiteServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = crawl(site, out, "--json", "--on-deny", "tag")
    assert done.returncode == exitcodes.OK, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["schema"] == "consentry.crawl-summary/1"
    assert summary["actions"] == {"keep": 4, "drop": 0, "skip": 1}
    assert summary["denied_kept"] == 2
    assert summary["decided_by"]["content-usage-header+x-robots-tag"] == {"keep": 1, "drop": 0, "skip": 0}
    assert summary["download_errors"] == {"connection lost": 1, "timeout": 1}
    assert (summary["interrupted"], summary["finish_reason"], summary["exit_code"]) == (False, "finished", 0)
    assert summary["outputs"] == [str(out / n) for n in ("decisions.jsonl", "crawl.warc.gz", "items.jsonl")]
    human = [line for line in done.stderr.splitlines() if line.startswith("consentry crawl: ")]
    assert human
    assert human[0].startswith("consentry crawl: 4 items; kept 4 (2 denied, tagged), dropped 0, skipped 1 ")
    assert "Traceback" not in done.stderr


def test_quiet_prints_no_summary_only_errors(site: SiteServer, tmp_path: Path) -> None:
    done = crawl(site, tmp_path / "out", "-q")
    assert done.returncode == exitcodes.OK
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line]
    assert sorted(lines) == sorted([f"ERROR: download error: {site.url('/drop.html')}: connection lost",
                                    f"ERROR: download error: {site.url('/stall.html')}: timeout"])


def test_verbose_shows_the_download_tracebacks(site: SiteServer, tmp_path: Path) -> None:
    done = crawl(site, tmp_path / "out", "-v")
    assert done.returncode == exitcodes.OK
    assert "Traceback" in done.stderr
    assert "Error downloading" in done.stderr
    assert "not fetched (download errors): 1 connection lost, 1 timeout" in done.stdout


def test_a_skip_by_an_exclusion_list_is_not_attributed_to_robots(site: SiteServer, tmp_path: Path) -> None:
    excluded = tmp_path / "excluded.txt"
    excluded.write_text("localhost\n")
    other = site.url("/plain.html").replace("127.0.0.1", "localhost")
    done = consentry("crawl", other, "-o", str(tmp_path / "out"), "--exclude-list", str(excluded))
    assert done.returncode == exitcodes.OK, done.stderr[-2000:]
    rows = _table(done.stdout)
    assert rows["excluded-domain"] == [0, 0, 1]
    assert "robots" not in rows


# --- exit codes: stopped early, interrupted, write failures, broken pipes ------------------------------------


def test_a_crawl_stopped_early_exits_1_and_says_why(site: SiteServer, tmp_path: Path) -> None:
    done = crawl(site, tmp_path / "out", "--set", "CLOSESPIDER_ITEMCOUNT=1")
    assert done.returncode == exitcodes.FINDING, done.stderr[-2000:]
    assert "  stopped early: closespider_itemcount" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "consentry: error: the crawl stopped early (closespider_itemcount)"
    assert "Traceback" not in done.stderr


def test_a_crawl_that_cannot_start_exits_1(site: SiteServer, tmp_path: Path) -> None:
    """An extension that imports but cannot be built (a callable that needs arguments): Scrapy cannot start."""
    done = crawl(site, tmp_path / "out", "--set", 'EXTENSIONS={"os.path.join": 1}')
    assert done.returncode == exitcodes.FINDING, done.stderr[-2000:]
    assert "  the crawl did not start (the error is above)" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "consentry: error: the crawl could not start (the error is above)"
    assert "join()" in done.stderr  # Scrapy's own error names the component


@pytest.fixture(scope="module")
def slow_site() -> Iterator[SiteServer]:
    routes = {"/robots.txt": Route.text("User-agent: *\nAllow: /\n")}
    for i in range(2000):
        routes[f"/p{i}.html"] = html(f'<a href="/p{i + 1}.html">next</a>')
    with SiteServer(routes) as server:
        yield server


def test_ctrl_c_says_interrupted_and_exits_130(slow_site: SiteServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [str(CONSENTRY), "crawl", slow_site.url("/p0.html"), "-o", str(out), "--depth", "0",
               "--max-requests", "0", "--set", "DOWNLOAD_DELAY=0.05"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    log = out / "decisions.jsonl"
    while proc.poll() is None and time.monotonic() < deadline:
        if log.exists() and log.read_text().count("\n") >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == exitcodes.INTERRUPTED, stderr[-2000:]
    assert "  interrupted (Ctrl-C): the outputs hold every decision made until then" in stdout
    assert stderr.strip().splitlines()[-1] == "consentry: interrupted"
    assert "Traceback" not in stderr
    decisions = log.read_text().count("\n")
    assert 5 <= decisions < 2000
    assert f"kept {decisions}," in stdout.splitlines()[0]


def test_a_reader_that_goes_away_is_no_traceback(site: SiteServer, tmp_path: Path) -> None:
    """`consentry crawl … | head -1`: stdout closes early."""
    command = [str(CONSENTRY), "crawl", site.url("/"), "-o", str(tmp_path / "out"), "--set", "RETRY_TIMES=0",
               "--set", "DOWNLOAD_TIMEOUT=1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=TIMEOUT) == exitcodes.OK
    assert "Traceback" not in stderr
    assert "BrokenPipe" not in stderr
    assert "download error" in stderr  # stderr still says what failed


def test_a_closed_stderr_is_no_failure(site: SiteServer, tmp_path: Path) -> None:
    """`consentry crawl … 2>&1 | head -1` closes stderr too: the crawl still completes and exits 0."""
    command = [str(CONSENTRY), "crawl", site.url("/"), "-o", str(tmp_path / "out"), "--set", "RETRY_TIMES=0",
               "--set", "DOWNLOAD_TIMEOUT=1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stderr.close()
    stdout = proc.stdout.read()
    assert proc.wait(timeout=TIMEOUT) == exitcodes.OK
    assert stdout.startswith("consentry crawl: 2 items")


def test_demo_exits_1_when_its_output_cannot_be_written(tmp_path: Path) -> None:
    limit = 20_000

    def small_files() -> None:  # every file the demo writes is capped: EFBIG past the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = consentry("demo", "-o", str(tmp_path / "out"), preexec_fn=small_files)
    assert done.returncode == exitcodes.FINDING, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith("consentry: error: cannot write the WARC ")
    assert "File too large; the crawl was stopped" in done.stderr
    assert "stopped early: consent_output_error" in done.stdout
    assert "Traceback" not in done.stderr


def test_demo_json_summary_on_stdout_and_the_explanation_on_stderr(tmp_path: Path) -> None:
    done = consentry("demo", "-o", str(tmp_path / "out"), "--json")
    assert done.returncode == exitcodes.OK, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["command"] == "demo"
    assert sum(summary["actions"].values()) == sum(
        sum(counts.values()) for counts in summary["decided_by"].values())
    assert summary["exit_code"] == 0
    assert "Every decision (action, URL, reason):" in done.stderr
    assert "DECIDED BY" in done.stderr


# --- the decision log across runs: `consentry crawl` replaces it, a Scrapy project appends ------------------


def _lines(path: Path) -> int:
    return path.read_text().count("\n")


def test_consentry_crawl_replaces_its_outputs_each_run(site: SiteServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = crawl(site, out, "-q")
    decisions, warc = _lines(out / "decisions.jsonl"), (out / "crawl.warc.gz").stat().st_size
    second = crawl(site, out, "-q")
    assert (first.returncode, second.returncode) == (0, 0)
    assert decisions == 5
    assert _lines(out / "decisions.jsonl") == decisions
    assert (out / "crawl.warc.gz").stat().st_size < 1.5 * warc


def test_a_scrapy_project_with_the_addon_appends_across_runs(site: SiteServer, tmp_path: Path) -> None:
    package = tmp_path / "addonbot"
    (package / "spiders").mkdir(parents=True)
    for init in (package / "__init__.py", package / "spiders" / "__init__.py"):
        init.write_text("")
    (package / "spiders" / "site.py").write_text(textwrap.dedent(USER_SPIDER))
    (package / "settings.py").write_text(
        'BOT_NAME = "addonbot"\nSPIDER_MODULES = ["addonbot.spiders"]\n'
        'ADDONS = {"consentry.middlewares.addon.ConsentAddon": 0}\nCONSENT_AGENT = "mybot"\n'
        'CONSENT_LOG_PATH = "decisions.jsonl"\nRETRY_TIMES = 0\nDOWNLOAD_TIMEOUT = 1\nLOG_LEVEL = "ERROR"\n')
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = addonbot.settings\n")
    command = [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"start_url={site.url('/plain.html')}"]
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    counts = []
    for _ in range(2):
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        counts.append(_lines(tmp_path / "decisions.jsonl"))
    assert counts[0] >= 1
    assert counts[1] == 2 * counts[0]
