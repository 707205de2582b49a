"""The wheel, installed into a fresh venv beside a user Scrapy project, crawls with the add-on line alone.

A wheel is built from a copy of the repository's package files (no build isolation, no index), installed
into a new venv (`python -m venv --without-pip`) whose only link to this environment is a `.pth` line naming
this venv's site-packages, so the dependencies resolve while this checkout's editable install (activated by
its own `.pth` file there, which is not processed for a `.pth` path line) stays invisible. The user project
has its own top-level `middlewares.py`, `policies.py` and `crawler.py` and README's add-on snippet as its
settings; `python -m scrapy crawl` runs in the project directory against a loopback site. Select with
`pytest -m packaging`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from consentry.crawler.demo.server import Route, SiteServer
from consentry.policies.record import record_problems
from tests.crawler._helpers import ROOT, USER_SPIDER, html, jpeg

pytestmark = pytest.mark.packaging

FOLDERS = ("policies", "middlewares", "crawler")
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}

USER_MODULES = {
    "middlewares.py": "class UserMiddleware:\n    OWNER = 'user'\n",
    "policies.py": "class UserPolicy:\n    OWNER = 'user'\n",
    "crawler.py": "class UserCrawler:\n    OWNER = 'user'\n",
}

#: Imported by Scrapy's spider loader with the spiders: records which modules the project's names resolve to.
WHO = """
import json
from pathlib import Path

import consentry.policies
import crawler
import middlewares
import policies

owners = [middlewares.UserMiddleware.OWNER, policies.UserPolicy.OWNER, crawler.UserCrawler.OWNER]
files = [middlewares.__file__, policies.__file__, crawler.__file__]
Path("who.json").write_text(json.dumps({"owners": owners, "files": files, "consentry": consentry.policies.__file__}))
"""


@dataclass(frozen=True)
class Installed:
    """The built wheel and the fresh venv it is installed in."""

    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.python), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                              timeout=120, check=False)


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md", *(p.name for p in ROOT.glob("LICEN[CS]E*"))):
        shutil.copy2(ROOT / name, dest / name)


def _build_wheel(tmp: Path) -> Path:
    source, dist = tmp / "src", tmp / "dist"
    _copy_sources(source)  # a clean tree: no stale build/ output of the checkout reaches the wheel
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(dist), str(source)], check=True, capture_output=True, timeout=120)
    (wheel,) = dist.glob("consentry-*.whl")
    return wheel


def _make_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True, env=ENV).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (Path(purelib) / "_dependencies.pth").write_text("".join(f"{p}\n" for p in ours))
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--ignore-installed",
                    str(wheel)], check=True, capture_output=True, env=ENV, timeout=120)
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("packaging")
    wheel = _build_wheel(tmp)
    return Installed(wheel, _make_venv(tmp, wheel))


def _addon_snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using the middlewares in your own Scrapy project", 1)[1]
    section = section.split("### Manual wiring", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'ADDONS = {"consentry.middlewares.addon.ConsentAddon": 0}' in block
    assert "DOWNLOADER_MIDDLEWARES" not in block  # the add-on line alone
    return block


def _user_project(root: Path) -> Path:
    project = root / "userbot"
    (project / "spiders").mkdir(parents=True)
    for name, text in USER_MODULES.items():
        (project / name).write_text(text)
    (project / "spiders" / "__init__.py").write_text("")
    (project / "spiders" / "site.py").write_text(textwrap.dedent(USER_SPIDER))
    (project / "spiders" / "who.py").write_text(WHO)
    (project / "settings.py").write_text(
        'BOT_NAME = "userbot"\nSPIDER_MODULES = ["spiders"]\n'
        'TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"\n' + _addon_snippet())
    (project / "scrapy.cfg").write_text("[settings]\ndefault = settings\n")
    return project


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer({
        "/robots.txt": Route.text("User-agent: *\nDisallow: /private/\n"),
        "/": html('<title>home</title><a href="/private/x.html">p</a><a href="/page.html">g</a>'
                  '<img src="/open.jpg">'),
        "/private/x.html": html("<title>secret</title>"),
        "/page.html": html("<title>page</title>"),
        "/open.jpg": jpeg(),
    }).start()
    yield server
    server.stop()


def test_the_wheel_holds_only_consentry(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    (dist_info,) = tops - {"consentry"}
    assert re.fullmatch(r"consentry-[0-9][^/]*\.dist-info", dist_info)
    modules = {f"consentry/{p.relative_to(ROOT).as_posix()}" for folder in FOLDERS
               for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - set(names) == set(), "a module is missing from pyproject's packages"
    assert "consentry/policies/data/ai_tokens.json" in names


_WHERE = """
import sys
import consentry.crawler.cli, consentry.crawler.crawl.command, consentry.middlewares.addon, consentry.policies
files = {m.__file__ for n, m in list(sys.modules.items()) if n.startswith("consentry.") and getattr(m, "__file__", None)}
print(len(files))
print("\\n".join(sorted(files)))
print("editable finder active:", any("editable" in repr(f).lower() for f in sys.meta_path))
"""


def test_only_consentry_lands_in_site_packages(installed: Installed, tmp_path: Path) -> None:
    where = installed.run("-c", _WHERE, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    count, *files, finder = where.stdout.strip().splitlines()
    assert int(count) == len(files) > 10
    assert all(Path(f).is_relative_to(installed.venv) for f in files), files  # the wheel, not this checkout
    assert finder == "editable finder active: False"
    for name in FOLDERS:
        found = installed.run("-c", f"import {name}", cwd=tmp_path)
        assert found.returncode != 0
        assert f"No module named '{name}'" in found.stderr


def test_a_user_project_crawls_with_the_addon_line_alone(
        installed: Installed, site: SiteServer, tmp_path: Path) -> None:
    project = _user_project(tmp_path)
    done = installed.run("-m", "scrapy", "crawl", "site", "-a", f"start_url={site.url('/')}", "-O", "items.jsonl",
                         "-s", "LOG_LEVEL=WARNING", cwd=project)
    assert done.returncode == 0, done.stderr[-3000:]
    who = json.loads((project / "who.json").read_text())
    assert who["owners"] == ["user", "user", "user"]
    assert who["files"] == [str(project / name) for name in USER_MODULES]
    assert Path(who["consentry"]).is_relative_to(installed.venv)

    assert "/private/x.html" not in site.requested
    assert all("(compatible; mybot/" in agent for agent in site.user_agents)  # the add-on's User-Agent
    decisions = [json.loads(line) for line in (project / "decisions.jsonl").read_text().splitlines()]
    assert all(record_problems(d) == [] for d in decisions)
    actions = {d["url"]: d["action"] for d in decisions}
    assert actions[site.url("/private/x.html")] == "skip"
    assert actions[site.url("/")] == actions[site.url("/open.jpg")] == actions[site.url("/page.html")] == "keep"
    items = {json.loads(line)["url"] for line in (project / "items.jsonl").read_text().splitlines()}
    assert {site.url("/"), site.url("/open.jpg")} <= items

    with (project / "crawl.warc.gz").open("rb") as stream:
        kinds = [record.rec_type for record in ArchiveIterator(stream)]
    assert kinds[0] == "warcinfo"
    assert kinds.count("response") >= 4  # robots.txt, two pages, the image
    assert kinds.count("metadata") == len(decisions)  # one per decision, the skip's included
