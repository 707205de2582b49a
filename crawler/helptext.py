"""The help of every `consentry` command (docs/cli.md): the formatter and the pieces the front ends share.

`HelpFormatter` keeps descriptions and "examples:" epilogs as written and appends "(default: …)" to every
option that has a default, so no default is hidden; `purposes_help` and `purposes_epilog` list the purposes
and their tree from `consentry.policies.vocabulary` (docs/purposes.md), never from a copy; `examples` lays out
an epilog of example commands. Light: imports only argparse and the pure core.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from consentry.crawler.errors import Parser
from consentry.policies.settings_table import default
from consentry.policies.vocabulary import PARENT, PURPOSES, Purpose

__all__ = [
    "EXIT_CODES",
    "HelpFormatter",
    "HelpParser",
    "examples",
    "purpose_tree",
    "purposes_epilog",
    "purposes_help",
    "shows_default",
]

#: The exit-code contract of every command (docs/cli.md "Exit codes"), as the top-level help states it.
EXIT_CODES = """\
exit codes:
  0    the work was done and found nothing wrong, whatever the verdicts
  1    the work found a problem (an audit mismatch or unverifiable record, a URL check
       that could not fetch, a crawl that was stopped)
  2    bad usage or unusable input: one line on stderr naming it
  130  interrupted by the user (Ctrl-C)"""


def shows_default(action: argparse.Action) -> bool:
    """Whether `--help` appends the option's default: it takes a value and has a default worth stating
    (not None, not an empty list; flags and counters start at nothing)."""
    if not action.option_strings or action.nargs == 0 or action.default is argparse.SUPPRESS:
        return False
    return action.default is not None and action.default != [] and not isinstance(action.default, bool)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; "(default: …)" after every option that has a default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if shows_default(action) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class HelpParser(Parser):
    """`consentry`'s parser: errors are `UsageError`s; help uses `HelpFormatter` (subparsers inherit both)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def _children(parent: Purpose | None) -> list[Purpose]:
    return [p for p in PURPOSES if PARENT[p] is parent]


def purpose_tree(parent: Purpose | None = None, indent: str = "  ") -> list[str]:
    """The purpose tree, one purpose a line, each child indented under its parent."""
    lines: list[str] = []
    for purpose in _children(parent):
        lines.append(f"{indent}{purpose.value}")
        lines.extend(purpose_tree(purpose, indent + "  "))
    return lines


def purposes_help(what: str = "declared purpose", shown: str = "", how: str = "repeatable") -> str:
    """The help of a `--purpose`-like option: every purpose, and its default (`shown`, else the settings
    table's CONSENT_PURPOSES)."""
    names = ", ".join(p.value for p in PURPOSES)
    declared = default("CONSENT_PURPOSES")
    shown = shown or (", ".join(declared) if isinstance(declared, (list, tuple)) else str(declared))
    return f"{what}, {how}: one of {names} (tree below; a parent means all its children) (default: {shown})"


def purposes_epilog() -> str:
    """The "purposes:" section of an epilog: the tree, read from the vocabulary."""
    return "\n".join(["purposes (docs/purposes.md; a parent stands for all its children):", *purpose_tree()])


def examples(rows: Sequence[tuple[str, str]], *sections: str) -> str:
    """An epilog: "examples:" with each command and, under it, what it does; then any further sections."""
    lines = ["examples:"]
    for command, comment in rows:
        lines.append(f"  {command}")
        if comment:
            lines.append(f"      {comment}")
    return "\n\n".join(["\n".join(lines), *sections])
