"""`consentry crawl URL… -o DIR`: an in-process Scrapy crawl with every consent component (docs/cli.md).
Writes DIR/items.jsonl, DIR/decisions.jsonl, DIR/crawl.warc.gz; prints a summary (kept / dropped / skipped,
by mechanism) on stderr. Exit 2 when another crawl holds DIR (its lock, `consentry.crawler.crawl.outlock`),
1 when an output file could not be written (the crawl is stopped; nothing unlogged is applied). The arguments and the summary are declared here without Scrapy; the crawl itself is `consentry.crawler.crawl.runner.run_crawl` (reused by `consentry demo`), imported
only when a crawl runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consentry.crawler.crawl.listargs import add_list_arguments, list_overrides, open_list, print_list_summary
from consentry.crawler.errors import UsageError
from consentry.policies.combine import resolve
from consentry.policies.settings_table import default
from consentry.policies.vocabulary import Purpose, Verdict

__all__ = [
    "CrawlSummary",
    "add_parser",
    "deciding_mechanisms",
    "mechanism_table",
    "render_summary",
    "run",
    "summarise_log",
]

_ACTIONS = ("keep", "drop", "skip")


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    """What a crawl produced: counts per action, per mechanism and action, output paths, Scrapy stats."""

    out_dir: Path
    items: int
    actions: Mapping[str, int]
    by_mechanism: Mapping[str, Mapping[str, int]]
    elapsed: float
    stats: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""  # the output write error that stopped the crawl ("" when none)

    @property
    def kept(self) -> int:
        """Decisions that kept the asset."""
        return self.actions.get("keep", 0)

    @property
    def dropped(self) -> int:
        """Fetched assets whose creators withheld a declared purpose (or that were unverifiable)."""
        return self.actions.get("drop", 0)

    @property
    def skipped(self) -> int:
        """URLs never requested (robots.txt denied access)."""
        return self.actions.get("skip", 0)


def deciding_mechanisms(record: Mapping[str, Any]) -> set[str]:
    """The mechanisms whose counted signals gave a declared purpose its final verdict (deny for a drop,
    allow for a keep); `robots` for a skip; "(no signal)" when nothing decided."""
    if record.get("action") == "skip":
        return {"robots"}
    finals = record.get("purposes") or {}
    found: set[str] = set()
    for signal in record.get("signals") or []:
        if not signal.get("counted", True) or not signal.get("statement"):
            continue
        try:
            statement = {Purpose(p): Verdict(v) for p, v in signal["statement"].items()}
        except ValueError:
            continue
        resolved = resolve(statement, hierarchical=bool(signal.get("hierarchical")))
        for purpose in record.get("purposes_declared") or []:
            final = finals.get(purpose)
            if final in ("allow", "deny") and resolved.get(Purpose(purpose)) is Verdict(final):
                found.add(str(signal["mechanism"]))
    return found or {"(no signal)"}


def summarise_log(path: Path) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """Counts per action and per (mechanism, action) from a decision log; unparsable lines are skipped."""
    actions: Counter[str] = Counter()
    by_mechanism: dict[str, Counter[str]] = {}
    if not path.exists():
        return actions, by_mechanism
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        action = str(record.get("action"))
        actions[action] += 1
        for mechanism in deciding_mechanisms(record):
            by_mechanism.setdefault(mechanism, Counter())[action] += 1
    return actions, by_mechanism


def mechanism_table(by_mechanism: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The "DECIDED BY" table (crawl and audit summaries): one row per mechanism that decided something."""
    lines = [f"  {'DECIDED BY':<30} {'KEPT':>6} {'DROPPED':>8} {'SKIPPED':>8}"]
    for mechanism in sorted(by_mechanism):
        counts = by_mechanism[mechanism]
        lines.append(
            f"  {mechanism:<30} {counts.get('keep', 0):>6} {counts.get('drop', 0):>8} "
            f"{counts.get('skip', 0):>8}"
        )
    return lines


def render_summary(summary: CrawlSummary) -> str:
    """The stderr table: totals, then one row per mechanism that decided something."""
    lines = [
        f"consentry crawl: {summary.items} items; kept {summary.kept}, dropped {summary.dropped}, "
        f"skipped {summary.skipped} ({summary.elapsed:.1f} s)",
        *mechanism_table(summary.by_mechanism),
    ]
    errors = {
        k.rsplit("/", 1)[-1]: v
        for k, v in summary.stats.items()
        if k.startswith("downloader/exception_type_count/") and not k.endswith(".IgnoreRequest")
    }
    if errors:
        lines.append(
            "  not fetched (download errors): " + ", ".join(f"{n} {e}" for e, n in sorted(errors.items()))
        )
    lines.append(f"  output: {summary.out_dir}/items.jsonl, decisions.jsonl, crawl.warc.gz")
    return "\n".join(lines)


