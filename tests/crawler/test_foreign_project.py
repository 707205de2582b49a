"""The README's manual-wiring snippet, pasted into a brand-new Scrapy project with its own spider, really works.

(tests/test_packaging.py does the same for the add-on line, with consentry installed from its wheel.) The
snippet is read from README.md itself (so the documentation is what is tested), written into a
throwaway project next to a plain spider that yields dict items, and run with `scrapy crawl` against a
loopback site.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from consentry.policies.record import record_problems
from tests.crawler._helpers import ROOT, USER_SPIDER, html, jpeg


def _snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using the middlewares in your own Scrapy project", 1)[1]
    section = section.split("### Manual wiring", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README lost its settings snippet"
    return match.group(1)


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer({
        "/robots.txt": Route.text("User-agent: *\nDisallow: /private/\n"),
        "/": html('<title>home</title><a href="/private/x.html">p</a><a href="/gallery.html">g</a>'
                  '<img src="/open.jpg">'),
        "/private/x.html": html("<title>secret</title>"),
        "/gallery.html": html('<title>gallery</title><meta name="robots" content="noimageai"><img src="/art.jpg">'),
        "/open.jpg": jpeg(),
        "/art.jpg": jpeg(),
    }).start()
    yield server
    server.stop()


def test_readme_snippet_in_a_foreign_project(site: SiteServer, tmp_path: Path) -> None:
    package = tmp_path / "foreignbot"
    (package / "spiders").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "spiders" / "__init__.py").write_text("")
    (package / "spiders" / "site.py").write_text(textwrap.dedent(USER_SPIDER))
    settings = 'BOT_NAME = "foreignbot"\nSPIDER_MODULES = ["foreignbot.spiders"]\n' + _snippet()
    (package / "settings.py").write_text(settings)
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = foreignbot.settings\n")
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "site", "-a", f"start_url={site.url('/')}",
         "-O", "items.jsonl", "-s", "LOG_LEVEL=WARNING"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "/private/x.html" not in site.requested  # robots.txt honoured for the snippet's CONSENT_AGENT
    assert any("mybot" in agent for agent in site.user_agents)
    items = {item["url"]: item for item in map(json.loads, (tmp_path / "items.jsonl").read_text().splitlines())}
    assert items[site.url("/")]["consent"]["action"] == "keep"
    assert site.url("/open.jpg") in items
    assert site.url("/art.jpg") not in items  # the gallery page's noimageai reached its image
    decisions = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert all(record_problems(d) == [] for d in decisions)
    art = next(d for d in decisions if d["url"] == site.url("/art.jpg"))
    assert art["action"] == "drop"
    assert "page-inherited" in {s["mechanism"] for s in art["signals"]}
    assert (tmp_path / "crawl.warc.gz").stat().st_size > 0
