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

from consentry.crawler.helptext import examples, purposes_epilog, purposes_help
from consentry.policies.vocabulary import Purpose, parse_purpose

__all__ = ["add_parser", "run"]


def _purpose(value: str) -> Purpose:
    try:
        return parse_purpose(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_DESCRIPTION = """\
Creators register their works (images and texts, whole folders at once) with the purposes they deny or
allow; a crawl or check given the registry file (--registry FILE, CONSENT_REGISTRY) recognises those works
wherever they are re-posted, by SHA-256, ISCC Content-Code (resized, recompressed, stripped copies) or
C2PA instance id. The file is SQLite; works are exchanged as JSON Lines (consentry.work/1,
docs/signals/registry.md). Every subcommand needs --db FILE."""

#: subcommand -> (one-line help, description, examples).
_SUBCOMMANDS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "add": ("register files and folders as works",
            "Fingerprint every image (JPEG, PNG, WebP, GIF, TIFF, BMP), HTML page and text file under PATHs and\n"
            "register each as a work of --creator with the purposes denied or allowed. Unreadable or unsupported\n"
            "files are listed on stderr and skipped; the count goes to stdout. Creates --db if needed.",
            (("consentry registry add ~/portfolio --db ada.db --creator 'Ada Artist' --deny ai-train", ""),
             ("consentry registry add essay.html --db ada.db --creator Ada --deny tdm --allow search", ""))),
    "list": ("list registered works",
             "One line per work: id, creator, title, terms and how it can be matched (--json: consentry.work/1\n"
             "lines).",
             (("consentry registry list --db ada.db", ""), ("consentry registry list --db ada.db --json", ""))),
    "remove": ("remove works by id",
               "Remove the works with these ids; an id that is not registered is an error (exit 2) after the\n"
               "others are removed.",
               (("consentry registry remove --db ada.db 3 4", ""),)),
    "match": ("show which registered works files match",
              "Fingerprint each FILE as a crawl would and show the registered works it matches, how (sha256,\n"
              "c2pa, image or text code) and how many bits apart, with the terms that would count. --json\n"
              "prints one JSON array with one element per FILE, in argument order (an error object for a\n"
              "file that cannot be read). Exit 2 when a file cannot be read.",
              (("consentry registry match --db society.db downloaded.jpg", "which work is this copy of?"),
               ("consentry registry match --db society.db a.jpg b.png --json", "one JSON element per file"))),
    "export": ("write every work as JSON Lines (consentry.work/1)",
               "Write every work as one consentry.work/1 JSON object per line, to publish or exchange.",
               (("consentry registry export --db ada.db -o ada.jsonl", ""),)),
    "import": ("register the works of a JSON Lines file",
               "Register the works of a consentry.work/1 JSON Lines file; every line is validated first and\n"
               "nothing is imported if one is bad. Works already registered for the same creator are skipped.",
               (("consentry registry import --db society.db ada.jsonl", ""),)),
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `registry` subcommand group to `consentry`'s subparsers."""
    group: argparse.ArgumentParser = subparsers.add_parser(
        "registry", help="creators' works registry", description=_DESCRIPTION,
        epilog=examples([rows[0] for _, _, rows in _SUBCOMMANDS.values()], purposes_epilog()))
    sub = group.add_subparsers(dest="registry_command", required=True, metavar="SUBCOMMAND")
    parsers = {name: sub.add_parser(name, help=short, description=text, epilog=examples(rows))
               for name, (short, text, rows) in _SUBCOMMANDS.items()}
    add = parsers["add"]
    add.epilog = examples(_SUBCOMMANDS["add"][2], purposes_epilog())
    add.add_argument("paths", nargs="+", metavar="PATH", type=Path, help="files and folders (searched recursively)")
    add.add_argument("--creator", required=True, metavar="NAME", help="the creator's name, as it will be shown")
    add.add_argument("--deny", nargs="+", type=_purpose, default=[], metavar="P",
                     help=purposes_help("purposes the creator withholds", shown="none", how="one or more"))
    add.add_argument("--allow", nargs="+", type=_purpose, default=[], metavar="P",
                     help=purposes_help("purposes the creator grants (counted only for byte-identical copies)",
                                        shown="none", how="one or more"))
    parsers["list"].add_argument("--json", action="store_true", help="print consentry.work/1 lines")
    parsers["remove"].add_argument("ids", nargs="+", type=int, metavar="ID", help="work ids (registry list)")
    parsers["match"].add_argument("files", nargs="+", type=Path, metavar="FILE", help="files to look up")
    parsers["match"].add_argument("--json", action="store_true",
                                  help="print only a JSON array, one element per FILE in argument order")
    parsers["export"].add_argument("-o", "--output", type=Path, metavar="OUT.jsonl",
                                   help="the file to write (default: stdout)")
    parsers["import"].add_argument("input", type=Path, metavar="IN.jsonl", help="a consentry.work/1 JSON Lines file")
    for parser in parsers.values():
        parser.add_argument("--db", required=True, type=Path, metavar="FILE",
                            help="the registry file (SQLite; what crawl/check/audit take as --registry)")
    return group


def run(args: argparse.Namespace) -> int:
    """Run one `consentry registry` subcommand; an unusable registry file raises `UsageError`."""
    from consentry.crawler.registry.runner import run as run_registry

    return run_registry(args)
