"""The work of `consentry audit` (docs/cli.md): index every input, stream each WARC through the replay, tally.

Imported by `consentry.crawler.audit.command` only when an audit runs (the WARC readers and the replay are not
needed to declare the command's arguments). Inputs are files, directories, globs and `--files-from` lists. A first pass indexes the documents decisions
need across every input (`consentry.crawler.audit.index`, SQLite in a temporary directory); then each WARC
streams through `consentry.crawler.audit.replay` (files in parallel, one process each, or Spark jobs with
`--spark`); output is a summary table, or with `--json` only a JSON array of per-record results on stdout, and
optionally `--report` HTML. Exit 0 every archived decision reproduced and nothing unverifiable, 1 otherwise,
2 unusable input (one line naming the file; the other files are still audited).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing
import os
import pickle
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from consentry.crawler.audit.index import ArchiveIndex, Row, index_file, second_rows
from consentry.crawler.audit.readers.archive import UnusableArchive, WarcReader
from consentry.crawler.audit.records import authority, reason
from consentry.crawler.audit.replay import Replayer
from consentry.crawler.audit.result import AuditOptions, RecordResult
from consentry.crawler.cli import verbosity
from consentry.crawler.crawl.command import emit, mechanism_table
from consentry.crawler.errors import UsageError
from consentry.policies.config import PolicyConfig
from consentry.policies.record import run_attempt, run_id

__all__ = [
    "FileOutcome",
    "audit_file",
    "audit_files",
    "build_index",
    "expand_inputs",
    "render_summary",
    "run",
]

_MAX_LISTED = 10_000
_MAX_HOSTS = 1_000
_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".warc.open", ".warc.gz.open")


@dataclass
class FileOutcome:
    """What auditing one WARC found: counters for the summary and report, the mismatches, a JSON-lines file."""

    path: str
    error: str | None = None
    records: int = 0
    archived: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    by_mechanism: Counter[tuple[str, str]] = field(default_factory=Counter)  # mechanism mentions (report)
    by_decider: Counter[tuple[str, str]] = field(default_factory=Counter)  # each decision once (summary)
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
    json_text: str | None = None  # the JSON lines themselves, when audited on another machine (Spark)
    foreign: bool = False
    unverified_access: int = 0
    lacking: dict[str, list[str]] = field(default_factory=dict)  # site file → hosts whose capture is absent
    unverifiable_list: list[dict[str, Any]] = field(default_factory=list)
    unverifiable_reasons: Counter[str] = field(default_factory=Counter)
    unconfirmed: int = 0  # unverifiable records no reproduced archived decision vouches for
    redecided: int = 0  # archived records of a distributed run decided again after a worker died (run.attempt > 1)
    # (run.id, URL) -> highest run.attempt > 1 (at most _MAX_REPEATS)
    repeats: dict[tuple[str, str], int] = field(default_factory=dict)
    run_ids: set[str] = field(default_factory=set)  # the run.ids of the file's distributed-run records (two at most)
    # "attempt<TAB>run.id<TAB>would-be action<TAB>URL" of every record of a distributed run (a file, or its text
    # from Spark); a response archived without its decision (attempt 0) has no run.id of its own: ""
    ledger_path: str | None = None
    ledger_text: str | None = None


class _Tally:
    """Counts each `RecordResult` and appends it to the JSON-lines file (nothing else is kept per record)."""

    def __init__(self, outcome: FileOutcome, sink: IO[str] | None) -> None:
        from consentry.crawler.crawl.command import deciding_mechanisms
        from consentry.crawler.spiders.assets import site_of

        self.outcome, self.sink = outcome, sink
        self.ledger: IO[str] | None = None
        self.name = Path(outcome.path).name
        self.mechanisms = deciding_mechanisms
        self.site_of = lru_cache(maxsize=4096)(site_of)  # called with a URL's scheme://authority only

    def _run_record(self, run: str, attempt: int, action: str, url: str) -> None:
        """A record of a distributed run: counted, and kept in the ledger that counts each URL once per run."""
        out = self.outcome
        if len(out.run_ids) < 2:  # whether the file names one run is all that is asked of it (memory stays flat)
            out.run_ids.add(run)
        if attempt > 1:
            out.redecided += 1
            key = (run, url)
            if len(out.repeats) < _MAX_REPEATS or key in out.repeats:
                out.repeats[key] = max(attempt, out.repeats.get(key, 0))
        self._ledger_line(attempt, run, action, url)

    def _ledger_line(self, attempt: int, run: str, action: str, url: str) -> None:
        if self.ledger is None:
            self.ledger = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by close()
                "w", suffix=".run", delete=False, encoding="utf-8")
        self.ledger.write(f"{attempt}\t{run}\t{action}\t{url}\n")

    def close(self, *, inline: bool) -> None:
        """Close the ledger; with `inline` its text moves into the outcome (an audit on another machine)."""
        if self.ledger is None:
            return
        self.ledger.close()
        if inline:
            self.outcome.ledger_text = _taken_inline(self.ledger.name)
        else:
            self.outcome.ledger_path = self.ledger.name

    def add(self, result: RecordResult) -> None:
        out = self.outcome
        out.records += 1
        record = result.replayed_record() or {"action": "none"}
        action = str(record["action"])
        out.actions[action] += 1
        if result.replayed is not None:
            mechanisms = self.mechanisms(record)
            for mechanism in mechanisms:
                out.by_mechanism[(mechanism, action)] += 1
            out.by_decider[("+".join(sorted(mechanisms)), action)] += 1  # `decided_by`, computed once
        host = authority(result.url)
        out.by_site[(self.site_of(host) or "(no host)", action)] += 1
        out.by_minute[(result.date[:16], action)] += 1
        out.archived += result.archived is not None
        if isinstance(result.archived, dict) and "run" in result.archived:
            self._run_record(*_run_and_attempt(result.archived), action, result.url)
        elif result.archived is None and result.undecided:  # attempt 0: a response no decision was archived for
            self._ledger_line(0, "", action, result.url)    # (a worker died in between; its URL was leased again)
        out.unverifiable += result.unverifiable
        out.unconfirmed += result.unverifiable and result.match is not True
        out.unverified_access += result.unverified_access
        for name in result.not_archived:
            hosts = out.lacking.setdefault(name, [])
            if len(hosts) < _MAX_HOSTS and host not in hosts:
                hosts.append(host)
        if result.unverifiable:
            out.unverifiable_reasons[_reason_kind(result.notes[0]) if result.notes else "(no note)"] += 1
            if len(out.unverifiable_list) < _MAX_LISTED:
                out.unverifiable_list.append({"url": result.url, "warc_record_id": result.warc_record_id,
                                              "warc": self.name, "notes": result.notes[:10]})
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


@lru_cache(maxsize=1)
def _freeze_once() -> None:
    """Move what this process holds before its first audit (imported modules, their tables) out of the garbage
    collector's full passes, once: each pass would otherwise walk all of it (tens of ms) while records stream."""
    gc.freeze()


