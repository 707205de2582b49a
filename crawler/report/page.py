"""`consentry report --html FILE`: the compliance report as one self-contained HTML page (inline CSS, no URL
to fetch, no script), rendered from the `consentry.compliance-report/1` value of
`consentry.crawler.report.compliance.build_report`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["render_html"]

_CSS = """body{font:14px system-ui,sans-serif;margin:2em;color:#222;max-width:72em}h1{font-size:1.4em}
h2{font-size:1.1em;margin-top:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;
text-align:left;vertical-align:top}td.n{text-align:right}blockquote{border-left:4px solid #1565c0;margin:0;
padding:.5em 1em;background:#f4f7fb}.bad{color:#c62828}code{font-size:12px}"""


_LIMITS = ("This report is built from the crawl's own decision log and WARC. The audit shows that the recorded "
           "decisions follow from the documents archived at the time; the report cannot show that nothing was "
           "fetched outside this crawl, that the directory is the complete record of it, that the exclusion lists "
           "were the current official ones, or that a use of the data is lawful: it is evidence, not a "
           "certificate of compliance.")


def _cell(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="n">{value}</td>'
    if isinstance(value, list | tuple):
        return f"<td>{escape(', '.join(str(v) for v in value))}</td>"
    return f"<td>{escape('' if value is None else str(value))}</td>"


def _table(table_id: str, headings: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    if not body:
        return f'<p id="{table_id}">none</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _pairs(table_id: str, pairs: Mapping[str, object]) -> str:
    return _table(table_id, ("", ""), [(k, v) for k, v in pairs.items()])


def _protocols(rows: Sequence[Mapping[str, Any]]) -> str:
    return _table("protocols", ("protocol", "standard or publisher", "kind", "EU status", "mechanisms",
                                "turned off by", "assets", "decided", "kept", "dropped", "skipped",
                                "unverifiable"),
                  [(r["protocol"], r["standard"], r["kind"], r["eu_status"], r["mechanisms"], r["turned_off_by"],
                    r["assets"], r["decided"], r["decided_actions"]["keep"], r["decided_actions"]["drop"],
                    r["decided_actions"]["skip"], r["unverifiable"]) for r in rows])


def _audit(audit: Mapping[str, Any]) -> str:
    status = str(audit.get("status"))
    css = "" if status == "reproduced" else ' class="bad"'
    lines = [f"<p{css}>Audit: <strong>{escape(status)}</strong>"
             + (f" — run <code>{escape(str(audit['command']))}</code>" if audit.get("command") else "") + "</p>"]
    shown = {k: v for k, v in audit.items() if k not in ("status", "command", "would_be")}
    if shown:
        lines.append(_pairs("audit", shown))
    return "".join(lines)


def render_html(report: Mapping[str, Any]) -> str:
    """The page: identity, policy, decisions, protocols, excluded domains, access restrictions, unverifiable
    sources, audit, the crawler-information text, problems."""
    crawler, policy = report["crawler"], report["policy"]
    identity = {"product token(s)": crawler["product_tokens"], "User-Agent sent": crawler["user_agents"],
                "contact URL": crawler["contact_urls"] or "not configured (put a URL in USER_AGENT)"}
    policy_rows = {"software": policy.get("software"), "consentry version(s)": policy.get("consentry_versions"),
                   "config_sha256": policy.get("config_sha256"), **(policy.get("settings") or {})}
    if policy.get("problem"):
        policy_rows["problem"] = policy["problem"]
    excluded, restricted, unverifiable = (report["excluded_domains"], report["access_restricted"],
                                          report["unverifiable"])
    sections = [
        f"<h1>Compliance report: {escape(report['directory'])}</h1>",
        f"<p>{escape(report['generated_by'])}, schema <code>{escape(report['schema'])}</code>; decisions from "
        f"{escape(report['decisions_from'])}.</p>",
        "<h2>Crawler information (to publish)</h2>",
        f'<blockquote id="crawler-information">{escape(report["crawler_information"])}</blockquote>',
        "<h2>Crawler identity</h2>", _pairs("identity", identity),
        "<h2>Policy</h2>", _pairs("policy", policy_rows),
        "<h2>Decisions</h2>", _pairs("decisions", report["decisions"]),
        "<h2>Protocols honoured</h2>",
        "<p>assets: decisions with a signal of the protocol; decided: decisions it gave their final verdict or "
        "skip.</p>", _protocols(report["protocols"]),
        f"<h2>Excluded domains ({excluded['listed']} listed, {excluded['skipped']} URLs skipped)</h2>",
        _table("excluded", ("listed domain", "list", "line", "URLs skipped", "hosts"),
               [(e["domain"], e["list"], e["line"], e["urls"], e["hosts"]) for e in excluded["hits"]]),
        f"<h2>Access-restricted responses ({restricted['total']})</h2>",
        _table("restricted", ("URL", "status", "action", "evidence"),
               [(r["url"], r["status"], r["action"], r["evidence"]) for r in restricted["responses"]]),
        f"<h2>Unverifiable sources ({unverifiable['decisions']} decisions)</h2>",
        _table("unverifiable", ("mechanism", "source", "decisions", "evidence"),
               [(u["mechanism"], u["source"], u["decisions"], u["evidence"]) for u in unverifiable["sources"]]),
        "<h2>Audit</h2>", _audit(report["audit"]),
        "<h2>Problems with the crawl output</h2>",
        _table("problems", ("problem",), [(p,) for p in report["problems"]]),
        "<h2>What this report does not prove</h2>", f"<p>{escape(_LIMITS)}</p>",
    ]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>consentry compliance report"
            f"</title><style>{_CSS}</style></head><body>" + "\n".join(sections) + "</body></html>\n")
