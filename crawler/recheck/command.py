"""`consentry recheck`: the command-line front end of the recheck of a finished crawl (docs/cli.md).

Arguments, the summary's rendering and the exit code live here; the work (reading the crawl's decision log,
WARC and dataset index, fetching today's signals) is `consentry.crawler.recheck.runner`, imported only in `run`.
Exit codes (`consentry.crawler.exitcodes`): 0 nothing withdrawn, 1 at least one asset withdrawn (the removal
list is `DIR/withdrawn.jsonl`), 2 DIR unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from consentry.crawler import exitcodes
from consentry.crawler.errors import UsageError
from consentry.crawler.helptext import examples, purposes_epilog, purposes_help

__all__ = ["add_parser", "render_summary", "run"]


def _delay(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--delay {value!r}: expected seconds") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"--delay {value!r}: expected 0 to 3600 seconds")
    return seconds


_DESCRIPTION = """\
For a data team keeping a finished crawl (or a dataset made from one) in line with today's signals:
re-evaluate every kept asset of DIR's decision log. Each origin's site files are fetched again first (an
asset robots.txt now disallows is withdrawn without being requested); then each asset is asked with a
conditional request (If-None-Match / If-Modified-Since from the archived response): a 304 re-reads the
archived body with today's headers, a 200 reads the new body. Dropped assets that today's signals allow are
listed too. Writes DIR/withdrawn.jsonl and DIR/newly_allowed.jsonl; a summary on stdout (--json: JSON there,
the human summary on stderr).
Exit 0 when nothing was withdrawn, 1 when something was, 2 when DIR is unusable."""

_EXAMPLES = (
    ("consentry recheck out", "recheck the crawl written to out/"),
    ("consentry recheck out/dataset --json", "recheck a dataset's shards (their parquet index), JSON summary"),
    ("consentry recheck out --delay 1 --purpose ai-train", "one request a second per origin, another purpose"),
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Declare `consentry recheck`."""
    recheck: argparse.ArgumentParser = sub.add_parser(
        "recheck", help="re-evaluate a finished crawl's kept assets against today's signals",
        description=_DESCRIPTION, epilog=examples(_EXAMPLES, purposes_epilog()))
    recheck.add_argument("directory", type=Path, metavar="DIR",
                         help="a crawl's output directory (decisions.jsonl, crawl.warc.gz) or a dataset "
                              "directory (*.parquet index with a url column)")
    recheck.add_argument("--agent", metavar="TOKEN", help="our product token (default: the one the crawl's records name)")
    recheck.add_argument("--purpose", action="append", dest="purposes", metavar="P",
                         help=purposes_help(shown="the crawl's declared purposes"))
    recheck.add_argument("--delay", type=_delay, default=0.0, metavar="SECONDS",
                         help="least time between two requests to one origin; requests are sent one at a time")
    recheck.add_argument("--allow-private-addresses", action="store_true",
                         help="also fetch from loopback, private and link-local addresses other than the "
                              "rechecked URLs' own")
    recheck.add_argument("--trust-anchors", type=Path, metavar="PEM",
                         help="C2PA trust anchors (PEM); signers chaining to them read Trusted")
    recheck.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return recheck


def render_summary(summary: dict[str, Any]) -> str:
    """The human summary (stderr)."""
    lines = [
        f"rechecked {summary['rechecked']} kept asset(s) of {summary['directory']}: "
        f"{summary['withdrawn']} withdrawn, {summary['unchanged']} still allowed, "
        f"{summary['unavailable']} unavailable",
        f"requests: {summary['not_modified']} answered 304 (archived body reused), {summary['bodies_fetched']} "
        f"bodies fetched, {summary['not_requested']} not requested (robots.txt)",
    ]
    if summary["withdrawn"]:
        by = ", ".join(f"{name} {count}" for name, count in sorted(summary["withdrawn_by_mechanism"].items()))
        lines.append(f"withdrawn by: {by}; removal list: {summary['withdrawn_path']}")
    lines.append(f"previously dropped, allowed today: {summary['newly_allowed']} of {summary['dropped_rechecked']}"
                 + (f" (listed in {summary['newly_allowed_path']})" if summary["newly_allowed"] else ""))
    if summary["corrupt_lines"]:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(summary["corrupt_by_reason"].items()))
        lines.append(f"decision log: {summary['corrupt_lines']} unreadable line(s) skipped ({reasons})")
    lines.extend(f"warning: {warning}" for warning in summary["warnings"])
    return "\n".join(lines)


def _list_withdrawn(path: Path) -> None:
    """`-v`: one stderr line per withdrawn asset (URL, the mechanisms that withdrew it, today's reason)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            print(f"withdrawn: {entry['url']} ({', '.join(entry['mechanisms'])}): {entry['reason']}",
                  file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Recheck DIR; write its removal list; exit 1 when something was withdrawn."""
    from consentry.crawler.cli import verbosity
    from consentry.crawler.crawl.command import emit
    from consentry.crawler.recheck.runner import RecheckOptions, run_recheck

    if not args.directory.is_dir():
        raise UsageError(f"{args.directory}: not a directory")
    options = RecheckOptions(agent=args.agent, purposes=tuple(args.purposes or ()), delay=args.delay,
                             allow_private=args.allow_private_addresses, trust_anchors=args.trust_anchors)
    summary = run_recheck(args.directory, options)
    if args.json:  # the summary convention of every command (docs/cli.md "Summaries")
        emit(json.dumps(summary, indent=2, sort_keys=True), sys.stdout)
    if verbosity(args) >= 1:
        _list_withdrawn(Path(summary["withdrawn_path"]))
    if verbosity(args) >= 0:
        emit(render_summary(summary), sys.stderr if args.json else sys.stdout)
    return exitcodes.FINDING if summary["withdrawn"] else exitcodes.OK
