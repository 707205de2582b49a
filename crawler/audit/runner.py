"""The work of `consentry audit`: stream each WARC through `consentry.crawler.audit.replay`, tally the results.

Files are audited in parallel, one process each; the summary table, the JSON array of per-record results and the
HTML report are built from the per-file `FileOutcome`s. Imported by `consentry.crawler.audit.command` only when an
audit runs (the WARC readers and the replay are not needed to declare the command's arguments).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from consentry.crawler.audit.readers.archive import UnusableArchive, WarcReader
from consentry.crawler.audit.records import authority
from consentry.crawler.audit.replay import Replayer
from consentry.crawler.audit.result import AuditOptions, RecordResult
from consentry.crawler.crawl.command import mechanism_table
from consentry.crawler.errors import UsageError
from consentry.policies.config import PolicyConfig

__all__ = ["FileOutcome", "audit_file", "audit_files", "render_summary", "run"]

_MAX_LISTED = 10_000


@dataclass
class FileOutcome:
    """What auditing one WARC found: counters for the summary and report, the mismatches, a JSON-lines file."""

    path: str
    error: str | None = None
    records: int = 0
    archived: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    by_mechanism: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_site: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_minute: Counter[tuple[str, str]] = field(default_factory=Counter)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    mismatch_count: int = 0
    unverifiable: int = 0
    undecided: int = 0
    denied_fetched: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    json_path: str | None = None


class _Tally:
    """Counts each `RecordResult` and appends it to the JSON-lines file (nothing else is kept per record)."""

    def __init__(self, outcome: FileOutcome, sink: IO[str] | None) -> None:
        from consentry.crawler.crawl.command import deciding_mechanisms
        from consentry.crawler.spiders.assets import site_of

        self.outcome, self.sink = outcome, sink
        self.name = Path(outcome.path).name
        self.mechanisms = deciding_mechanisms
        self.site_of = lru_cache(maxsize=4096)(site_of)  # called with a URL's scheme://authority only

    def add(self, result: RecordResult) -> None:
        out = self.outcome
        out.records += 1
        record = result.replayed_record() or {"action": "none"}
        action = str(record["action"])
        out.actions[action] += 1
        if result.replayed is not None:
            out.by_mechanism.update((m, action) for m in self.mechanisms(record))
        out.by_site[(self.site_of(authority(result.url)) or "(no host)", action)] += 1
        out.by_minute[(result.date[:16], action)] += 1
        out.archived += result.archived is not None
        out.unverifiable += result.unverifiable
        out.undecided += result.archived is None and result.undecided
        out.denied_fetched += result.denied_fetched
        if result.match is False:
            out.mismatch_count += 1
            if len(out.mismatches) < _MAX_LISTED:
                out.mismatches.append(
                    {
                        "url": result.url,
                        "warc_record_id": result.warc_record_id,
                        "warc": self.name,
                        "archived_action": (result.archived or {}).get("action"),
                        "replayed_action": action,
                        "differences": result.differences,
                    }
                )
        if self.sink is not None:
            self.sink.write(json.dumps(result.to_json(self.name), ensure_ascii=False) + "\n")


def _progress(reader: WarcReader, started: float, last: list[float]) -> None:
    now = time.monotonic()
    if now - last[0] < 1.0 or not reader.size:
        return
    last[0] = now
    share = 100 * reader.position / reader.size
    print(
        f"\rconsentry audit: {reader.path.name} {share:3.0f}% ({reader.records} records, "
        f"{now - started:.0f} s)",
        end="",
        file=sys.stderr,
        flush=True,
    )


def audit_file(
    path: str, options: AuditOptions, *, want_json: bool = False, progress: bool = False
) -> FileOutcome:
    """Audit one WARC; an unusable file gives an outcome with `error` set (never raises for bad input)."""
    outcome = FileOutcome(path)
    config = options.config or PolicyConfig()
    reader = WarcReader(Path(path), body_cap=options.body_cap or config.c2pa_max_bytes + 1)
    sink = (
        tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8")  # noqa: SIM115 - closed in the finally below
        if want_json
        else None
    )
    fetcher = None
    if options.fetch_missing:
        from consentry.crawler.check.sources import HttpSource

        fetcher = HttpSource(config.agent)
    replayer = Replayer(options, _Tally(outcome, sink).add, fetcher)
    started = time.monotonic()
    last = [started]
    try:
        for batch in reader.batches():
            for item in batch:
                replayer.feed(item)
            if progress:
                _progress(reader, started, last)
        replayer.finish()
    except UnusableArchive as exc:
        outcome.error = str(exc)
    finally:
        replayer.close()
        if fetcher is not None:
            fetcher.close()
        if sink is not None:
            sink.close()
            outcome.json_path = sink.name
        if progress:
            print(file=sys.stderr)
    outcome.stats, outcome.notes = dict(replayer.stats), replayer.notes[:100]
    return outcome


def audit_files(
    paths: Sequence[str], options: AuditOptions, *, jobs: int, want_json: bool = False, progress: bool = False
) -> list[FileOutcome]:
    """Audit every file, `jobs` at a time in worker processes (in this process when `jobs` is 1)."""
    if jobs <= 1 or len(paths) <= 1:
        return [audit_file(p, options, want_json=want_json, progress=progress) for p in paths]
    # spawn, not fork: the c2pa native library's state does not survive a fork of a process that used it.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(audit_file, p, options, want_json=want_json, progress=False) for p in paths]
        outcomes = []
        for index, future in enumerate(futures, 1):
            outcomes.append(future.result())
            if progress:
                print(f"consentry audit: {index}/{len(paths)} files done", file=sys.stderr)
        return outcomes


def render_summary(outcomes: Sequence[FileOutcome], *, overridden: bool = False) -> str:
    """The summary table: records, would-be actions, by mechanism, mismatches, unverifiable records."""
    good = [o for o in outcomes if o.error is None]
    actions: Counter[str] = sum((o.actions for o in good), Counter())
    mechanisms: Counter[tuple[str, str]] = sum((o.by_mechanism for o in good), Counter())
    mismatches = sum(o.mismatch_count for o in good)
    lines = [
        f"consentry audit: {len(good)} WARC file(s), {sum(o.records for o in good)} decisions replayed "
        f"({sum(o.archived for o in good)} with an archived decision)",
        f"  would-be: kept {actions['keep']}, dropped {actions['drop']}, skipped {actions['skip']}",
        f"  mismatches: {mismatches}; unverifiable records: {sum(o.unverifiable for o in good)}; "
        f"responses without an archived decision: {sum(o.undecided for o in good)}; "
        f"fetched although robots.txt denied: {sum(o.denied_fetched for o in good)}",
    ]
    by_mechanism: dict[str, dict[str, int]] = {}
    for (mechanism, action), count in mechanisms.items():
        by_mechanism.setdefault(mechanism, {})[action] = count
    lines.extend(mechanism_table(by_mechanism))
    if overridden:
        lines.append(
            "  policy overridden by --agent/--purpose: differences from the archived decisions are expected"
        )
    for outcome in good:
        lines.extend(f"  note: {outcome.path}: {n}" for n in outcome.notes[:5])
        for item in outcome.mismatches[:200]:
            lines.append(
                f"  MISMATCH {item['url']} ({item['warc']} {item['warc_record_id']}): "
                f"archived {item['archived_action']}, replay {item['replayed_action']}"
            )
            lines.extend(f"      {d}" for d in item["differences"][:20])
    return "\n".join(lines)


def _options(args: argparse.Namespace) -> AuditOptions:
    config = None
    if args.agent or args.purposes:
        values: dict[str, object] = {"CONSENT_AGENT": args.agent or "consentry"}
        if args.purposes:
            values["CONSENT_PURPOSES"] = args.purposes
        try:
            config = PolicyConfig.from_settings(values)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    anchors = None
    if args.trust_anchors is not None:
        from consentry.middlewares._config import read_trust_anchors

        try:
            anchors = read_trust_anchors(str(args.trust_anchors))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    registry = None
    if args.registry is not None:
        from consentry.middlewares.adapters.registry import Registry, RegistryError

        try:
            Registry.open(args.registry).close()  # fail fast, naming the file; workers reopen it
        except RegistryError as exc:
            raise UsageError(f"--registry {exc}") from None
        registry = str(args.registry)
    return AuditOptions(config=config, trust_anchors_pem=anchors, fetch_missing=args.fetch_missing,
                        registry_path=registry)


def _write_json(outcomes: Sequence[FileOutcome]) -> None:
    out = sys.stdout
    out.write("[")
    first = True
    for outcome in outcomes:
        if outcome.json_path is None:
            continue
        with open(outcome.json_path, encoding="utf-8") as lines:  # noqa: PTH123
            for line in lines:
                out.write(("\n" if first else ",\n") + line.rstrip("\n"))
                first = False
        os.unlink(outcome.json_path)  # noqa: PTH108
    out.write("\n]\n")


def run(args: argparse.Namespace) -> int:
    """Run `consentry audit`; bad arguments raise `UsageError` (exit 2)."""
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    options = _options(args)
    jobs = args.jobs or min(len(args.warcs), os.cpu_count() or 1)
    outcomes = audit_files(args.warcs, options, jobs=jobs, want_json=args.json, progress=sys.stderr.isatty())
    if args.json:
        _write_json(outcomes)
    summary = render_summary(outcomes, overridden=options.config is not None)
    print(summary, file=sys.stderr if args.json else sys.stdout)
    if args.report is not None:
        from consentry.crawler.audit.report import render_report

        try:
            args.report.write_text(render_report(outcomes), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--report {args.report}: {exc.strerror or exc}") from None
    errors = [o.error for o in outcomes if o.error]
    for error in errors:
        print(f"consentry: error: {error}", file=sys.stderr)
    if errors:
        return 2
    return 1 if any(o.mismatch_count for o in outcomes) else 0
