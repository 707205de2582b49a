"""`consentry registry`: creators register works (files, folders) with their preferences; exchange as JSON Lines.

docs/signals/registry.md. Subcommands: add, list, remove, match, export, import over an SQLite registry file
(`consentry.middlewares.adapters.registry`). Exchange format `consentry.work/1`, one JSON object per line:
{"schema": "consentry.work/1", "creator": str, "title": str, "deny": [purpose…], "allow": [purpose…],
"sha256": hex, "iscc": "ISCC:…" | null, "c2pa_instance_id": str | null, "added": RFC 3339, "id": int,
"image_codes": [{"iscc": "ISCC:…", "thumb": base64 | null}, …] (images: whole picture first, then variants)}
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consentry.policies.vocabulary import Purpose, parse_purpose

__all__ = ["add_parser", "run"]


def _purpose(value: str) -> Purpose:
    try:
        return parse_purpose(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `registry` subcommand group to `consentry`'s subparsers."""
    group: argparse.ArgumentParser = subparsers.add_parser("registry", help="creators' works registry")
    sub = group.add_subparsers(dest="registry_command", required=True)
    add = sub.add_parser("add", help="register files and folders as works")
    add.add_argument("paths", nargs="+", metavar="PATH", type=Path)
    add.add_argument("--creator", required=True, metavar="NAME")
    add.add_argument("--deny", nargs="+", type=_purpose, default=[], metavar="P")
    add.add_argument("--allow", nargs="+", type=_purpose, default=[], metavar="P")
    listing = sub.add_parser("list", help="list registered works")
    listing.add_argument("--json", action="store_true", help="print consentry.work/1 lines")
    remove = sub.add_parser("remove", help="remove works by id")
    remove.add_argument("ids", nargs="+", type=int, metavar="ID")
    match = sub.add_parser("match", help="show which registered works files match")
    match.add_argument("files", nargs="+", type=Path, metavar="FILE")
    export = sub.add_parser("export", help="write every work as JSON Lines (consentry.work/1)")
    export.add_argument("-o", "--output", type=Path, metavar="OUT.jsonl", help="default: stdout")
    imp = sub.add_parser("import", help="register the works of a JSON Lines file")
    imp.add_argument("input", type=Path, metavar="IN.jsonl")
    for parser in (add, listing, remove, match, export, imp):
        parser.add_argument("--db", required=True, type=Path, metavar="FILE", help="the registry file")
    return group


def run(args: argparse.Namespace) -> int:
    """Run one `consentry registry` subcommand; an unusable registry file raises `UsageError`."""
    from consentry.crawler.registry.runner import run as run_registry

    return run_registry(args)
