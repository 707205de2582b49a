"""Every policies module declares a sorted `__all__` that names exactly its public definitions (private modules, explicit public API)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p for p in (ROOT / "policies").rglob("*.py") if p.name != "__init__.py")


def _dotted(path: Path) -> str:
    return "consentry." + ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff RUF022's order: SCREAMING_CASE, then CamelCase, then the rest."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def _public_definitions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("path", MODULES, ids=_dotted)
def test_module_all_is_sorted_and_complete(path: Path) -> None:
    name = _dotted(path)
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if path.stem == "version":
        return
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    missing = _public_definitions(path) - set(exported)
    assert not missing, f"{name} defines public {sorted(missing)} outside __all__"
    for name in exported:
        assert hasattr(module, name), f"{name}.__all__ names missing {name}"


def test_facade_exports_what_transports_use() -> None:
    facade = importlib.import_module("consentry.policies")
    exported = list(facade.__all__)
    assert exported == sorted(exported, key=_isort_key)
    assert set(exported) == set(facade._HOMES)
    for name in exported:
        home = importlib.import_module(f"consentry.policies.{facade._HOMES[name]}")
        assert getattr(facade, name) is getattr(home, name), name
    assert sorted(dir(facade)) == sorted(exported)
    with pytest.raises(AttributeError):
        facade.not_a_name  # noqa: B018
