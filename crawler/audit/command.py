"""`consentry audit WARC…`: replay crawl archives and verify every consent decision (docs/cli.md).

Inputs are files, directories, globs and `--files-from` lists; a first pass indexes the documents decisions need
across all of them, then each WARC streams through `consentry.crawler.audit.replay` (files in parallel, one
process each, or Spark jobs with `--spark`); output is a summary table, or with `--json` only a JSON array of
per-record results on stdout, and optionally `--report` HTML. Exit 0 every archived decision reproduced and nothing
unverifiable, 1 otherwise, 2 unusable input (one line naming the file). The work is `consentry.crawler.audit.runner`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from consentry.crawler.errors import UsageError
from consentry.crawler.helptext import examples, purposes_epilog, purposes_help

__all__ = ["add_parser", "run"]


_DESCRIPTION = """\
For an auditor: replay crawl archives and verify every consent decision. A first pass indexes the site
files, licences and remote manifests of every input; then each archived response (and skip) is
re-evaluated with the documents archived as of decision time, under the crawl's own policy, and compared
with the decision the crawl logged. No network is used (unless --fetch-missing). WARCs from other
crawlers are judged on what they show. Output: a summary on stdout, or --json only; --report FILE.html
writes one self-contained page. Exit 0 when every archived decision was reproduced and nothing was
unverifiable, 1 otherwise, 2 when an input cannot be read (the others are still audited)."""

_EXAMPLES = (
    ("consentry audit consentry-demo/crawl.warc.gz --report audit.html", "audit the demo's crawl, with an HTML report"),
    ("consentry audit crawls/ --site-files robots.warc.gz --jobs 4", "a directory of WARCs, 4 files at a time"),
    ("consentry audit out/crawl.warc.gz --registry society.db", "a crawl made with --registry (CONSENT_REGISTRY)"),
    ("consentry audit 'cc/*.warc.gz' --purpose search --json", "replay under another purpose, JSON output"),
    ("consentry audit --files-from list.txt --spark 'local[4]'", "the index pass and the replay as Spark jobs"),
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `audit` subcommand to `consentry`'s subparsers."""
    audit: argparse.ArgumentParser = subparsers.add_parser(
        "audit", help="replay crawl WARCs and verify every consent decision", description=_DESCRIPTION,
        epilog=examples(_EXAMPLES, purposes_epilog()))
    audit.add_argument("warcs", nargs="*", metavar="WARC", help="WARC/ARC files, directories or globs")
    audit.add_argument("--files-from", type=Path, metavar="LIST",
                       help="a file listing inputs, one per line (# comments)")
    audit.add_argument("--site-files", nargs="+", default=[], metavar="WARC",
                       help="WARCs holding only site files (e.g. Common Crawl's robots.txt captures): indexed, "
                            "not replayed")
    audit.add_argument("--spark", metavar="MASTER",
                       help="run the index pass and the replay as Spark jobs (pip install 'consentry[spark]')")
    audit.add_argument("--json", action="store_true", help="print only a JSON array of per-record results")
    audit.add_argument("--report", type=Path, metavar="FILE.html", help="write a self-contained HTML report")
    audit.add_argument("--agent", metavar="TOKEN", help="replay as this product token (default: the crawl's)")
    audit.add_argument("--purpose", action="append", dest="purposes", metavar="P",
                       help=purposes_help("replay for this declared purpose", shown="the crawl's"))
    audit.add_argument("--trust-anchors", type=Path, metavar="PEM", help="C2PA trust anchors (PEM)")
    audit.add_argument("--registry", type=Path, metavar="FILE",
                       help="the works registry the crawl used (consentry crawl --registry, CONSENT_REGISTRY)")
    audit.add_argument("--fetch-missing", action="store_true",
                       help="fetch site files the archive lacks over the network (marked not-as-of-crawl-time)")
    audit.add_argument("--jobs", type=int, metavar="N",
                       help=f"files audited in parallel, each in its own process (default: one per input file, "
                            f"at most the number of CPU cores: {os.cpu_count() or 1} here)")
    return audit


def run(args: argparse.Namespace) -> int:
    """Run `consentry audit`; bad arguments raise `UsageError` (exit 2)."""
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.jobs is not None and args.spark:
        raise UsageError("--jobs and --spark exclude each other (Spark schedules the files)")
    from consentry.crawler.audit.runner import run as run_audit

    return run_audit(args)