def _reason_kind(note: str) -> str:
    """A note without its URL and numbers: what kind of reason it is, for counting."""
    words = [w for w in note.split() if "://" not in w and not any(c.isdigit() for c in w)]
    return " ".join(words)[:100]


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
    path: str,
    options: AuditOptions,
    *,
    want_json: bool = False,
    progress: bool = False,
    index_path: str | None = None,
    ours: bool | None = None,
    inline_json: bool = False,
) -> FileOutcome:
    """Audit one WARC (with the first pass's index when given); an unusable file gives an outcome with
    `error` set (never raises: one bad file never costs the others their results)."""
    _freeze_once()
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
    index = ArchiveIndex(Path(index_path)) if index_path else None
    tally = _Tally(outcome, sink)
    replayer = Replayer(options, tally.add, fetcher, index=index, ours=ours)
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
    except Exception as exc:
        outcome.error = f"{path}: unreadable ({reason(exc)})"
    finally:
        if sink is not None:
            sink.close()
            outcome.json_path = sink.name
        tally.close(inline=inline_json)
        if index is not None:
            index.close()
        replayer.close()
        if fetcher is not None:
            fetcher.close()
        if progress:
            print(file=sys.stderr)
    outcome.stats, outcome.notes = dict(replayer.stats), replayer.notes[:100]
    outcome.foreign = not replayer.ours
    if inline_json and outcome.json_path is not None:
        outcome.json_text, outcome.json_path = _taken_inline(outcome.json_path), None
    return outcome


