"""Fast start: `consentry --version`, every `COMMAND --help` and `consentry check` load neither Scrapy, Twisted,
c2pa, the WARC libraries nor the audit machinery unless the work needs them.

Each command runs in a fresh interpreter (`consentry.crawler.cli.main`) that then prints `sorted(sys.modules)`. The
controls run the same probe where the work does need them (a crawl, an audit, a check of a signed asset), so the
assertions can fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import ROOT, html

#: Top-level packages a command must not import unless its work needs them.
HEAVY = ("scrapy", "twisted", "c2pa", "fastwarc", "warcio")
#: The audit's argument declaration (the only audit modules the cli may import for other commands).
AUDIT_DECLARATION = frozenset({"consentry.crawler.audit", "consentry.crawler.audit.command"})
COMMANDS = ("check", "crawl", "demo", "audit", "registry")

_PROBE = """
import contextlib, io, json, sys
from consentry.crawler.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as exc:  # argparse ends --help and --version this way
        code = exc.code
print(json.dumps({"code": code, "output": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _run(*argv: str, cwd: Path = ROOT) -> tuple[int, str, set[str]]:
    """(exit code, the command's output, every module loaded) of `consentry ARGV` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    return result["code"], result["output"], set(result["modules"])


def _heavy(modules: set[str]) -> set[str]:
    """The loaded modules a light command must not have loaded."""
    heavy = {m for m in modules if m.split(".")[0] in HEAVY}
    audit = {m for m in modules if m.startswith("consentry.crawler.audit")} - AUDIT_DECLARATION
    return heavy | audit


@pytest.fixture(scope="module")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """robots.txt, an HTML page, a JPEG without a manifest and a C2PA-signed JPEG (the demo's assets)."""
    root = tmp_path_factory.mktemp("root")
    assets = files("consentry.crawler.demo") / "assets"
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    (root / "page.html").write_text("<!doctype html><html><body><p>hello</p></body></html>")
    (root / "photo.jpg").write_bytes((assets / "photo.jpg").read_bytes())
    (root / "signed.jpg").write_bytes((assets / "c2pa-notallowed.jpg").read_bytes())
    return root


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
                     "/page.html": html("<p>hello</p>")}) as server:
        yield server


@pytest.mark.parametrize("argv", [("--version",), *((c, "--help") for c in COMMANDS), ("registry", "add", "--help")],
                         ids=" ".join)
def test_version_and_help_load_nothing_heavy(argv: tuple[str, ...]) -> None:
    code, output, modules = _run(*argv)
    assert code == 0, output
    assert output.startswith(("consentry ", "usage: consentry")), output
    assert _heavy(modules) == set()


def test_check_of_a_local_root_without_manifests_loads_nothing_heavy(web_root: Path) -> None:
    code, output, modules = _run("check", "--json", "--root", str(web_root), "https://site.example/page.html",
                                 "https://site.example/photo.jpg", "https://site.example/private/x.html")
    assert code == 0, output
    assert output.count('"action"') == 3, output
    assert _heavy(modules) == set()


def test_live_check_loads_nothing_heavy(site: SiteServer) -> None:
    code, output, modules = _run("check", site.url("/page.html"))
    assert code == 0, output
    assert "/page.html" in site.requested  # the live transport really fetched the page
    assert _heavy(modules) == set()


def test_check_of_a_signed_asset_loads_c2pa_and_still_not_scrapy(web_root: Path) -> None:
    code, output, modules = _run("check", "--json", "--root", str(web_root), "https://site.example/signed.jpg")
    assert code == 0, output
    assert "c2pa" in modules
    assert '"mechanism": "c2pa' in output or '"mechanism": "cawg' in output, output
    assert _heavy(modules) - {m for m in modules if m.split(".")[0] == "c2pa"} == set()


def test_a_crawl_does_load_scrapy_and_twisted(site: SiteServer, tmp_path: Path) -> None:
    code, output, modules = _run("crawl", site.url("/page.html"), "-o", str(tmp_path / "out"), "--depth", "0")
    assert code == 0, output
    assert "/page.html" in site.requested
    assert {"scrapy", "twisted", "consentry.crawler.crawl.runner"} <= modules
    assert {m for m in modules if m.startswith("consentry.crawler.audit")} <= AUDIT_DECLARATION


def test_an_audit_does_load_its_machinery(tmp_path: Path) -> None:
    warc = tmp_path / "foreign.warc.gz"
    shutil.copyfile(ROOT / "tests" / "fixtures" / "warc" / "foreign-wget.warc.gz", warc)
    code, output, modules = _run("audit", "--jobs", "1", str(warc))
    assert code in (0, 1), output
    assert {"consentry.crawler.audit.runner", "consentry.crawler.audit.replay"} <= modules
    assert {"fastwarc", "warcio"} & modules


_IMPORT_ALL = """
import importlib, json, pkgutil, sys
names = ["consentry.crawler.table", "consentry.crawler.check.checker", "consentry.crawler.check.sources",
         "consentry.middlewares._config", "consentry.crawler.check.command"]
for package in ("consentry.policies", "consentry.middlewares.adapters"):
    names.append(package)
    names += [i.name for i in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"names": names, "modules": sorted(sys.modules)}))
"""


def test_what_check_and_audit_share_loads_nothing_heavy() -> None:
    # The pure core, the transport-neutral adapters and the modules `check` reads: importing them loads no Scrapy,
    # Twisted, c2pa (the adapter imports it on first read) nor WARC library.
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALL], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert "consentry.middlewares.adapters.manifestreader" in result["names"]
    assert len([n for n in result["names"] if n.startswith("consentry.policies.")]) > 10
    assert _heavy(set(result["modules"])) == set()
