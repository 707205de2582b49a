"""The `consentry` console script: `check`, `crawl`, `demo`, `audit`, `registry`, `report`, `recheck`, `queue`
(docs/cli.md).

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

from consentry.crawler import exitcodes
from consentry.crawler.errors import UsageError
from consentry.crawler.helptext import EXIT_CODES, HelpParser, examples
from consentry.policies.version import VERSION

__all__ = ["build_parser", "main", "verbosity"]

#: subcommand -> the module that declares (`add_parser`) and runs (`run`) it.
_COMMANDS = {
    "check": "consentry.crawler.check.command",
    "crawl": "consentry.crawler.crawl.command",
    "demo": "consentry.crawler.demo.command",
    "audit": "consentry.crawler.audit.command",
    "registry": "consentry.crawler.registry.command",
    "report": "consentry.crawler.report.command",
    "recheck": "consentry.crawler.recheck.command",
    "queue": "consentry.crawler.queue.command",
}


_DESCRIPTION = """\
Consent-respecting crawling: read every signal by which creators and sites grant or withhold consent
to AI training and text-and-data mining (robots.txt and its extensions, ai.txt, TDMRep, AIPREF
Content-Usage, Content-Signal, RSL, X-Robots-Tag noai, C2PA/CAWG, IPTC), decide per asset, and record
each decision with its evidence. Every COMMAND has -v/--verbose and -q/--quiet; `consentry COMMAND
--help` lists its options with their defaults."""

_EXAMPLES = (
    ("consentry demo --serve --port 8000", "serve the bundled demo sites on 127.0.0.1:8000-8003 until Ctrl-C"),
    ("consentry check http://127.0.0.1:8001/news/reserved.html", "how one URL's signals are read, signal by signal"),
    ("consentry crawl https://example.org/ -o out --registry works.db", "a consent-respecting crawl into out/"),
    ("consentry audit out/crawl.warc.gz --report audit.html", "replay the crawl's archive, decision by decision"),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = HelpParser(prog="consentry", description=_DESCRIPTION, epilog=examples(_EXAMPLES, EXIT_CODES))
    parser.add_argument("-V", "--version", action="version", version=f"consentry {VERSION}",
                        help="print consentry's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=HelpParser, metavar="COMMAND")
    for module in _COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    for command in sub.choices.values():
        _add_verbosity(command)
    return parser


def _add_verbosity(command: argparse.ArgumentParser) -> None:
    """`-v/--verbose` and `-q/--quiet` on every subcommand (and its own subcommands): `args.verbose` and
    `args.quiet` count them; `verbosity(args)` is their difference."""
    nested = [action for action in command._actions if isinstance(action, argparse._SubParsersAction)]
    for action in nested:
        for child in action.choices.values():
            _add_verbosity(child)
    if nested:
        return
    group = command.add_argument_group("output")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="say more (repeatable): -v shows download tracebacks and Scrapy's log")
    group.add_argument("-q", "--quiet", action="count", default=0,
                       help="say less: -q prints no summary, only errors")


def verbosity(args: argparse.Namespace) -> int:
    """`-v` count minus `-q` count (0 by default; negative: quiet)."""
    return int(getattr(args, "verbose", 0)) - int(getattr(args, "quiet", 0))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return exitcodes.USAGE
    try:
        args = parser.parse_args(argv)
        code: int = importlib.import_module(_COMMANDS[args.command]).run(args)
    except UsageError as exc:
        print(f"consentry: error: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    except KeyboardInterrupt:
        print("consentry: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    return code


if __name__ == "__main__":
    sys.exit(main())
