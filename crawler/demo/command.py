"""`consentry demo`: serve the bundled demo origins on 127.0.0.1, crawl them, explain every decision.

No network is needed: the four origins (see `consentry.crawler.demo.site`) run in this process on free loopback
ports, and the crawl is the same in-process Scrapy crawl as `consentry crawl`. Its output, exit codes and
summary placement are `crawl`'s (`consentry.crawler.crawl.command.report`): the summary and the explanation
on stdout, or on stderr with `--json` (a machine-readable summary on stdout); an output directory that cannot
be written is exit 2 before anything starts, an output file that fails during the crawl exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from consentry.crawler.cli import verbosity
from consentry.crawler.crawl.command import check_output_dir, render_summary, report

if TYPE_CHECKING:
    from consentry.crawler.crawl.command import CrawlSummary
    from consentry.crawler.demo.site import DemoSite

__all__ = ["add_parser", "explain", "run"]

_MEANING = """\
What the actions mean:
  KEEP  fetched and usable for the declared purposes (the item carries the verdicts and evidence)
  DROP  fetched, but a declared purpose was withheld (or a declared source could not be verified);
        no item is produced, the decision and the response are still logged and archived
  SKIP  never requested: robots.txt does not let this crawler fetch it (a 503 robots.txt denies the
        whole origin, as RFC 9309 requires)"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `consentry demo`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="crawl the bundled demo sites on 127.0.0.1 and explain every decision")
    parser.add_argument("-o", "--output", type=Path, default=Path("consentry-demo"),
                        help="output directory (default: ./consentry-demo)")
    parser.add_argument("--json", action="store_true",
                        help="print a machine-readable summary on stdout (the explanation goes to stderr)")
    return parser


def _origin_names(demo: DemoSite) -> dict[str, str]:
    return {server.origin: name for name, server in demo.servers.items()}


def explain(decisions_path: Path, names: dict[str, str]) -> str:
    """One line per decision, grouped by demo origin, in the order the crawl made them."""
    groups: dict[str, list[str]] = {}
    for line in decisions_path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        parts = urlsplit(record["url"])
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        groups.setdefault(origin, []).append(f"    {record['action'].upper():<5} {path:<34} {record['reason']}")
    out = []
    for origin, lines in groups.items():
        out.append(f"  {names.get(origin, origin)} ({origin})")
        out.extend(lines)
    return "\n".join(out)


def _human(summary: CrawlSummary, names: dict[str, str]) -> str:
    decisions = summary.out_dir / "decisions.jsonl"
    explained = explain(decisions, names) if decisions.exists() else "  (no decision log was written)"
    return "\n".join([
        render_summary(summary, "demo"), "", "Every decision (action, URL, reason):", explained, "", _MEANING,
        f"\nInspect: {summary.out_dir}/decisions.jsonl (one consentry.decision/1 record per line), "
        f"items.jsonl, crawl.warc.gz; then try `consentry audit {summary.out_dir}/crawl.warc.gz`.",
    ])


def run(args: argparse.Namespace) -> int:
    """Start the demo origins, crawl them, print the summary and every decision with its reason."""
    check_output_dir(args.output)  # before anything heavy is imported or started
    from consentry.crawler.crawl.runner import run_crawl
    from consentry.crawler.demo.site import start_demo

    demo = start_demo()
    try:
        if verbosity(args) >= 0:
            print(f"consentry demo: serving {len(demo.servers)} origins on 127.0.0.1; crawling...", file=sys.stderr)
        summary = run_crawl(demo.start_urls, args.output, verbosity=verbosity(args))
    finally:
        demo.stop()
    return report(summary, args, command="demo", human=_human(summary, _origin_names(demo)))