def _setting(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--set {value!r}: expected NAME=VALUE")
    return name.strip(), rest


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `crawl` subcommand to `consentry`'s subparsers."""
    crawl: argparse.ArgumentParser = subparsers.add_parser(
        "crawl", help="crawl sites, keeping only what creators did not withhold"
    )
    crawl.add_argument("urls", nargs="*", metavar="URL")
    add_list_arguments(crawl)
    crawl.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("consentry-crawl"),
        metavar="DIR",
        help="output directory (default: ./consentry-crawl)",
    )
    crawl.add_argument("--agent", default=default("CONSENT_AGENT"), help="our product token (default: %(default)s)")
    crawl.add_argument(
        "--purpose",
        action="append",
        dest="purposes",
        metavar="P",
        help="declared purpose, repeatable (default: ai-train)",
    )
    crawl.add_argument("--registry", type=Path, metavar="FILE",
                       help="a works registry: assets matching a registered work carry its creator's terms")
    crawl.add_argument("--exclude-list", action="append", type=Path, default=[], dest="exclude_lists",
                       metavar="FILE", help="never request these domains (one registrable domain or host per line, "
                       "# comments; subdomains included), repeatable; adds to CONSENT_EXCLUDED_DOMAINS")
    crawl.add_argument("--on-deny", choices=("drop", "tag"), default=default("CONSENT_ON_DENY"))
    crawl.add_argument("--on-unknown", choices=("keep", "drop"), default=default("CONSENT_ON_UNKNOWN"))
    crawl.add_argument("--on-ai-generated", choices=("keep", "tag", "drop"), default=default("CONSENT_ON_AI_GENERATED"),
                       help="assets whose C2PA/IPTC metadata says AI-generated: keep (label recorded), "
                            "tag (tag ai-generated) or drop (default keep)")
    crawl.add_argument("--depth", type=int, default=3, metavar="N", help="link depth limit (default 3)")
    crawl.add_argument(
        "--max-requests",
        type=int,
        default=None,
        metavar="N",
        help="stop scheduling after N requests (default 500, with --urls no limit; 0: no limit)",
    )
    crawl.add_argument(
        "--set",
        action="append",
        type=_setting,
        default=[],
        dest="settings",
        metavar="NAME=VALUE",
        help="any Scrapy or CONSENT_* setting, repeatable",
    )
    return crawl


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    if args.depth < 0 or (args.max_requests or 0) < 0:
        raise UsageError("--depth and --max-requests must be 0 or more")
    for url in args.urls:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{url!r} is not an absolute http(s) URL")
    values: dict[str, Any] = {
        "CONSENT_AGENT": args.agent,
        "CONSENT_ON_DENY": args.on_deny,
        "CONSENT_ON_UNKNOWN": args.on_unknown,
        "CONSENT_ON_AI_GENERATED": args.on_ai_generated,
        "DEPTH_LIMIT": args.depth,
    }
    if args.purposes:
        values["CONSENT_PURPOSES"] = args.purposes
    if args.registry is not None:
        values["CONSENT_REGISTRY"] = str(args.registry)
    values.update(list_overrides(args))
    values.update(dict(args.settings))
    if args.exclude_lists:  # absolute paths: read as list files, never as domain names
        given = values.get("CONSENT_EXCLUDED_DOMAINS") or []
        given = [v for v in given.split(",") if v.strip()] if isinstance(given, str) else list(given)
        values["CONSENT_EXCLUDED_DOMAINS"] = [*given, *(str(p.absolute()) for p in args.exclude_lists)]
    return values


def run(args: argparse.Namespace) -> int:
    """Run `consentry crawl`; bad arguments or settings raise `UsageError`."""
    overrides = _overrides(args)
    url_list = open_list(args)
    from consentry.crawler.crawl.runner import crawl_settings, run_crawl

    try:
        crawl_settings(args.output, overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    max_requests = args.max_requests if args.max_requests is not None else (0 if url_list else 500)
    summary = run_crawl(args.urls, args.output, settings_overrides=overrides, max_requests=max_requests,
                        url_list=url_list, dataset=args.dataset or "", shard_size=args.shard_size)
    print(render_summary(summary), file=sys.stderr)
    print_list_summary(summary, url_list)
    if summary.error:
        print(f"consentry: error: {summary.error}; the crawl was stopped", file=sys.stderr)
        return 1
    return 0