def expand_inputs(items: Sequence[str], files_from: Path | None = None) -> list[str]:
    """Files named, found under directories (by WARC/ARC suffix), matched by globs, listed in `files_from`."""
    import glob

    found: list[str] = []
    listed = list(items)
    if files_from is not None:
        try:
            text = files_from.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--files-from {files_from}: {exc.strerror or exc}") from None
        listed += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    for item in listed:
        path = Path(item)
        if path.is_dir():
            inside = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
            if not inside:
                raise UsageError(f"{item}: a directory with no WARC/ARC file")
            found += inside
        elif not path.exists() and any(c in item for c in "*?["):
            matches = sorted(m for m in glob.glob(item, recursive=True) if Path(m).is_file())  # noqa: PTH207
            if not matches:
                raise UsageError(f"{item}: no file matches")
            found += matches
        else:
            found.append(item)
    return list(dict.fromkeys(found))


def _caps(options: AuditOptions) -> dict[str, Any]:
    config = options.config or PolicyConfig()
    return {"body_cap": options.body_cap or config.c2pa_max_bytes + 1, "max_bytes": config.max_sitefile_bytes,
            "agent": config.agent}


def _shard(task: tuple[str, Any, dict[str, Any]]) -> str:
    """Run one index task in a worker; its rows pickled to a temporary file (read back by the driver)."""
    kind, argument, caps = task
    rows: Iterator[Row]
    if kind == "first":
        file_id, path = argument
        rows = index_file(path, file_id, **caps)
    else:
        path, keys = argument
        rows = second_rows(path, keys, body_cap=caps["body_cap"], max_bytes=caps["max_bytes"])
    with tempfile.NamedTemporaryFile("wb", suffix=".rows", delete=False) as out:
        batch: list[Row] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 4096:
                pickle.dump(batch, out)
                batch = []
        pickle.dump(batch, out)
        return out.name


def _read_shard(name: str) -> Iterator[Row]:
    with open(name, "rb") as handle:  # noqa: PTH123
        while True:
            try:
                yield from pickle.load(handle)  # noqa: S301 - our own worker's temporary file
            except EOFError:
                break
    os.unlink(name)  # noqa: PTH108


Mapper = Callable[[list[tuple[str, Any, dict[str, Any]]]], Iterator[Row]]


def _local_mapper(jobs: int, pool: ProcessPoolExecutor | None) -> Mapper:
    def run_tasks(tasks: list[tuple[str, Any, dict[str, Any]]]) -> Iterator[Row]:
        if pool is None or len(tasks) <= 1:
            for kind, argument, caps in tasks:
                if kind == "first":
                    yield from index_file(argument[1], argument[0], **caps)
                else:
                    yield from second_rows(argument[0], argument[1], body_cap=caps["body_cap"],
                                           max_bytes=caps["max_bytes"])
            return
        for name in pool.map(_shard, tasks):
            yield from _read_shard(name)
    del jobs
    return run_tasks


def build_index(paths: Sequence[str], directory: Path, options: AuditOptions, mapper: Mapper) -> ArchiveIndex:
    """The first pass over every input (`mapper` runs index tasks: local processes or Spark jobs)."""
    _freeze_once()
    caps = _caps(options)
    index = ArchiveIndex(directory / "index.sqlite", create=True)
    index.merge(mapper([("first", (i, p), caps) for i, p in enumerate(paths)]))
    missing = index.missing()
    if missing:
        index.merge(mapper([("second", (p, keys), caps) for p, keys in sorted(missing.items())]))
    return index


