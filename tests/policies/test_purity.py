"""policies/ is sans-IO (docs/architecture.md "The pure core"): no network, disk, clock, Scrapy or c2pa imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BANNED = ("scrapy", "twisted", "c2pa", "socket", "urllib.request", "http.client", "httpx", "requests",
          "os", "pathlib", "time", "datetime", "subprocess", "shutil", "io.open", "warcio", "consentry.middlewares",
          "consentry.crawler", "tempfile", "glob", "sqlite3", "random", "asyncio")


def _imports(src: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def _calls_open(src: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "open"
               for n in ast.walk(ast.parse(src)))


POLICY_FILES = sorted((ROOT / "policies").rglob("*.py"))


def test_policies_package_has_modules() -> None:
    assert len(POLICY_FILES) > 5


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_policies_is_sans_io(path: Path) -> None:
    source = path.read_text()
    bad = [m for m in _imports(source) if any(m == b or m.startswith(b + ".") for b in BANNED)]
    assert not bad, f"{path.name} imports {bad}"
    assert not _calls_open(source), f"{path.name} calls open()"


def test_the_purity_check_catches_a_banned_import() -> None:
    assert list(_imports("import os\nfrom scrapy.http import Response\n")) == [
        "os", "scrapy.http", "scrapy.http.Response"]
    assert _calls_open("data = open('x').read()")
