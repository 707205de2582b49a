"""What `consentry report DIR` says about a crawl, built from the crawl's own outputs (README "Compliance").

Reads DIR/decisions.jsonl (or, lacking it, the decision records in DIR/crawl.warc.gz) and the WARC's warcinfo
and request records (the layout `consentry.middlewares.adapters.warcformat` owns), and turns them into one JSON
value: the crawler's identity, the policy, per protocol of `consentry.policies.protocols` how many assets it
applied to and what it decided, excluded domains hit, access-restricted responses, unverifiable sources, the
audit status and the crawler-information text a team can publish. `CrawlOutputError` says exactly what is
missing when nothing usable is there.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consentry.crawler.crawl.command import deciding_mechanisms
from consentry.policies.protocols import PROTOCOLS, Kind, Protocol
from consentry.policies.record import record_problems, run_attempt, run_id
from consentry.policies.version import VERSION
from consentry.policies.vocabulary import Mechanism

__all__ = [
    "DECISIONS",
    "REPORT_SCHEMA",
    "WARC",
    "CrawlOutput",
    "CrawlOutputError",
    "build_report",
    "load_crawl",
]

REPORT_SCHEMA = "consentry.compliance-report/1"
DECISIONS = "decisions.jsonl"
WARC = "crawl.warc.gz"
_ACTIONS = ("keep", "drop", "skip")
_EXCLUDED = re.compile(r"excluded domain (\S+) \((.*) line (\d+)\) covers (\S+)")
_URL = re.compile(r"https?://[^\s;()]+")
_MAX_LISTED = 1000
#: Request headers that carry credentials or session state (RFC 9110 §11.6.2, RFC 6265 §5.4).
_CREDENTIALS = ("Authorization", "Proxy-Authorization", "Cookie")


class CrawlOutputError(Exception):
    """DIR holds nothing usable: the message names what is missing."""


@dataclass
class CrawlOutput:
    """What a crawl directory holds: decision records, the warcinfo fields, the User-Agents sent, problems."""

    directory: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    decisions_from: str = ""
    #: Every WARC of the crawl: DIR/crawl.warc.gz, or each worker's RUN.WORKER.crawl.warc.gz of a distributed run.
    warcs: list[Path] = field(default_factory=list)
    #: Records of a distributed run superseded by a later attempt at the same URL (not in `records`).
    superseded: int = 0
    warcinfo: dict[str, str] = field(default_factory=dict)
    user_agents: Counter[str] = field(default_factory=Counter)
    with_credentials: int = 0
    problems: list[str] = field(default_factory=list)


def _read_log(path: Path, out: CrawlOutput) -> None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        out.problems.append(f"{path.name}: cannot be read ({exc.strerror or exc})")
        return
    bad = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        problems = record_problems(record) if isinstance(record, dict) else ["not a JSON object (torn line?)"]
        if problems:
            bad += 1
            if bad <= 20:
                out.problems.append(f"{path.name} line {number}: {problems[0]}; skipped")
            continue
        out.records.append(record)
    if bad > 20:
        out.problems.append(f"{path.name}: {bad - 20} more unusable lines skipped")
    out.decisions_from = path.name


def _read_warc(path: Path, out: CrawlOutput, *, want_decisions: bool) -> None:
    from warcio.archiveiterator import ArchiveIterator

    from consentry.middlewares.adapters.warcformat import is_metadata_json, read_metadata

    count = 0
    try:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                count += 1
                kind = record.rec_type
                if kind == "warcinfo" and not out.warcinfo:
                    out.warcinfo = _warcinfo_fields(record.content_stream().read())
                elif kind == "request" and record.http_headers is not None:
                    headers = record.http_headers
                    out.user_agents[headers.get_header("User-Agent") or "(none)"] += 1
                    out.with_credentials += any(headers.get_header(h) for h in _CREDENTIALS)
                elif kind == "metadata" and want_decisions and is_metadata_json(
                        record.rec_headers.get_header("Content-Type")):
                    decision, _, _ = read_metadata(record.content_stream().read())
                    if decision is not None and not record_problems(decision):
                        out.records.append(decision)
    except Exception as exc:  # a torn or foreign archive: report what was read
        out.problems.append(f"{path.name}: unreadable after record {count} ({type(exc).__name__}: {exc})")
    if count == 0:
        out.problems.append(f"{path.name}: no WARC record")
    elif not out.warcinfo:
        out.problems.append(f"{path.name}: no warcinfo record (the crawl's policy is unknown)")
    if want_decisions:
        out.decisions_from = f"{path.name} (metadata records)"


def _warcinfo_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", errors="replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def load_crawl(directory: Path) -> CrawlOutput:
    """Read a crawl directory; `CrawlOutputError` when it is not one or holds no usable decision. A directory
    of a distributed run's workers (RUN.WORKER.decisions.jsonl, RUN.WORKER.crawl.warc.gz) is read whole."""
    if not directory.is_dir():
        raise CrawlOutputError(f"{directory}: not a directory")
    log, warc = directory / DECISIONS, directory / WARC
    if not log.is_file() and not warc.is_file():
        logs, warcs = sorted(directory.glob(f"*.{DECISIONS}")), sorted(directory.glob(f"*.{WARC}"))
        if logs or warcs:
            return _load_workers(directory, logs, warcs)
        raise CrawlOutputError(f"{directory} is not a crawl output: neither {DECISIONS} nor {WARC} is there "
                               "(consentry crawl -o DIR writes both; a distributed worker, RUN.WORKER.{"
                               f"{DECISIONS},{WARC}}})")
    out = CrawlOutput(directory)
    if log.is_file():
        _read_log(log, out)
    else:
        out.problems.append(f"{DECISIONS} missing: decisions read from {WARC}")
    if warc.is_file():
        out.warcs = [warc]
        _read_warc(warc, out, want_decisions=not log.is_file())
    else:
        out.problems.append(f"{WARC} missing: no policy, User-Agent or audit")
    if not out.records:
        raise CrawlOutputError(f"{directory}: no usable decision record in {out.decisions_from or DECISIONS}"
                               + (f" ({out.problems[0]})" if out.problems else ""))
    return out


