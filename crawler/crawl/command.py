"""`consentry crawl URL… -o DIR`: an in-process Scrapy crawl with every consent component (docs/cli.md).
Writes DIR/items.jsonl, DIR/decisions.jsonl, DIR/crawl.warc.gz (replacing them) and prints a summary: kept /
dropped / skipped, denied-but-kept in tag mode, the "decided by" table, download errors by reason, why the crawl
stopped. The summary goes to stdout, or to stderr when `--json` puts a machine-readable summary on stdout
(the same convention as `demo` and `audit`); `-q` prints none. Exit codes (`consentry.crawler.exitcodes`): 0
finished; 1 stopped early (an output file could not be written, a CLOSESPIDER_* limit); 2 bad input (URL,
`-o`, a `--set` value — checked before the engine starts —, another crawl holds DIR, or with `--redis` an
unreachable Redis or a run this worker may not join — checked before anything is written); 130 interrupted
(Ctrl-C). The arguments, the checks that need no Scrapy and the summary are here; the crawl itself is
`consentry.crawler.crawl.runner.run_crawl` (reused by `consentry demo`), imported only when a crawl runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from consentry.crawler import exitcodes
from consentry.crawler.cli import verbosity
from consentry.crawler.crawl.listargs import (
    add_distributed_arguments,
    add_list_arguments,
    list_overrides,
    list_summary_lines,
    open_list,
)
from consentry.crawler.errors import UsageError
from consentry.crawler.helptext import examples, purposes_epilog, purposes_help
from consentry.policies.combine import resolve
from consentry.policies.settings_table import default
from consentry.policies.vocabulary import Purpose, Verdict

__all__ = [
    "NOT_STARTED",
    "CrawlSummary",
    "LogCounts",
    "add_parser",
    "check_output_dir",
    "check_url",
    "decided_by",
    "deciding_mechanisms",
    "emit",
    "exit_code",
    "max_requests_of",
    "mechanism_table",
    "render_summary",
    "report",
    "run",
    "summarise_log",
    "summary_json",
]

_ACTIONS = ("keep", "drop", "skip")

#: Links read from one page at most by default (`--max-page-links`; `consent/links/capped` counts pages cut there).
MAX_PAGE_LINKS = 10_000
NO_SIGNAL = "(no signal)"
#: `CrawlSummary.finish_reason` of a crawl whose engine never ran (an error at start-up, logged above).
NOT_STARTED = "not started"
_SEVERAL = "several mechanisms together:"


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    """What a crawl produced: counts per action and per deciding mechanism(s), download errors, why it stopped."""

    out_dir: Path
    items: int
    actions: Mapping[str, int]
    by_mechanism: Mapping[str, Mapping[str, int]]  # `decided_by` key -> action -> decisions
    elapsed: float
    stats: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""  # the output write error that stopped the crawl ("" when none)
    denied_kept: int = 0  # kept although a declared purpose was denied (CONSENT_ON_DENY=tag)
    download_errors: Mapping[str, int] = field(default_factory=dict)  # reason -> requests not fetched
    finish_reason: str = "finished"  # Scrapy's: finished, shutdown (Ctrl-C), closespider_*, consent_output_error
    outputs: Sequence[str] = ()

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
        """URLs never requested (robots.txt denied access, or an excluded domain)."""
        return self.actions.get("skip", 0)

    @property
    def interrupted(self) -> bool:
        """The user stopped the crawl (SIGINT: Scrapy's graceful shutdown)."""
        return self.finish_reason == "shutdown"


def deciding_mechanisms(record: Mapping[str, Any]) -> set[str]:
    """The mechanisms whose counted signals gave a declared purpose its final verdict (deny for a drop,
    allow for a keep); for a skip, its access signal's (the record's first signal: `robots`, or
    `excluded-domain` when an exclusion list refused the URL); "(no signal)" when nothing decided."""
    if record.get("action") == "skip":
        signals = record.get("signals") or [{}]
        return {str(signals[0].get("mechanism") or "robots")}
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
    return found or {NO_SIGNAL}


def decided_by(record: Mapping[str, Any]) -> str:
    """One key per decision for the "DECIDED BY" table: its deciding mechanism, or several joined by `+`."""
    return "+".join(sorted(deciding_mechanisms(record)))


def _denied_kept(record: Mapping[str, Any]) -> bool:
    finals = record.get("purposes") or {}
    return record.get("action") == "keep" and any(
        finals.get(p) == "deny" for p in record.get("purposes_declared") or [])


@dataclass
class LogCounts:
    """What a decision log holds: decisions per action, per `decided_by` key and action, denied-but-kept."""

    actions: Counter[str] = field(default_factory=Counter)
    by_mechanism: dict[str, Counter[str]] = field(default_factory=dict)
    denied_kept: int = 0


def summarise_log(path: Path) -> LogCounts:
    """Counts from a decision log; unparsable lines are skipped."""
    counts = LogCounts()
    if not path.exists():
        return counts
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        action = str(record.get("action"))
        counts.actions[action] += 1
        counts.by_mechanism.setdefault(decided_by(record), Counter())[action] += 1
        counts.denied_kept += _denied_kept(record)
    return counts


def _row(label: str, counts: Mapping[str, int]) -> str:
    return f"  {label:<40} {counts.get('keep', 0):>6} {counts.get('drop', 0):>8} {counts.get('skip', 0):>8}"


def mechanism_table(by_mechanism: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The "DECIDED BY" table (crawl, demo and audit summaries), keyed by `decided_by`. Each decision is counted
    once: a row per mechanism that decided alone, one row for the decisions several mechanisms decided together
    (each combination listed under it), "(no signal)", and a total equal to the kept / dropped / skipped counts."""
    single = {k: v for k, v in by_mechanism.items() if "+" not in k and k != NO_SIGNAL}
    several = {k: v for k, v in by_mechanism.items() if "+" in k}
    total: Counter[str] = Counter()
    for counts in by_mechanism.values():
        total.update(counts)
    lines = [f"  {'DECIDED BY':<40} {'KEPT':>6} {'DROPPED':>8} {'SKIPPED':>8}"]
    lines.extend(_row(name, single[name]) for name in sorted(single))
    if several:
        together: Counter[str] = Counter()
        for counts in several.values():
            together.update(counts)
        lines.append(_row(_SEVERAL, together))
        lines.extend(_row("  " + name.replace("+", " + "), several[name]) for name in sorted(several))
    if NO_SIGNAL in by_mechanism:
        lines.append(_row(NO_SIGNAL, by_mechanism[NO_SIGNAL]))
    lines.append(_row("total (each decision once)", total))
    return lines


def _headline(summary: CrawlSummary, command: str) -> str:
    kept = f"kept {summary.kept}"
    if summary.denied_kept:
        kept += f" ({summary.denied_kept} denied, tagged)"
    return (f"consentry {command}: {summary.items} items; {kept}, dropped {summary.dropped}, "
            f"skipped {summary.skipped} ({summary.elapsed:.1f} s)")


def _stop_line(summary: CrawlSummary) -> str | None:
    if summary.interrupted:
        return "  interrupted (Ctrl-C): the outputs hold every decision made until then"
    if summary.finish_reason == NOT_STARTED:
        return "  the crawl did not start (the error is above)"
    if summary.finish_reason not in ("", "finished"):
        return f"  stopped early: {summary.finish_reason}"
    return None


def render_summary(summary: CrawlSummary, command: str = "crawl") -> str:
    """The human summary: totals, the "DECIDED BY" table, download errors by reason, why it stopped, outputs."""
    lines = [_headline(summary, command), *mechanism_table(summary.by_mechanism)]
    if summary.download_errors:
        errors = sorted(summary.download_errors.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.append("  not fetched (download errors): " + ", ".join(f"{n} {reason}" for reason, n in errors))
    stop = _stop_line(summary)
    if stop is not None:
        lines.append(stop)
    outputs = ", ".join(summary.outputs) or f"{summary.out_dir}/items.jsonl, decisions.jsonl, crawl.warc.gz"
    lines.append(f"  output (replaced by each run): {outputs}")
    return "\n".join(lines)


def exit_code(summary: CrawlSummary) -> int:
    """130 interrupted by the user; 1 stopped for another reason than `finished`; else 0."""
    if summary.interrupted:
        return exitcodes.INTERRUPTED
    if summary.error or summary.finish_reason not in ("", "finished"):
        return exitcodes.FINDING
    return exitcodes.OK


def summary_json(summary: CrawlSummary, command: str = "crawl") -> dict[str, Any]:
    """The `--json` summary (schema `consentry.crawl-summary/1`, docs/cli.md)."""
    return {
        "schema": "consentry.crawl-summary/1",
        "command": command,
        "items": summary.items,
        "actions": {action: summary.actions.get(action, 0) for action in _ACTIONS},
        "denied_kept": summary.denied_kept,
        "decided_by": {key: {a: counts.get(a, 0) for a in _ACTIONS}
                       for key, counts in sorted(summary.by_mechanism.items())},
        "download_errors": dict(sorted(summary.download_errors.items())),
        "finish_reason": summary.finish_reason,
        "interrupted": summary.interrupted,
        "error": summary.error or None,
        "outputs": list(summary.outputs),
        "elapsed_s": round(summary.elapsed, 3),
        "exit_code": exit_code(summary),
    }


def emit(text: str, stream: IO[str]) -> None:
    """Print `text` on `stream`; a reader that went away (`| head`) is no error: the rest is discarded."""
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # Python's own flush at exit must not fail again
        os.close(devnull)


def check_url(url: str) -> None:
    """`UsageError` unless `url` is an absolute http(s) URL with a host and a valid port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{url!r} is not an absolute http(s) URL")
    if not parts.hostname:
        raise UsageError(f"{url!r} has no host")
    if port == 0:
        raise UsageError(f"{url!r}: port 0 is not a port a server listens on (1-65535)")


def check_output_dir(out: Path) -> None:
    """`UsageError` unless `out` is (or can be made) a writable directory."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"-o {out}: cannot create the directory ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"-o {out}: the directory is not writable")


def _setting(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--set {value!r}: expected NAME=VALUE")
    return name.strip(), rest


_DESCRIPTION = """\
For a data team: crawl the start URLs' sites (same registrable domain), pages plus the media they
reference, with every consent component on. Each asset is decided (keep, drop, skip) from every signal
its creator and site give; DIR/decisions.jsonl gets one record per decision, DIR/items.jsonl the kept
assets with their verdicts, DIR/crawl.warc.gz every request and response plus the decisions (audit it
with `consentry audit`). A summary of what was kept, dropped and skipped, by the mechanism that decided,
goes to stderr. Any Scrapy or CONSENT_* setting can be given with --set (README "Settings");
--registry FILE sets CONSENT_REGISTRY."""

_EXAMPLES = (
    ("consentry crawl https://example.org/ -o out", "crawl example.org into out/"),
    ("consentry crawl https://example.org/ -o out --purpose ai-input --on-unknown drop",
     "collect for AI input, keeping only what is explicitly allowed"),
    ("consentry crawl https://example.org/ --registry society.db --exclude-list infringing.txt",
     "honour a works registry (CONSENT_REGISTRY) and a list of excluded domains"),
    ("consentry crawl https://example.org/ --depth 0 --max-requests 0 --set DOWNLOAD_DELAY=1",
     "no depth or request limit, one second between requests"),
    ("consentry crawl --redis redis://10.0.0.5:6379/0 --run-id may -o out",
     "one worker of distributed run `may` (seeded by consentry queue push; docs/distributed.md)"),
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `crawl` subcommand to `consentry`'s subparsers."""
    crawl: argparse.ArgumentParser = subparsers.add_parser(
        "crawl", help="crawl sites, keeping only what creators did not withhold", description=_DESCRIPTION,
        epilog=examples(_EXAMPLES, purposes_epilog()))
    crawl.add_argument("urls", nargs="*", metavar="URL", help="start URLs (absolute http(s)); or --urls FILE")
    add_list_arguments(crawl)
    crawl.add_argument("-o", "--output", type=Path, default=Path("consentry-crawl"), metavar="DIR",
                       help="output directory: items.jsonl, decisions.jsonl, crawl.warc.gz")
    crawl.add_argument("--agent", default=default("CONSENT_AGENT"), metavar="TOKEN",
                       help="our product token, matched against robots.txt groups (CONSENT_AGENT)")
    crawl.add_argument("--purpose", action="append", dest="purposes", metavar="P", help=purposes_help())
    crawl.add_argument("--registry", type=Path, metavar="FILE",
                       help="a works registry file (CONSENT_REGISTRY): assets matching a registered work carry "
                            "its creator's terms")
    crawl.add_argument("--exclude-list", action="append", type=Path, default=[], dest="exclude_lists",
                       metavar="FILE", help="never request these domains (one registrable domain or host per line, "
                       "# comments; subdomains included), repeatable; adds to CONSENT_EXCLUDED_DOMAINS")
    crawl.add_argument("--on-deny", choices=("drop", "tag"), default=default("CONSENT_ON_DENY"),
                       help="a declared purpose withheld: drop the asset, or tag it and keep it (CONSENT_ON_DENY)")
    crawl.add_argument("--on-unknown", choices=("keep", "drop"), default=default("CONSENT_ON_UNKNOWN"),
                       help="no signal for a declared purpose: keep (opt-out regime) or drop (opt-in) "
                            "(CONSENT_ON_UNKNOWN)")
    crawl.add_argument("--on-ai-generated", choices=("keep", "tag", "drop"), default=default("CONSENT_ON_AI_GENERATED"),
                       help="assets whose C2PA/IPTC metadata says AI-generated: keep (label recorded), "
                            "tag (tag ai-generated) or drop (CONSENT_ON_AI_GENERATED)")
    crawl.add_argument("--depth", type=int, default=3, metavar="N",
                       help="link depth limit; 0 means unlimited (Scrapy's DEPTH_LIMIT)")
    crawl.add_argument("--max-requests", type=int, default=None, metavar="N",
                       help="stop scheduling after N requests (linked licences and manifests count too); 0 means "
                            f"no limit (default: {DEFAULT_MAX_REQUESTS}; with --urls: no limit)")
    crawl.add_argument("--max-page-links", type=int, default=MAX_PAGE_LINKS, metavar="N",
                       help="links read from one page (the page is streamed: memory stays that of N links)")
    crawl.add_argument("--sitemaps", action="store_true",
                       help="also start from the pages listed in the sitemaps robots.txt names (Sitemap: lines)")
    crawl.add_argument("--set", action="append", type=_setting, default=[], dest="settings", metavar="NAME=VALUE",
                       help="any Scrapy or CONSENT_* setting, repeatable (README \"Settings\")")
    crawl.add_argument("--json", action="store_true",
                       help="print a machine-readable summary on stdout (the human one goes to stderr)")
    add_distributed_arguments(crawl)
    return crawl


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    if args.depth < 0 or (args.max_requests or 0) < 0:
        raise UsageError("--depth and --max-requests must be 0 or more")
    if args.max_page_links < 1:
        raise UsageError("--max-page-links must be 1 or more")
    for url in args.urls:
        check_url(url)
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


def _last_word(summary: CrawlSummary, code: int) -> str | None:
    """The stderr line that says why the exit code is not 0 (None when it is)."""
    if summary.interrupted:
        return "consentry: interrupted"
    if summary.error:
        return f"consentry: error: {summary.error}; the crawl was stopped"
    if summary.finish_reason == NOT_STARTED:
        return "consentry: error: the crawl could not start (the error is above)"
    if code != exitcodes.OK:
        return f"consentry: error: the crawl stopped early ({summary.finish_reason})"
    return None


def report(summary: CrawlSummary, args: argparse.Namespace, *, command: str = "crawl", human: str = "") -> int:
    """Print the summary where the convention puts it and return the exit code: with `--json` the JSON on
    stdout and the human text on stderr, else the human text on stdout; `-q` drops the human text; why the
    exit code is not 0 is always the last line on stderr."""
    code = exit_code(summary)
    json_wanted = bool(getattr(args, "json", False))
    if json_wanted:
        emit(json.dumps(summary_json(summary, command), indent=2), sys.stdout)
    if verbosity(args) >= 0:
        emit(human or render_summary(summary, command), sys.stderr if json_wanted else sys.stdout)
    last = _last_word(summary, code)
    if last is not None:
        emit(last, sys.stderr)
    return code


#: `--max-requests` when not given: a site crawl stops at 500 requests, a URL list is fetched whole.
DEFAULT_MAX_REQUESTS = 500


def max_requests_of(args: argparse.Namespace, *, listed: bool) -> int:
    """The request limit: `--max-requests`, else `DEFAULT_MAX_REQUESTS` in site mode and none (0) with `--urls`."""
    if args.max_requests is not None:
        return int(args.max_requests)
    return 0 if listed else DEFAULT_MAX_REQUESTS


def run(args: argparse.Namespace) -> int:
    """Run `consentry crawl`; bad arguments, output directory or settings raise `UsageError` (exit 2)."""
    if args.redis:
        from consentry.crawler.crawl.distributed import run_worker

        return run_worker(args, _overrides(args))
    overrides = _overrides(args)
    url_list = open_list(args)  # an unusable list is refused before DIR is made
    check_output_dir(args.output)
    from consentry.crawler.crawl.runner import crawl_settings, run_crawl

    try:
        crawl_settings(args.output, overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    max_requests = max_requests_of(args, listed=url_list is not None)
    summary = run_crawl(args.urls, args.output, settings_overrides=overrides, max_requests=max_requests,
                        sitemaps=args.sitemaps, verbosity=verbosity(args), url_list=url_list,
                        dataset=args.dataset or "", shard_size=args.shard_size, max_page_links=args.max_page_links)
    human = "\n".join([render_summary(summary), *list_summary_lines(summary, url_list)])
    return report(summary, args, human=human)
