"""`consentry report DIR`: the compliance report of one crawl (README "Compliance", docs/cli.md).

Built from DIR/decisions.jsonl and DIR/crawl.warc.gz by `consentry.crawler.report.compliance`; the audit is
`consentry audit`'s own replay (`consentry.crawler.audit.runner.audit_files`), so its numbers are the ones
`consentry audit` prints (`--no-audit` reports "not audited" with the command to run). Output: a summary on
stdout, or with `--json` only the JSON report; `--html FILE` writes one self-contained page. Exit 0 when a report
was made (whatever it shows), 2 when DIR holds nothing usable (one line naming what is missing).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from consentry.crawler.errors import UsageError
from consentry.crawler.helptext import examples

__all__ = ["add_parser", "render_summary", "run"]


_DESCRIPTION = """\
For a data team: what one crawl did about the EU GPAI Code of Practice's crawling measures, from the
crawl's own DIR/decisions.jsonl and DIR/crawl.warc.gz (or every worker's RUN.WORKER.decisions.jsonl and
RUN.WORKER.crawl.warc.gz of a distributed run, each URL counted once): the crawler's identity, the policy
and its version, decisions kept, dropped and skipped, per protocol how many assets it applied to and
decided, excluded domains hit, access-restricted responses, unverifiable sources, and the audit
(`consentry audit`'s own replay of the WARCs). A summary goes to stdout (--json: only the JSON report, schema
consentry.compliance-report/1); --html FILE writes one self-contained page. Exit 0 when a report was made,
whatever it shows; 2 when DIR holds nothing usable."""

_EXAMPLES = (
    ("consentry report consentry-demo", "the report of the demo's crawl"),
    ("consentry report out --html report.html", "also as one self-contained HTML page"),
    ("consentry report out --json --no-audit", "the JSON report, without replaying the WARC"),
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `consentry report`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="the compliance report of a crawl: identity, policy, protocols, exclusions, audit",
        description=_DESCRIPTION, epilog=examples(_EXAMPLES))
    parser.add_argument("directory", type=Path, metavar="DIR", help="a crawl output (consentry crawl -o DIR, or the -o DIR of a distributed run's workers)")
    parser.add_argument("--json", action="store_true", help="print only the JSON report on stdout")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the report as one self-contained HTML page")
    parser.add_argument("--no-audit", action="store_true",
                        help="do not replay the WARC (the report then says how to audit)")
    return parser


def render_summary(report: dict[str, Any]) -> str:
    """A few lines for a person: totals, protocols that applied, exclusions, restrictions, audit."""
    decisions, audit = report["decisions"], report["audit"]
    lines = [f"consentry report: {report['directory']}: {decisions['total']} decisions; kept {decisions['keep']}, "
             f"dropped {decisions['drop']}, skipped {decisions['skip']}"
             + (f" (each URL once, by its latest attempt: {decisions['superseded_attempts']} earlier attempts left "
                "out)" if decisions.get("superseded_attempts") else ""),
             f"  {'PROTOCOL':<40} {'ASSETS':>7} {'DECIDED':>8}"]
    lines += [f"  {row['protocol']:<40} {row['assets']:>7} {row['decided']:>8}"
              for row in report["protocols"] if row["assets"]]
    lines.append(f"  excluded domains: {report['excluded_domains']['listed']} listed, "
                 f"{report['excluded_domains']['skipped']} URLs skipped; access-restricted responses: "
                 f"{report['access_restricted']['total']}; unverifiable decisions: "
                 f"{report['unverifiable']['decisions']}")
    lines.append(f"  audit: {audit['status']}" + (f" ({audit['mismatches']} mismatches of "
                 f"{audit['decisions_replayed']} replayed)" if "mismatches" in audit else "")
                 + (f"; run: {audit['command']}" if audit["status"] == "not audited" and audit["command"] else ""))
    lines += [f"  problem: {p}" for p in report["problems"][:20]]
    lines += ["", "Crawler information (to publish):", *textwrap.wrap(report["crawler_information"], 100)]
    return "\n".join(lines)


def _audit(warcs: list[Path], enabled: bool) -> Any:
    """One `consentry audit` run over every WARC of the crawl (a distributed run's workers' together, so that
    site files captured by one worker serve the others' responses)."""
    if not warcs or not enabled:
        return None
    from consentry.crawler.audit.result import AuditOptions
    from consentry.crawler.audit.runner import audit_files

    return audit_files([str(w) for w in warcs], AuditOptions(), jobs=1)


def run(args: argparse.Namespace) -> int:
    """Run `consentry report`; a directory with nothing usable is a `UsageError` (exit 2)."""
    from consentry.crawler.report.compliance import CrawlOutputError, build_report, load_crawl

    try:
        output = load_crawl(args.directory)
    except CrawlOutputError as exc:
        raise UsageError(str(exc)) from None
    report = build_report(output, _audit(output.warcs, not args.no_audit))
    if args.html is not None:
        from consentry.crawler.report.page import render_html

        try:
            args.html.write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--html {args.html}: {exc.strerror or exc}") from None
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        print(render_summary(report))
    return 0