def _load_workers(directory: Path, logs: Sequence[Path], warcs: Sequence[Path]) -> CrawlOutput:
    """A distributed run's directory: every worker's log (or, for a worker without one, its WARC's decision
    records) and every WARC; each URL counted once, by its latest attempt (docs/distributed.md)."""
    out = CrawlOutput(directory, warcs=list(warcs))
    logged = {path.name[: -len(DECISIONS)] for path in logs}
    for path in logs:
        _read_log(path, out)
    for path in warcs:
        _read_warc(path, out, want_decisions=path.name[: -len(WARC)] not in logged)
    out.decisions_from = f"{len(logs)} worker decision log(s), {len(warcs)} worker WARC(s)"
    if not logs:
        out.problems.append(f"no *.{DECISIONS}: decisions read from the workers' WARCs")
    if not warcs:
        out.problems.append(f"no *.{WARC}: no policy, User-Agent or audit")
    out.records, out.superseded = _latest_attempts(out.records)
    if not out.records:
        raise CrawlOutputError(f"{directory}: no usable decision record in the workers' files"
                               + (f" ({out.problems[0]})" if out.problems else ""))
    return out


def _attempt(record: Mapping[str, Any]) -> tuple[tuple[str, str], int] | None:
    """((run id, URL), attempt) of a distributed run's record; None for any other record."""
    attempt = run_attempt(record)
    if attempt is None:
        return None
    return (run_id(record), str(record.get("url"))), attempt


