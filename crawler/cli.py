"""The `consentry` console script: `check`, `crawl`, `demo`, `audit`, `registry` (DESIGN.md "Command line").

Exit codes: 0 success whatever the verdicts, 1 the command's own finding (audit mismatch), 2 bad usage or
unreadable input — one line on stderr naming the problem, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from policies.config import PolicyConfig
from policies.version import VERSION

if TYPE_CHECKING:
    from middlewares.registry import Registry

__all__ = ["UsageError", "main"]


class UsageError(Exception):
    """Bad user input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _header(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise argparse.ArgumentTypeError(f"--header {value!r}: expected 'Name: value'")
    return name.strip(), rest.strip()


def _policy_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", default="consentry", help="our product token (default: consentry)")
    parser.add_argument("--purpose", action="append", dest="purposes", metavar="P",
                        help="declared purpose, repeatable (default: ai-train)")


def _config(args: argparse.Namespace, **extra: object) -> PolicyConfig:
    values: dict[str, object] = {"CONSENT_AGENT": args.agent, **extra}
    if args.purposes:
        values["CONSENT_PURPOSES"] = args.purposes
    try:
        return PolicyConfig.from_settings(values)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    check = sub.add_parser("check", help="show how a site's directives are read for URLs")
    check.add_argument("urls", nargs="+", metavar="URL")
    _policy_args(check)
    check.add_argument("--header", action="append", type=_header, default=[], metavar="'Name: value'",
                       help="add a response header to each asset, as if the server sent it")
    check.add_argument("--root", type=Path, help="read a local web root instead of the live site")
    check.add_argument("--json", action="store_true", help="print only a JSON array of decision records")
    check.add_argument("--trust-anchors", type=Path, metavar="PEM",
                       help="C2PA trust anchors (PEM); signers chaining to them read Trusted")
    check.add_argument("--registry", type=Path, metavar="FILE",
                       help="a works registry (consentry registry add): matching assets carry its creator's terms")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog="consentry", description="Consent-respecting crawling: evaluate AI-training "
                     "and TDM consent signals on every asset.")
    parser.add_argument("--version", action="version", version=f"consentry {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _check_parser(sub)
    from crawler import audit, crawl, demo, registry

    crawl.add_parser(sub)
    demo.add_parser(sub)
    audit.add_parser(sub)
    registry.add_parser(sub)
    return parser


def _run_check(args: argparse.Namespace) -> int:
    from crawler.check import Checker
    from crawler.sources import HttpSource, RootSource
    from crawler.table import render_check
    from middlewares._config import read_trust_anchors

    config = _config(args, CONSENT_C2PA_TRUST_ANCHORS=args.trust_anchors)
    for url in args.urls:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{url!r} is not an absolute http(s) URL")
    if args.root is not None and not args.root.is_dir():
        raise UsageError(f"--root {args.root}: not a directory")
    source = RootSource(args.root, args.header) if args.root else HttpSource(config.agent, args.header)
    try:
        anchors = read_trust_anchors(config.c2pa_trust_anchors)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    checker = Checker(source, config, trust_anchors_pem=anchors, registry=_open_registry(args.registry))
    results = [checker.check(url) for url in args.urls]
    if args.json:
        print(json.dumps([r.decision.to_record() for r in results if r.decision], indent=2))
    else:
        print("\n\n".join(render_check(r.decision, r.warnings) for r in results if r.decision))
    for result in results:
        if args.json:
            for warning in result.warnings:
                print(f"consentry: warning: {result.url}: {warning}", file=sys.stderr)
        if result.error:
            print(f"consentry: cannot fetch {result.url}: {result.error}", file=sys.stderr)
    return 2 if any(r.error for r in results) else 0


def _open_registry(path: Path | None) -> Registry | None:
    if path is None:
        return None
    from middlewares.registry import Registry, RegistryError

    try:
        return Registry.open(path)
    except RegistryError as exc:
        raise UsageError(f"--registry {exc}") from None


def _run_registry(args: argparse.Namespace) -> int:
    from crawler.registry import run

    return run(args)


def _run_crawl(args: argparse.Namespace) -> int:
    from crawler.crawl import run

    return run(args)


def _run_demo(args: argparse.Namespace) -> int:
    from crawler.demo import run

    return run(args)


def _run_audit(args: argparse.Namespace) -> int:
    from crawler.audit import run

    return run(args)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": _run_check, "crawl": _run_crawl, "demo": _run_demo, "audit": _run_audit,
    "registry": _run_registry,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"consentry: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("consentry: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run the canonical `crawler.cli` module, not this `__main__` copy: subcommand modules import
    # `crawler.cli.UsageError`, which must be the class `main` catches.
    from crawler.cli import main as canonical_main

    sys.exit(canonical_main())
