"""The work of `consentry recheck`: a finished crawl's kept assets re-evaluated against today's signals.

Not pure (it reads the crawl's files and fetches). What it owns: reading the inputs (the decision log,
docs/decision-record.md; the crawl's WARC for validators and bodies; a dataset's parquet index), the order of
the requests, the comparison of each archived decision with today's, and the output files. Everything else
is reused: `consentry.crawler.check.checker.Checker` gathers each origin's site files once through the one
gathering path (`consentry.policies.gather`) and decides with `consentry.policies.evaluate`; the requests go
through `consentry.crawler.check.sources.HttpSource` (fetch guard, size caps, total deadline, robots.txt per
redirect hop).

Per asset: an asset today's robots.txt disallows (RFC 9309 §2.2.2) is withdrawn without being requested;
otherwise a conditional GET (`If-None-Match` / `If-Modified-Since` from the archived response's `ETag` /
`Last-Modified`, RFC 9110 §13.1.2 and §13.1.3) — a 304 reuses the archived body with the stored header
fields freshened by the 304's (RFC 9111 §4.3.4); anything else is the resource as it is today.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from consentry.crawler.audit.readers.archive import Capture, UnusableArchive, WarcReader
from consentry.crawler.check.checker import Checker
from consentry.crawler.check.sources import HttpSource, Permit
from consentry.crawler.errors import UsageError
from consentry.middlewares._config import read_trust_anchors
from consentry.middlewares.adapters.addresses import FetchGuard, request_url
from consentry.middlewares.adapters.clock import now
from consentry.middlewares.politeness import RETRY_AFTER_STATUSES, retry_after_seconds
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import evaluate_access, origin_of
from consentry.policies.model import AssetResponse, SiteFile
from consentry.policies.record import Decision
from consentry.policies.settings_table import default

__all__ = [
    "NEWLY_ALLOWED",
    "WITHDRAWN",
    "RecheckOptions",
    "Target",
    "freshen",
    "load_targets",
    "run_recheck",
]

WITHDRAWN = "withdrawn.jsonl"
NEWLY_ALLOWED = "newly_allowed.jsonl"
_LOG, _WARC = "decisions.jsonl", "crawl.warc.gz"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: statuses that are evaluated (a success, or an access restriction the crawl records as a signal)
_EVALUATED = frozenset({401, 402, 403})
#: header fields a 304 does not update in the stored response (RFC 9111 §3.2, §4.3.4)
_NOT_FRESHENED = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection",
                            "keep-alive", "te", "trailer", "upgrade", "proxy-connection"})


@dataclass(frozen=True, slots=True)
class RecheckOptions:
    """What the command line passes: the policy overrides, politeness and address options."""

    agent: str | None = None
    purposes: tuple[str, ...] = ()
    delay: float = 0.0
    allow_private: bool = False
    trust_anchors: Path | None = None


@dataclass(slots=True)
class Target:
    """One URL to recheck: its dataset key, the crawl's action, and where its decision record starts in the
    decision log (None: a dataset row the log lacks). Records are read again only for the assets that changed,
    so memory holds a few small values per URL, not the records."""

    url: str
    key: str | None = None
    action: str = "keep"
    offset: int | None = None


@dataclass(slots=True)
class Inputs:
    """The parsed inputs: kept targets, dropped targets, the decision log and WARC, and what the log did not
    yield (its first record gives the crawl's policy; unreadable lines counted per reason)."""

    kept: dict[str, Target]
    dropped: dict[str, Target]
    log: Path | None
    warc: Path | None
    first: dict[str, Any] = field(default_factory=dict)
    corrupt: Counter[str] = field(default_factory=Counter)


# --- inputs ---------------------------------------------------------------------------------------------------


def _parse(line: bytes) -> dict[str, Any] | str:
    """A decision record, or why the line is not one."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeError):
        return "not JSON"
    if not isinstance(record, dict) or not isinstance(record.get("url"), str) \
            or record.get("action") not in ("keep", "drop", "skip"):
        return "not a decision record"
    return record


def _read_log(path: Path, corrupt: Counter[str]) -> tuple[dict[str, Target], dict[str, Any]]:
    """url -> the target of its last decision record, and the first record; unreadable lines counted by reason."""
    targets: dict[str, Target] = {}
    first: dict[str, Any] = {}
    offset = 0
    with path.open("rb") as handle:
        for line in handle:
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            record = _parse(line)
            if isinstance(record, str):
                corrupt[record] += 1
                continue
            first = first or record
            targets[record["url"]] = Target(record["url"], _key(record), record["action"], start)
    return targets, first


@dataclass
class _Records:
    """Reads a target's decision record again from the log, by offset."""

    path: Path | None
    _handle: Any = None

    def get(self, target: Target) -> dict[str, Any] | None:
        if self.path is None or target.offset is None:
            return None
        if self._handle is None:
            self._handle = self.path.open("rb")
        self._handle.seek(target.offset)
        record = _parse(self._handle.readline())
        return None if isinstance(record, str) else record

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _key(record: Mapping[str, Any]) -> str | None:
    """A dataset key the record carries (a crawl writing shards may add one), else None."""
    key = record.get("key")
    return None if key is None else str(key)


def _parquet_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.parquet")) or sorted((directory / "dataset").glob("*.parquet"))


def _dataset_rows(files: Sequence[Path]) -> Iterator[tuple[str, str | None]]:
    """(url, key) of every row of the parquet index files; `UsageError` for a file that cannot be read."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("reading a dataset's parquet index needs pyarrow: pip install 'consentry[dataset]'") \
            from None
    for path in files:
        try:
            parquet = pq.ParquetFile(path)
            names = parquet.schema_arrow.names
            if "url" not in names:
                raise UsageError(f"{path}: no `url` column (columns: {', '.join(names[:10])})")
            columns = [name for name in ("url", "key") if name in names]
            for batch in parquet.iter_batches(columns=columns, batch_size=8192):
                data = batch.to_pydict()
                keys = data.get("key") or [None] * len(data["url"])
                for url, key in zip(data["url"], keys, strict=True):
                    if isinstance(url, str) and url:
                        yield url, None if key is None else str(key)
        except (OSError, pa.ArrowException) as exc:
            raise UsageError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0]})") from None


def load_targets(directory: Path) -> Inputs:
    """The assets to recheck in DIR: a crawl's output (DIR/decisions.jsonl, keys from DIR/dataset/*.parquet or
    DIR/*.parquet when present) or a dataset directory (*.parquet with a `url` column; the decision log and WARC
    of its parent crawl directory are used when there). `UsageError` when DIR holds neither."""
    files = _parquet_files(directory)
    crawl = directory if (directory / _LOG).is_file() else directory.parent
    log = crawl / _LOG
    if not files and not (directory / _LOG).exists():
        raise UsageError(f"{directory}: no {_LOG} (a consentry crawl's output) and no *.parquet dataset index")
    corrupt: Counter[str] = Counter()
    try:
        logged, first = _read_log(log, corrupt) if log.is_file() else ({}, {})
    except OSError as exc:
        raise UsageError(f"{log}: cannot read: {exc.strerror or exc}") from None
    if not files and not logged:
        raise UsageError(f"{log}: no readable decision record" + (
            f" ({sum(corrupt.values())} unreadable line(s))" if corrupt else ""))
    dropped = {url: target for url, target in logged.items() if target.action == "drop"}
    if files:
        kept = {url: _row(url, key, logged.get(url)) for url, key in _dataset_rows(files)}
    else:
        kept = {url: target for url, target in logged.items() if target.action == "keep"}
    warc = crawl / _WARC
    return Inputs(kept, dropped, log if log.is_file() else None, warc if warc.is_file() else None, first,
                  corrupt)


def _row(url: str, key: str | None, logged: Target | None) -> Target:
    """A dataset row: kept, with its decision record's offset when the log has one."""
    return Target(url, key, "keep", logged.offset if logged is not None else None)


# --- the conditional request ----------------------------------------------------------------------------------


def _field(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    found = [value for key, value in headers if key.lower() == name]
    return found[-1].strip() if found else None


def validators(capture: Capture) -> tuple[tuple[str, str], ...]:
    """The conditional request headers the archived response allows (RFC 9110 §13.1.1-13.1.3)."""
    etag, modified = _field(capture.headers, "etag"), _field(capture.headers, "last-modified")
    return (*((("If-None-Match", etag),) if etag else ()), *((("If-Modified-Since", modified),) if modified else ()))


def freshen(stored: Sequence[tuple[str, str]], fresh: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The stored response's header fields updated by a 304's (RFC 9111 §4.3.4): every field the 304 carries
    replaces the stored fields of that name; the others stay."""
    names = {key.lower() for key, _ in fresh} - _NOT_FRESHENED
    return (*((k, v) for k, v in stored if k.lower() not in names), *((k, v) for k, v in fresh if k.lower() in names))


@dataclass
class _PacedSource:
    """The guarded source with the crawl's politeness (README "Politeness"): one request at a time, at least
    `delay` seconds between two requests to one origin, and a 429/503 `Retry-After` (RFC 9110 §10.2.3, at most
    `max_retry_after` seconds) holding the origin, the asset asked again once after it."""

    source: HttpSource
    delay: float
    max_retry_after: float
    _next: dict[str, float] = field(default_factory=dict)
    requests: int = 0

    def _wait(self, origin: str) -> None:
        pause = self._next.get(origin, 0.0) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._next[origin] = time.monotonic() + self.delay
        self.requests += 1

    def _retry_after(self, fetched: AssetResponse | str) -> float | None:
        if isinstance(fetched, str) or fetched.status not in RETRY_AFTER_STATUSES:
            return None
        values = fetched.header("retry-after")
        seconds = retry_after_seconds(values[-1], now=time.time()) if values else None
        return None if seconds is None else min(seconds, self.max_retry_after)

    def site_file(self, url: str, max_bytes: int, permit: Permit = lambda url: None) -> SiteFile:
        self._wait(origin_of(url))
        return self.source.site_file(url, max_bytes, permit)

    def asset(self, url: str, max_bytes: int, permit: Permit = lambda url: None,
              conditional: Sequence[tuple[str, str]] = ()) -> AssetResponse | str:
        origin = origin_of(url)
        self._wait(origin)
        fetched = self.source.asset(url, max_bytes, permit, conditional)
        seconds = self._retry_after(fetched)
        if seconds is None:
            return fetched
        self._next[origin] = max(self._next[origin], time.monotonic() + seconds)
        self._wait(origin)
        return self.source.asset(url, max_bytes, permit, conditional)

    def close(self) -> None:
        self.source.close()


# --- comparison -----------------------------------------------------------------------------------------------


def _by_mechanism(signals: Any) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for signal in signals if isinstance(signals, list) else ():
        if isinstance(signal, dict) and isinstance(signal.get("mechanism"), str):
            found.setdefault(signal["mechanism"], []).append(signal)
    return found


def _said(signals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"source": s.get("source"), "evidence": s.get("evidence"), "statement": s.get("statement", {})}
            for s in signals]


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per mechanism whose signals differ between the archived record and today's: what each said (source —
    the file or response —, evidence, statement). The access signal compares on its evidence line."""
    before = _by_mechanism(old.get("signals") if old else None)
    after = _by_mechanism(new.get("signals"))
    found = []
    for mechanism in sorted(before.keys() | after.keys()):
        was, now_ = _said(before.get(mechanism, [])), _said(after.get(mechanism, []))
        if was != now_:
            scope = (after.get(mechanism) or before[mechanism])[0].get("scope")
            found.append({"mechanism": mechanism, "scope": scope, "old": was, "new": now_})
    return found


def _deciding(new: Mapping[str, Any], changed: list[dict[str, Any]]) -> list[str]:
    """The changed mechanisms that withdraw: those denying today (or access, for a skip)."""
    if new.get("action") == "skip":
        return [str(new["signals"][0]["mechanism"])] if new.get("signals") else ["robots"]
    denying = [c["mechanism"] for c in changed if any("deny" in s["statement"].values() for s in c["new"])]
    return denying or [c["mechanism"] for c in changed] or ["policy"]


@dataclass
class _Tally:
    rechecked: int = 0
    dropped_rechecked: int = 0
    withdrawn: int = 0
    newly_allowed: int = 0
    unchanged: int = 0
    unavailable: int = 0
    not_modified: int = 0
    bodies_fetched: int = 0
    not_requested: int = 0
    withdrawn_by_mechanism: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


# --- the recheck ----------------------------------------------------------------------------------------------


@dataclass
class _Rechecker:
    checker: Checker
    source: _PacedSource
    config: PolicyConfig
    tally: _Tally
    records: _Records

    def evaluate(self, target: Target, capture: Capture | None) -> tuple[Decision | None, str, str | None]:
        """Today's decision on `target`, how it was fetched (`not-requested`, `not-modified`, `modified`,
        `fetched`), and why it could not be evaluated (None when it was)."""
        url = request_url(target.url)
        site = self.checker.site(origin_of(url))
        skipped = evaluate_access(site, url, self.config, fetched_at=now())
        if skipped is not None:
            self.tally.not_requested += 1
            return skipped, "not-requested", None
        conditional = validators(capture) if capture is not None else ()
        fetched = self.source.asset(url, self.config.c2pa_max_bytes + 1, self.checker.permit, conditional)
        if isinstance(fetched, str):
            return None, "failed", fetched
        how = "modified" if conditional else "fetched"
        if fetched.status == 304 and capture is not None:
            self.tally.not_modified += 1
            fetched = AssetResponse(url=fetched.url, status=capture.status,
                                    headers=freshen(capture.headers, fetched.headers), body=capture.body)
            how = "not-modified"
        elif not (200 <= fetched.status < 300 or fetched.status in _EVALUATED):
            return None, "failed", f"HTTP {fetched.status}"
        else:
            self.tally.bodies_fetched += 1
        return self.checker.evaluate(url, site, fetched).decision, how, None

    def recheck(self, target: Target, capture: Capture | None) -> dict[str, Any] | None:
        """The output line for `target` when its action changed the way the recheck reports (a kept asset no
        longer kept, a dropped one kept today), else None."""
        decision, how, error = self.evaluate(target, capture)
        was = target.action
        if was == "keep":
            self.tally.rechecked += 1
        else:
            self.tally.dropped_rechecked += 1
        if decision is None:
            self.tally.unavailable += was == "keep"
            if self.tally.unavailable <= 20 and was == "keep":
                self.tally.warnings.append(f"{target.url}: not rechecked: {error}")
            return None
        new: dict[str, Any] = dict(decision.to_record())
        if (was == "keep") == (new["action"] == "keep"):
            self.tally.unchanged += was == "keep"
            return None
        record = self.records.get(target)
        changed = changes(record, new)
        if new["action"] == "skip":  # never requested: only its access signal was evaluated
            changed = [c for c in changed if c["mechanism"] == new["signals"][0]["mechanism"]]
        old_purposes = (record or {}).get("purposes", {})
        mechanisms = _deciding(new, changed)
        line: dict[str, Any] = {
            "key": target.key, "url": target.url, "old_action": was, "new_action": new["action"],
            "mechanisms": mechanisms, "reason": new["reason"], "fetch": how,
            "purposes": {"old": old_purposes, "new": new["purposes"]}, "changed": changed, "decision": new,
        }
        if target.key is None:
            del line["key"]
        if was == "keep":
            self.tally.withdrawn += 1
            self.tally.withdrawn_by_mechanism.update(mechanisms)
        else:
            self.tally.newly_allowed += 1
        return line


def _captures(warc: Path | None, wanted: Mapping[str, Target], cap: int, tally: _Tally) -> Iterator[Capture]:
    """The archived final responses of the wanted URLs, in WARC order."""
    if warc is None:
        return
    reader = WarcReader(warc, body_cap=cap, keep=lambda url: url in wanted)
    try:
        for item in reader:  # the consumer pops each URL it rechecks: a later capture of it is passed over
            if isinstance(item, Capture) and item.url in wanted and item.status not in _REDIRECTS:
                yield item
    except UnusableArchive as exc:
        tally.warnings.append(f"{exc}; the assets not read from it are fetched without validators")


def _policy(first: Mapping[str, Any], options: RecheckOptions) -> PolicyConfig:
    """The crawl's agent and declared purposes (from its first record) unless overridden."""
    values: dict[str, object] = {}
    agent = options.agent or first.get("agent")
    if isinstance(agent, str):
        values["CONSENT_AGENT"] = agent
    purposes = list(options.purposes) or first.get("purposes_declared")
    if purposes:
        values["CONSENT_PURPOSES"] = purposes
    values["CONSENT_C2PA_TRUST_ANCHORS"] = str(options.trust_anchors) if options.trust_anchors else None
    try:
        return PolicyConfig.from_settings(values)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@contextmanager
def _outputs(directory: Path) -> Iterator[Callable[[dict[str, Any] | None], None]]:
    """A writer of output lines: withdrawn ones to DIR/withdrawn.jsonl, newly allowed ones to
    DIR/newly_allowed.jsonl, each streamed to a temporary name and renamed into place when the recheck ends —
    an interrupted recheck leaves the previous files as they were."""
    paths = (directory / WITHDRAWN, directory / NEWLY_ALLOWED)
    temporary = [path.with_name(f".{path.name}.tmp") for path in paths]
    handles: list[IO[str]] = []

    def write(line: dict[str, Any] | None) -> None:
        if line is None:
            return
        index = 0 if line["old_action"] == "keep" else 1
        try:
            handles[index].write(json.dumps(line, sort_keys=True) + "\n")
        except OSError as exc:
            raise UsageError(f"{paths[index]}: cannot write: {exc.strerror or exc}") from None

    try:
        handles.extend(path.open("w", encoding="utf-8") for path in temporary)
        yield write
        for handle in handles:
            handle.close()
        for path, final in zip(temporary, paths, strict=True):
            path.replace(final)
    except OSError as exc:
        raise UsageError(f"{directory}: cannot write the recheck's output: {exc.strerror or exc}") from None
    finally:
        for handle in handles:
            handle.close()
        for path in temporary:
            path.unlink(missing_ok=True)


def run_recheck(directory: Path, options: RecheckOptions) -> dict[str, Any]:
    """Recheck DIR (see the module docstring); write DIR/withdrawn.jsonl and DIR/newly_allowed.jsonl; return the
    summary (docs/cli.md)."""
    inputs = load_targets(directory)
    config = _policy(inputs.first, options)
    try:
        anchors = read_trust_anchors(config.c2pa_trust_anchors)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    guard = FetchGuard(allow_private=options.allow_private)
    guard.allow_urls(sorted({origin_of(url) for url in (*inputs.kept, *inputs.dropped)}))
    source = _PacedSource(HttpSource(config.agent, guard=guard), options.delay,
                          float(default("CONSENT_MAX_RETRY_AFTER")))  # type: ignore[arg-type]
    tally = _Tally()
    records = _Records(inputs.log)
    rechecker = _Rechecker(Checker(source, config, trust_anchors_pem=anchors), source, config, tally, records)
    wanted = {**inputs.dropped, **inputs.kept}  # rechecked once each: popped when done
    try:
        with _outputs(directory) as write:
            for capture in _captures(inputs.warc, wanted, config.c2pa_max_bytes + 1, tally):
                write(rechecker.recheck(wanted.pop(capture.url), capture))
            for target in list(wanted.values()):
                write(rechecker.recheck(target, None))
    finally:
        source.close()
        records.close()
    return {
        "directory": str(directory),
        "rechecked": tally.rechecked,
        "withdrawn": tally.withdrawn,
        "withdrawn_by_mechanism": dict(tally.withdrawn_by_mechanism),
        "withdrawn_path": str(directory / WITHDRAWN),
        "unchanged": tally.unchanged,
        "unavailable": tally.unavailable,
        "dropped_rechecked": tally.dropped_rechecked,
        "newly_allowed": tally.newly_allowed,
        "newly_allowed_path": str(directory / NEWLY_ALLOWED),
        "requests": source.requests,
        "not_modified": tally.not_modified,
        "bodies_fetched": tally.bodies_fetched,
        "not_requested": tally.not_requested,
        "corrupt_lines": sum(inputs.corrupt.values()),
        "corrupt_by_reason": dict(inputs.corrupt),
        "warnings": tally.warnings,
    }
