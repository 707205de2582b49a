"""pyproject.toml's dependencies are ranges, and the two constraints files CI installs agree with them:
constraints-oldest.txt pins every direct dependency at its lower bound, constraints.txt inside its range."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_TESTED_EXTRAS = ("protego", "pyarrow", "webdataset", "redis", "scrapy-redis")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)\s*(.*)$")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(text: str) -> tuple[int, ...]:
    """The release numbers, trailing zeros dropped (2.15 == 2.15.0)."""
    parts = [int(part) for part in re.findall(r"\d+", text.partition("+")[0])[:4]]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _ranges() -> dict[str, dict[str, str]]:
    """Direct dependency -> {operator: version}: the runtime ones, plus protego (the tests' robots.txt oracle),
    pyarrow (the `dataset` extra), webdataset (reads the dataset shards back in the tests) and the `redis`
    extra (redis, scrapy-redis)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"],
                    *(r for r in project["optional-dependencies"]["test"] if r.startswith(_TESTED_EXTRAS))]
    ranges: dict[str, dict[str, str]] = {}
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement.partition(";")[0].strip())
        assert match, requirement
        clauses = (c.strip() for c in match[2].split(",") if c.strip())
        ranges[_name(match[1])] = dict(re.match(r"(==|>=|<=|<|>|~=|!=)\s*(.+)", c).groups() for c in clauses)  # type: ignore[union-attr]
    return ranges


def _pins(path: Path) -> dict[str, str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {_name(n): v for n, _, v in (line.partition("==") for line in lines if line and not line.startswith("#"))}


def test_runtime_dependencies_are_ranges_with_a_lower_bound() -> None:
    for name, clauses in _ranges().items():
        assert "==" not in clauses, f"{name} is pinned; pins belong in constraints.txt"
        assert ">=" in clauses, f"{name} has no lower bound"


@pytest.mark.parametrize("name", sorted(_ranges()))
def test_oldest_constraints_pin_the_lower_bound(name: str) -> None:
    oldest = _pins(ROOT / "constraints-oldest.txt")
    assert name in oldest, f"constraints-oldest.txt does not pin {name}"
    assert _version(oldest[name]) == _version(_ranges()[name][">="])


@pytest.mark.parametrize("name", sorted(_ranges()))
def test_locked_versions_lie_in_the_ranges(name: str) -> None:
    locked = _pins(ROOT / "constraints.txt")
    clauses = _ranges()[name]
    assert name in locked, f"constraints.txt does not pin {name}"
    version = _version(locked[name])
    assert version >= _version(clauses[">="])
    if "<" in clauses:
        assert version < _version(clauses["<"])


def test_the_dataset_extra_asks_for_the_pyarrow_the_tests_use() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    tested = [r for r in extras["test"] if r.startswith("pyarrow")]
    assert extras["dataset"] == tested


def test_the_redis_extra_asks_for_what_the_tests_use() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    tested = [r.split("#")[0].strip() for r in extras["test"] if r.startswith(("redis", "scrapy-redis"))]
    assert extras["redis"] == tested
