"""`consentry demo`: serve the bundled demo origins on 127.0.0.1, crawl them, explain every decision; or, with
`--serve`, only serve them until Ctrl-C (`consentry.crawler.demo.serve`).

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
from consentry.crawler.errors import UsageError
from consentry.crawler.helptext import examples

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


_DESCRIPTION = """\
For a newcomer: serve the bundled demo sites (four origins that between them use every consent
mechanism) on 127.0.0.1, crawl them with every consent component on exactly as `consentry crawl` does,
and explain every decision: what was kept, dropped and skipped, and why. No network is needed. With
--serve, nothing is crawled: the sites stay up (on --port N, N+1, N+2, N+3, or free ports) until Ctrl-C,
which ends serving with exit 0, so `consentry check` and `consentry crawl` can be tried against them."""

_EXAMPLES = (
    ("consentry demo", "crawl the demo sites into ./consentry-demo and explain every decision"),
    ("consentry audit consentry-demo/crawl.warc.gz --report audit.html", "then verify that crawl from its archive"),
    ("consentry demo --serve --port 8000", "keep the sites up on ports 8000-8003 until Ctrl-C; in another terminal:"),
    ("consentry check http://127.0.0.1:8001/news/reserved.html", "how the newsroom's signals are read for one page"),
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `consentry demo`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="crawl the bundled demo sites on 127.0.0.1 and explain every decision (--serve: only serve them)",
        description=_DESCRIPTION, epilog=examples(_EXAMPLES))
    parser.add_argument("-o", "--output", type=Path, default=Path("consentry-demo"), metavar="DIR",
                        help="output directory of the crawl: items.jsonl, decisions.jsonl, crawl.warc.gz")
    parser.add_argument("--serve", action="store_true",
                        help="only serve the demo sites, printing their URLs, until Ctrl-C (exit 0); no crawl")
    parser.add_argument("--port", type=int, default=0, metavar="N",
                        help="with --serve: the first site on port N, the others on N+1, N+2, N+3; 0: free ports")
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


def _serve(args: argparse.Namespace) -> int:
    if not args.serve:
        raise UsageError("--port needs --serve (the demo crawl uses free ports)")
    from consentry.crawler.demo.serve import serve

    return serve(args.port)


def _human(summary: CrawlSummary, names: dict[str, str]) -> str:
    decisions = summary.out_dir / "decisions.jsonl"
    explained = explain(decisions, names) if decisions.exists() else "  (no decision log was written)"
    return "\n".join([
        render_summary(summary, "demo"), "", "Every decision (action, URL, reason):", explained, "", _MEANING,
        f"\nInspect: {summary.out_dir}/decisions.jsonl (one consentry.decision/1 record per line), "
        f"items.jsonl, crawl.warc.gz; then try `consentry audit {summary.out_dir}/crawl.warc.gz`.",
    ])


def run(args: argparse.Namespace) -> int:
    """Start the demo origins, crawl them, print the summary and every decision with its reason (`--serve`:
    only serve them, `consentry.crawler.demo.serve`)."""
    if args.serve or args.port:
        return _serve(args)
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