def audit_files(
    paths: Sequence[str],
    options: AuditOptions,
    *,
    jobs: int,
    want_json: bool = False,
    progress: bool = False,
    site_files: Sequence[str] = (),
    report_timings: dict[str, float] | None = None,
) -> list[FileOutcome]:
    """Index every input, then audit every file, `jobs` at a time in worker processes (in this process when
    `jobs` is 1); `site_files` are indexed, not replayed."""
    with tempfile.TemporaryDirectory(prefix="consentry-audit-") as directory:
        pool = (
            # spawn, not fork: the c2pa native library's state does not survive a fork of a process that used it.
            ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
            if jobs > 1 and len(paths) + len(site_files) > 1
            else None
        )
        with pool if pool is not None else contextlib.nullcontext():
            started = time.monotonic()
            index = build_index([*paths, *site_files], Path(directory), options, _local_mapper(jobs, pool))
            entries = index.files()[: len(paths)]
            index.close()
            if report_timings is not None:
                report_timings["index"] = time.monotonic() - started
            index_path = str(Path(directory) / "index.sqlite")
            outcomes = _replay_all(entries, options, pool, index_path, want_json=want_json, progress=progress)
            if report_timings is not None:
                report_timings["total"] = time.monotonic() - started
            return outcomes


def _replay_all(
    entries: Sequence[Any],
    options: AuditOptions,
    pool: ProcessPoolExecutor | None,
    index_path: str,
    *,
    want_json: bool,
    progress: bool,
) -> list[FileOutcome]:
    outcomes: list[FileOutcome] = []
    if pool is None or len(entries) <= 1:
        for entry in entries:
            if entry.error is not None:
                outcomes.append(FileOutcome(entry.path, error=entry.error))
                continue
            outcomes.append(audit_file(entry.path, options, want_json=want_json, progress=progress,
                                       index_path=index_path, ours=entry.ours))
        return outcomes
    futures = [
        None if entry.error is not None else pool.submit(
            audit_file, entry.path, options, want_json=want_json, index_path=index_path, ours=entry.ours)
        for entry in entries
    ]
    for number, (entry, future) in enumerate(zip(entries, futures, strict=True), 1):
        if future is None:
            outcomes.append(FileOutcome(entry.path, error=entry.error))
            continue
        try:
            outcomes.append(future.result())
        except Exception as exc:  # a worker that died: this file's error, the others' results kept
            outcomes.append(FileOutcome(entry.path, error=f"{entry.path}: audit failed ({reason(exc)})"))
        if progress:
            print(f"consentry audit: {number}/{len(entries)} files done", file=sys.stderr)
    return outcomes


def _run_and_attempt(record: Any) -> tuple[str, int]:
    """The `run.id` and `run.attempt` of an archived decision of a distributed crawl (docs/distributed.md); a
    malformed attempt counts as the first."""
    attempt = run_attempt(record)
    return run_id(record), 1 if attempt is None else attempt


#: URLs decided again (run.attempt > 1) remembered per file for counting each URL once; past it, records are counted.
_MAX_REPEATS = 100_000


def once_per_url(outcomes: Sequence[FileOutcome]) -> Counter[str] | None:
    """The would-be actions with each URL of a distributed run counted once per run, by its latest attempt
    (docs/distributed.md "Counting once", keyed by (run.id, URL) like `consentry report`): every record's action,
    minus those of records that a later attempt of the same run at the same URL supersedes (read from the files'
    ledgers). A response archived without its decision is attempt 0, superseded when its URL was decided again in
    its file's run (the one run.id of the file's decisions; a file with none or several: in any run). None when
    more than `_MAX_REPEATS` URLs of one file were decided again (then only records are counted)."""
    latest: dict[tuple[str, str], int] = {}
    latest_any_run: dict[str, int] = {}
    for outcome in outcomes:
        if len(outcome.repeats) >= _MAX_REPEATS:
            return None
        for (run, url), attempt in outcome.repeats.items():
            latest[(run, url)] = max(attempt, latest.get((run, url), 0))
            latest_any_run[url] = max(attempt, latest_any_run.get(url, 0))
    actions: Counter[str] = sum((o.actions for o in outcomes), Counter())
    for outcome in outcomes:
        file_run = next(iter(outcome.run_ids)) if len(outcome.run_ids) == 1 else None
        for line in _lines(outcome.ledger_text, outcome.ledger_path):
            number, run, action, url = line.split("\t", 3)
            if number == "0" and file_run is None:
                superseded = latest_any_run.get(url, 0) > 0
            else:
                superseded = int(number) < latest.get((run or file_run or "", url), 0)
            actions[action] -= superseded
    return actions


