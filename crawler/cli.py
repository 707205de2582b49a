"""The `consentry` console script: `check`, `crawl`, `demo`, `audit`, `registry` (docs/cli.md).

Exit codes: 0 success whatever the verdicts, 1 the command's own finding (audit mismatch), 2 bad usage or
unreadable input — one line on stderr naming the problem, never a traceback. Each front end declares its
arguments in `consentry.crawler.<front end>.command` and imports its heavy machinery (its `runner` module,
Scrapy, c2pa, the WARC readers) only in `run`, so `--version`, `--help` and `check` start fast
(tests/crawler/test_startup.py, bench/bench_startup.py).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from consentry.crawler.errors import Parser, UsageError
from consentry.policies.version import VERSION

__all__ = ["build_parser", "main"]

#: subcommand -> the module that declares (`add_parser`) and runs (`run`) it.
_COMMANDS = {
    "check": "consentry.crawler.check.command",
    "crawl": "consentry.crawler.crawl.command",
    "demo": "consentry.crawler.demo.command",
    "audit": "consentry.crawler.audit.command",
    "registry": "consentry.crawler.registry.command",
    "report": "consentry.crawler.report.command",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = Parser(prog="consentry", description="Consent-respecting crawling: evaluate AI-training "
                    "and TDM consent signals on every asset.")
    parser.add_argument("--version", action="version", version=f"consentry {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in _COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        code: int = importlib.import_module(_COMMANDS[args.command]).run(args)
    except UsageError as exc:
        print(f"consentry: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("consentry: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