def _latest_attempts(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """`records` without those a later attempt of the same run at the same URL superseded (a worker died after
    deciding it and the URL was leased again; docs/distributed.md "Counting once"), and how many were left out;
    records without an attempt are all kept."""
    latest: dict[tuple[str, str], int] = {}
    for record in records:
        if (found := _attempt(record)) is not None:
            latest[found[0]] = max(found[1], latest.get(found[0], found[1]))
    kept = [r for r in records if (found := _attempt(r)) is None or found[1] >= latest[found[0]]]
    return kept, len(records) - len(kept)


def _mechanisms(record: Mapping[str, Any]) -> set[str]:
    return {str(s.get("mechanism")) for s in record.get("signals") or []}


def _protocol_row(protocol: Protocol, records: Sequence[Mapping[str, Any]],
                  decided_by: Sequence[set[str]]) -> dict[str, Any]:
    names = {m.value for m in protocol.mechanisms}
    applied = decided = unverifiable = 0
    actions: Counter[str] = Counter()
    for record, deciding in zip(records, decided_by, strict=True):
        signals = [s for s in record.get("signals") or [] if s.get("mechanism") in names]
        if not signals:
            continue
        applied += 1
        unverifiable += any("unverifiable" in (s.get("tags") or []) for s in signals)
        if names & deciding:
            decided += 1
            actions[str(record.get("action"))] += 1
    return {
        "protocol": protocol.name,
        "standard": protocol.standard,
        "kind": [k.value for k in protocol.kinds],
        "eu_status": protocol.status,
        "mechanisms": sorted(names),
        "turned_off_by": protocol.off,
        "assets": applied,
        "decided": decided,
        "decided_actions": {a: actions.get(a, 0) for a in _ACTIONS},
        "unverifiable": unverifiable,
    }


def _excluded(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    hits: dict[tuple[str, str, int], dict[str, Any]] = {}
    for record in records:
        for signal in record.get("signals") or []:
            if signal.get("mechanism") != Mechanism.EXCLUDED_DOMAIN.value:
                continue
            found = _EXCLUDED.match(str(signal.get("evidence", "")))
            key = (found.group(1), found.group(2), int(found.group(3))) if found else ("?", str(signal.get("source")), 0)
            entry = hits.setdefault(key, {"domain": key[0], "list": key[1], "line": key[2], "urls": 0,
                                          "hosts": set()})
            entry["urls"] += 1
            if found:
                entry["hosts"].add(found.group(4))
    return [{**v, "hosts": sorted(v["hosts"])} for _, v in sorted(hits.items())]


def _restricted(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for record in records:
        evidence = [str(s.get("evidence")) for s in record.get("signals") or []
                    if s.get("mechanism") == Mechanism.ACCESS_RESTRICTION.value]
        if evidence or "access-restricted" in (record.get("tags") or []):
            status = (record.get("response") or {}).get("status")
            found.append({"url": record.get("url"), "status": status, "action": record.get("action"),
                          "evidence": evidence})
    return found


def _unverifiable(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    sources: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        for signal in record.get("signals") or []:
            if "unverifiable" not in (signal.get("tags") or []):
                continue
            key = (str(signal.get("mechanism")), str(signal.get("source")))
            entry = sources.setdefault(key, {"mechanism": key[0], "source": key[1], "decisions": 0,
                                             "evidence": str(signal.get("evidence"))})
            entry["decisions"] += 1
    return [sources[k] for k in sorted(sources)]


def _policy(out: CrawlOutput) -> dict[str, Any]:
    from consentry.middlewares.adapters.warcformat import POLICY_FIELD, policy_from_warcinfo

    versions = sorted({str((r.get("policy") or {}).get("consentry")) for r in out.records})
    hashes = sorted({str((r.get("policy") or {}).get("config_sha256")) for r in out.records})
    policy: dict[str, Any] = {"software": out.warcinfo.get("software"), "consentry_versions": versions,
                              "config_sha256": hashes, "settings": None, "problem": None}
    text = out.warcinfo.get(POLICY_FIELD)
    if not text:
        policy["problem"] = f"no warcinfo {POLICY_FIELD} field"
        return policy
    config, problem = policy_from_warcinfo(text)
    policy["problem"] = problem
    if config is not None:
        settings = config.fingerprint()
        settings.pop("excluded_domains", None)
        settings["excluded_domains"] = len(config.excluded.entries)
        settings["exclusion_lists"] = sorted({e.source for e in config.excluded.entries})
        policy["settings"] = settings
    return policy


def _identity(out: CrawlOutput) -> dict[str, Any]:
    agents = sorted({str(r.get("agent")) for r in out.records})
    sent = [ua for ua, _ in out.user_agents.most_common()]
    contacts = sorted({url for ua in sent for url in _URL.findall(ua)})
    return {"product_tokens": agents, "user_agents": sent, "contact_urls": contacts,
            "requests_archived": sum(out.user_agents.values()),
            "requests_with_credentials_or_cookies": out.with_credentials}


def _audit(outcomes: Sequence[Any] | None, out: CrawlOutput) -> dict[str, Any]:
    """The audit of every WARC of the crawl (`FileOutcome`s of one `consentry audit` run over them)."""
    command = None if not out.warcs else f"consentry audit {out.warcs[0] if len(out.warcs) == 1 else out.directory}"
    if outcomes is None:
        return {"status": "not audited", "command": command}
    errors = [f"{Path(o.path).name}: {o.error}" for o in outcomes if o.error]
    if errors:
        return {"status": "unusable", "error": "; ".join(errors), "command": command}
    from consentry.crawler.audit.runner import once_per_url

    mismatches = sum(o.mismatch_count for o in outcomes)
    actions: Counter[str] = sum((o.actions for o in outcomes), Counter())
    once = once_per_url(outcomes) if any(o.redecided for o in outcomes) else None
    if once is not None:  # a distributed run with URLs decided again: each URL once, by its latest attempt
        actions = once
    return {
        "status": "reproduced" if mismatches == 0 else "mismatches",
        "command": command,
        "decisions_replayed": sum(o.records for o in outcomes),
        "with_archived_decision": sum(o.archived for o in outcomes),
        "mismatches": mismatches,
        "unverifiable_records": sum(o.unverifiable for o in outcomes),
        "responses_without_decision": sum(o.undecided for o in outcomes),
        "fetched_although_denied": sum(o.denied_fetched for o in outcomes),
        "would_be": {a: actions.get(a, 0) for a in _ACTIONS},
    }


def _honoured(rows: Sequence[Mapping[str, Any]]) -> str:
    """Protocols always read, plus switchable ones that applied to an asset of this crawl."""
    names = [p.name for p, row in zip(PROTOCOLS, rows, strict=True)
             if Kind.CRAWL not in p.kinds and (p.off == "none" or row["assets"])]
    return ", ".join(names)


def _plain(identity: Mapping[str, Any]) -> bool:
    """Whether the archive shows one User-Agent and no request with credentials or cookies."""
    return len(identity["user_agents"]) == 1 and not identity["requests_with_credentials_or_cookies"]


def _information(identity: Mapping[str, Any], policy: Mapping[str, Any], excluded_names: int, honoured: str) -> str:
    tokens = ", ".join(identity["product_tokens"]) or "(unknown)"
    agents = "; ".join(identity["user_agents"][:3]) or "(not recorded)"
    settings = policy.get("settings") or {}
    purposes = ", ".join(settings.get("purposes") or []) or "(unknown)"
    on_deny = settings.get("on_deny")
    withheld = ("Assets whose creators withheld these purposes are not kept."
                if on_deny == "drop" else "Assets whose creators withheld these purposes are kept only with "
                "the withheld verdicts recorded on them." if on_deny == "tag" else "")
    contact = ("Contact: " + ", ".join(identity["contact_urls"]) + "."
               if identity["contact_urls"] else "Contact: (no contact URL in the User-Agent).")
    excluded = (f"It never requests {excluded_names} listed domains (and their subdomains) that we exclude."
                if excluded_names else "")
    parts = [
        f"Our crawler identifies itself with the product token {tokens}; its User-Agent is: {agents}.",
        "Before fetching anything from a site it reads robots.txt (RFC 9309) and fetches nothing that robots.txt "
        "disallows for that token; when robots.txt cannot be fetched (server error, timeout) it fetches nothing "
        "from that site.",
        f"It collects for these purposes: {purposes}. On every asset it reads these machine-readable "
        f"rights reservations: {honoured}. {withheld}".strip(),
        "It does not circumvent access restrictions: responses that demand a login or payment are recorded as "
        "such and never retried with credentials, cookies or another user agent." if _plain(identity) else "",
        excluded,
        "Every decision, with the line or value it rests on, is logged and archived (WARC) and can be replayed "
        "with consentry audit.",
        contact,
    ]
    return " ".join(p for p in parts if p)


def build_report(out: CrawlOutput, audit_outcomes: Sequence[Any] | None = None) -> dict[str, Any]:
    """The `consentry.compliance-report/1` value of a crawl (`audit_outcomes`: the `FileOutcome` of each of
    `out.warcs`, or None when not audited)."""
    records = out.records
    decided_by = [deciding_mechanisms(r) for r in records]
    identity = _identity(out)
    policy = _policy(out)
    excluded = _excluded(records)
    settings = policy.get("settings") or {}
    actions = Counter(str(r.get("action")) for r in records)
    rows = [_protocol_row(p, records, decided_by) for p in PROTOCOLS]
    restricted = _restricted(records)
    unverifiable = _unverifiable(records)
    excluded_names = int(settings.get("excluded_domains") or 0)
    return {
        "schema": REPORT_SCHEMA,
        "generated_by": f"consentry/{VERSION}",
        "directory": str(out.directory),
        "decisions_from": out.decisions_from,
        "problems": out.problems,
        "crawler": identity,
        "policy": policy,
        "decisions": {"total": len(records), **{a: actions.get(a, 0) for a in _ACTIONS},
                      "superseded_attempts": out.superseded},
        "protocols": rows,
        "excluded_domains": {"listed": excluded_names, "skipped": sum(e["urls"] for e in excluded),
                             "hits": excluded},
        "access_restricted": {"total": len(restricted), "responses": restricted[:_MAX_LISTED]},
        "unverifiable": {"decisions": sum(1 for r in records if "unverifiable" in (r.get("tags") or [])),
                         "sources": unverifiable[:_MAX_LISTED]},
        "audit": _audit(audit_outcomes, out),
        "crawler_information": _information(identity, policy, excluded_names, _honoured(rows)),
    }