def _merged(outcomes: Sequence[FileOutcome]) -> dict[str, Any]:
    lacking: dict[str, list[str]] = {}
    reasons: Counter[str] = Counter()
    for outcome in outcomes:
        reasons.update(outcome.unverifiable_reasons)
        for name, hosts in outcome.lacking.items():
            known = lacking.setdefault(name, [])
            known.extend(h for h in hosts if h not in known and len(known) < _MAX_HOSTS)
    return {"lacking": lacking, "reasons": reasons}


_SITE_FILE_LABELS = {"robots": "/robots.txt", "ai_txt": "/ai.txt", "tdmrep": "/.well-known/tdmrep.json"}


def render_summary(outcomes: Sequence[FileOutcome], *, overridden: bool = False) -> str:
    """The summary table: records, would-be actions, by mechanism, mismatches, unverifiable records and why,
    which archives are foreign and which hosts lack which site file."""
    good = [o for o in outcomes if o.error is None]
    actions: Counter[str] = sum((o.actions for o in good), Counter())
    mechanisms: Counter[tuple[str, str]] = sum((o.by_decider for o in good), Counter())
    mismatches = sum(o.mismatch_count for o in good)
    archived = sum(o.archived for o in good)
    stats: Counter[str] = sum((Counter(o.stats) for o in good), Counter())
    lines = [
        f"consentry audit: {len(good)} WARC file(s), {sum(o.records for o in good)} decisions replayed "
        f"({archived} with an archived decision)",
        f"  would-be: kept {actions['keep']}, dropped {actions['drop']}, skipped {actions['skip']}",
        f"  mismatches: {mismatches}; unverifiable records: {sum(o.unverifiable for o in good)}; "
        f"responses without an archived decision: {sum(o.undecided for o in good)}; "
        f"fetched although robots.txt denied: {sum(o.denied_fetched for o in good)}",
    ]
    redecided = sum(o.redecided for o in good)
    if redecided:
        once = once_per_url(good)
        counted = (f"each URL once (its latest attempt): kept {once['keep']}, dropped {once['drop']}, "
                   f"skipped {once['skip']}" if once is not None else
                   f"more than {_MAX_REPEATS} URLs decided again: the counts above are records")
        lines.append(f"  distributed run: {redecided} records decided again after a worker died (run.attempt > 1); "
                     + counted)
    if not archived:
        lines.append("  no decision was archived: nothing to reproduce, the records above are replays only")
    elif not mismatches:
        lines.append(f"  all {archived} archived decisions reproduced")
    if stats["revisits"]:
        lines.append(f"  revisit records: {stats['revisits']} "
                     f"({stats['revisits without original']} whose original is not in the inputs)")
    lines.extend(f"  foreign archive (not written by consentry): {o.path}" for o in good if o.foreign)
    merged = _merged(good)
    unverified = sum(o.unverified_access for o in good)
    if unverified:
        lines.append(f"  access unverified (robots.txt not archived): {unverified} record(s)")
    for name, hosts in sorted(merged["lacking"].items()):
        shown = ", ".join(hosts[:10]) + (f", … ({len(hosts)} hosts)" if len(hosts) > 10 else "")
        lines.append(f"  not archived: {_SITE_FILE_LABELS.get(name, name)} of {shown}")
    by_mechanism: dict[str, dict[str, int]] = {}
    for (mechanism, action), count in mechanisms.items():
        by_mechanism.setdefault(mechanism, {})[action] = count
    lines.extend(mechanism_table(by_mechanism))
    if overridden:
        lines.append(
            "  policy overridden by --agent/--purpose: differences from the archived decisions are expected"
        )
    for text, count in merged["reasons"].most_common(10):
        lines.append(f"  unverifiable ({count}): {text}")
    for outcome in good:
        lines.extend(f"  note: {outcome.path}: {n}" for n in outcome.notes[:5])
        for item in outcome.unverifiable_list[:20]:
            lines.append(f"  UNVERIFIABLE {item['url']} ({item['warc']} {item['warc_record_id']})")
            lines.extend(f"      {n}" for n in item["notes"][:5])
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
        values: dict[str, object] = {"CONSENT_AGENT": args.agent} if args.agent else {}
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


def _lines(text: str | None, path: str | None) -> Iterator[str]:
    """The lines of a per-file output: its text when it came inline (Spark), else its temporary file."""
    if text is not None:
        yield from text.splitlines()
    elif path is not None:
        with open(path, encoding="utf-8") as lines:  # noqa: PTH123
            yield from (line.rstrip("\n") for line in lines)


def _taken_inline(path: str) -> str:
    """A temporary output file's text, the file removed (the outcome travels to another machine)."""
    text = Path(path).read_text(encoding="utf-8")
    os.unlink(path)  # noqa: PTH108
    return text


def _json_lines(outcome: FileOutcome) -> Iterator[str]:
    return _lines(outcome.json_text, outcome.json_path)


def _write_json(outcomes: Sequence[FileOutcome]) -> None:
    out = sys.stdout
    out.write("[")
    first = True
    for outcome in outcomes:
        for line in _json_lines(outcome):
            out.write(("\n" if first else ",\n") + line)
            first = False
    out.write("\n]\n")


def _cleanup(outcomes: Sequence[FileOutcome]) -> None:
    for outcome in outcomes:
        for path in (outcome.json_path, outcome.ledger_path):
            if path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(path)  # noqa: PTH108


def run(args: argparse.Namespace) -> int:
    """Run `consentry audit` (arguments checked by `consentry.crawler.audit.command.run`); bad input raises
    `UsageError` (exit 2)."""
    options = _options(args)
    paths = expand_inputs(args.warcs, args.files_from)
    if not paths:
        raise UsageError("no WARC to audit: name files, directories, globs or --files-from")
    site_files = [p for p in expand_inputs(args.site_files) if p not in paths]
    want_rows = args.json or args.report is not None
    if args.spark:
        from consentry.crawler.audit.spark import spark_audit

        outcomes = spark_audit(args.spark, paths, options, want_json=want_rows, site_files=site_files)
    else:
        jobs = args.jobs or min(len(paths) + len(site_files), os.cpu_count() or 1)
        outcomes = audit_files(paths, options, jobs=jobs, want_json=want_rows, progress=sys.stderr.isatty(),
                               site_files=site_files)
    try:
        if args.json:
            _write_json(outcomes)
        if verbosity(args) >= 0:  # -q: no summary
            summary = render_summary(outcomes, overridden=options.config is not None)
            emit(summary, sys.stderr if args.json else sys.stdout)
        if args.report is not None:
            from consentry.crawler.audit.report import render_report

            try:
                args.report.write_text(
                    render_report(outcomes, overridden=options.config is not None, rows=_json_lines),
                    encoding="utf-8",
                )
            except OSError as exc:
                raise UsageError(f"--report {args.report}: {exc.strerror or exc}") from None
    finally:
        _cleanup(outcomes)
    errors = [o.error for o in outcomes if o.error]
    for error in errors:
        print(f"consentry: error: {error}", file=sys.stderr)
    if errors:
        return 2
    good = [o for o in outcomes if o.error is None]
    # A record whose inputs were not all archived still counts as verified when the archived decision it
    # replays was reproduced (e.g. a skip of an excluded domain, whose site files the crawl never fetched).
    return 1 if any(o.mismatch_count or o.unconfirmed or o.stats.get("damaged") for o in good) else 0
