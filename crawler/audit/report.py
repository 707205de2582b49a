"""`consentry audit --report FILE.html`: one self-contained HTML page (inline CSS, SVG and script; no URL).

A banner when an archive is foreign or the replay ran under another agent/purpose; the consentry version and
policy replayed; charts: decisions by site (registrable domain from tldextract's bundled suffix list;
IP/localhost → the host), by deciding mechanism, over time (a labelled axis: per minute, hour or day by span);
the mismatches with their differing fields, the unverifiable records with their reasons, the hosts lacking
each site file; then every decision in one table that the page's inline script filters (action, mechanism,
unverifiable) and searches. `#action=drop&q=text` in the page's address presets the filter.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from consentry.crawler.audit.runner import FileOutcome

__all__ = ["render_report"]

_ACTIONS = (("keep", "#2e7d32"), ("drop", "#c62828"), ("skip", "#6d6d6d"), ("none", "#1565c0"))
_CSS = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;
margin-top:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;
vertical-align:top}.legend span{display:inline-block;margin-right:1em}.sw{width:.8em;height:.8em;
display:inline-block;margin-right:.3em}code{font-size:12px;white-space:pre-wrap}.bad{color:#c62828}
.banner{background:#fff3cd;border:1px solid #e0b400;padding:.6em 1em;margin:1em 0}
#decisions td{font-size:12px}.filters label{margin-right:1em}"""
_MAX_ROWS = 20_000
_FILTER_JS = """(function(){
var rows=[].slice.call(document.querySelectorAll('#decisions tbody tr'));
var act=document.getElementById('f-action'),mech=document.getElementById('f-mechanism'),
q=document.getElementById('f-search'),unv=document.getElementById('f-unverifiable'),
shown=document.getElementById('shown');
function apply(){var a=act.value,m=mech.value,t=q.value.toLowerCase(),u=unv.checked,n=0;
rows.forEach(function(r){var ok=(!a||r.dataset.action===a)&&(!m||(' '+r.dataset.mechanism+' ').indexOf(' '+m+' ')>=0)
&&(!u||r.dataset.unverifiable==='1')&&(!t||r.textContent.toLowerCase().indexOf(t)>=0);
r.hidden=!ok;if(ok)n++;});shown.textContent=n;}
[act,mech,unv].forEach(function(e){e.addEventListener('change',apply);});q.addEventListener('input',apply);
var h=new URLSearchParams(location.hash.slice(1));
if(h.get('action')!==null)act.value=h.get('action');if(h.get('mechanism')!==null)mech.value=h.get('mechanism');
if(h.get('q')!==null)q.value=h.get('q');if(h.get('unverifiable'))unv.checked=true;
if(location.hash)act.dispatchEvent(new Event('change'));else apply();})();"""


def _total(counter: Counter[tuple[str, str]]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for (key, _), count in counter.items():
        totals[key] += count
    return totals


def _bars(title: str, counter: Counter[tuple[str, str]], keys: Sequence[str]) -> str:
    """A horizontal stacked bar chart (inline SVG), one bar per key, one colour per action."""
    if not keys:
        return f"<h2>{escape(title)}</h2><p>none</p>"
    width, label, row = 720, 240, 22
    largest = max(sum(counter[(k, a)] for a, _ in _ACTIONS) for k in keys) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'width="{width}" height="{row * len(keys) + 4}">'
    ]
    for index, key in enumerate(keys):
        y, x = index * row + 2, label
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(key[:38])}</text>')
        for action, colour in _ACTIONS:
            count = counter[(key, action)]
            if count:
                size = max(1, round(count / largest * (width - label - 50)))
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{size}" height="{row - 6}" fill="{colour}">'
                    f"<title>{escape(key)}: {action} {count}</title></rect>"
                )
                x += size
        parts.append(
            f'<text x="{x + 4}" y="{y + 15}" font-size="12">{sum(counter[(key, a)] for a, _ in _ACTIONS)}'
            "</text>"
        )
    return f"<h2>{escape(title)}</h2>" + "".join(parts) + "</svg>"


def _over_time(by_minute: Counter[tuple[str, str]]) -> str:
    """Decisions per minute, hour or day (whichever gives ≤ 60 bars) as stacked columns."""
    minutes = sorted({m for m, _ in by_minute if m})
    if not minutes:
        return "<h2>Decisions over time</h2><p>no dates</p>"
    cut = 16 if len({m[:13] for m in minutes}) <= 1 else 13 if len({m[:10] for m in minutes}) <= 2 else 10
    unit = {16: "minute", 13: "hour", 10: "day"}[cut]
    counter: Counter[tuple[str, str]] = Counter()
    for (minute, action), count in by_minute.items():
        counter[(minute[:cut], action)] += count
    buckets = sorted({b for b, _ in counter})[-60:]
    width, height, step = 720, 200, min(40, max(4, 700 // max(1, len(buckets))))
    largest = max(sum(counter[(b, a)] for a, _ in _ACTIONS) for b in buckets) or 1
    parts = [
        '<svg class="chart" role="img" aria-label="Decisions over time" '
        f'width="{width}" height="{height + 40}">'
    ]
    for index, bucket in enumerate(buckets):
        x, y = 10 + index * step, height
        for action, colour in _ACTIONS:
            count = counter[(bucket, action)]
            if count:
                size = max(1, round(count / largest * (height - 10)))
                y -= size
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{step - 2}" height="{size}" fill="{colour}">'
                    f"<title>{escape(bucket)}: {action} {count}</title></rect>"
                )
    parts.append(f'<line x1="8" y1="{height}" x2="{width - 8}" y2="{height}" stroke="#888"/>')
    parts.append(f'<text x="10" y="{height + 16}" font-size="12">{escape(buckets[0])}</text>')
    parts.append(
        f'<text x="{width - 10}" y="{height + 16}" font-size="12" text-anchor="end">{escape(buckets[-1])}</text>'
    )
    parts.append(
        f'<text class="axis" x="{width // 2}" y="{height + 34}" font-size="12" text-anchor="middle">'
        f"WARC-Date (UTC), decisions per {unit}; tallest column {largest}</text></svg>"
    )
    return "<h2>Decisions over time</h2>" + "".join(parts)


def _mismatches(outcomes: Sequence[FileOutcome], archived: int) -> str:
    rows = [
        f"<tr><td>{escape(m['url'])}<br><small>{escape(m['warc'])} {escape(m['warc_record_id'])}</small></td>"
        f"<td>{escape(str(m['archived_action']))}</td><td>{escape(str(m['replayed_action']))}</td>"
        f"<td><code>{escape(chr(10).join(m['differences']))}</code></td></tr>"
        for o in outcomes
        for m in o.mismatches
    ]
    if not rows:
        if not archived:
            return "<h2>Mismatches</h2><p>none, and no decision was archived: nothing to reproduce.</p>"
        return f"<h2>Mismatches</h2><p>none: every archived decision ({archived}) was reproduced.</p>"
    head = "<tr><th>URL</th><th>archived</th><th>replay</th><th>differing fields</th></tr>"
    return (
        f'<h2 class="bad">Mismatches ({len(rows)})</h2><table id="mismatches">{head}{"".join(rows)}</table>'
    )


def _unverifiable(outcomes: Sequence[FileOutcome]) -> str:
    rows = [
        f"<tr><td>{escape(u['url'])}<br><small>{escape(u['warc'])} {escape(u['warc_record_id'])}</small></td>"
        f"<td><code>{escape(chr(10).join(u['notes']))}</code></td></tr>"
        for o in outcomes
        for u in o.unverifiable_list
    ]
    if not rows:
        return "<h2>Unverifiable records</h2><p>none.</p>"
    head = "<tr><th>URL</th><th>reasons</th></tr>"
    return f'<h2>Unverifiable records ({len(rows)})</h2><table id="unverifiable">{head}{"".join(rows)}</table>'


def _lacking(outcomes: Sequence[FileOutcome]) -> str:
    merged: dict[str, list[str]] = {}
    for outcome in outcomes:
        for name, hosts in outcome.lacking.items():
            merged.setdefault(name, []).extend(h for h in hosts if h not in merged[name])
    if not merged:
        return ""
    items = "".join(
        f"<li><b>{escape(name)}</b> ({len(hosts)}): {escape(', '.join(hosts))}</li>"
        for name, hosts in sorted(merged.items())
    )
    return f'<h2>Site files not archived</h2><ul id="lacking">{items}</ul>'


def _origin(url: str) -> str:
    """scheme://host:port, the port always written."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    except ValueError:
        return url
    return f"{parts.scheme}://{parts.hostname or ''}:{port}"


def _row(line: dict[str, Any]) -> tuple[str, set[str], str]:
    from consentry.crawler.crawl.command import deciding_mechanisms

    replayed = line.get("replayed") or {}
    action = str(replayed.get("action", "none"))
    mechanisms = set(deciding_mechanisms(replayed)) if replayed else set()
    reason = line["notes"][0] if line.get("unverifiable") and line.get("notes") else ""
    match = {True: "yes", False: "NO", None: "—"}[line.get("match")]
    cells = (
        f"<td>{escape(line['url'])}</td><td>{escape(_origin(line['url']))}</td><td>{escape(action)}</td>"
        f"<td>{escape(str(replayed.get('access', '')))}</td><td>{escape(' '.join(sorted(mechanisms)))}</td>"
        f"<td>{escape(match)}</td><td>{escape(reason)}</td><td><small>{escape(line.get('warc', ''))} "
        f"{escape(line.get('date', ''))}</small></td>"
    )
    attributes = (
        f'data-action="{escape(action)}" data-mechanism="{escape(" ".join(sorted(mechanisms)))}" '
        f'data-unverifiable="{int(bool(line.get("unverifiable")))}"'
    )
    return f"<tr {attributes}>{cells}</tr>", mechanisms, action


def _decisions(lines: Iterator[dict[str, Any]], total: int) -> tuple[str, set[tuple[str, str, str]]]:
    """The filterable table of every decision, and the (version, agent, config) sets replayed."""
    rows: list[str] = []
    mechanisms: set[str] = set()
    policies: set[tuple[str, str, str]] = set()
    for line in lines:
        replayed = line.get("replayed")
        if replayed:
            policy = replayed.get("policy") or {}
            policies.add((str(policy.get("consentry")), str(replayed.get("agent")),
                          str(policy.get("config_sha256"))))
        if len(rows) < _MAX_ROWS:
            row, found, _ = _row(line)
            rows.append(row)
            mechanisms |= found
    options = "".join(f'<option value="{escape(m)}">{escape(m)}</option>' for m in sorted(mechanisms))
    actions = "".join(f'<option value="{a}">{a}</option>' for a, _ in _ACTIONS)
    more = f" (the first {len(rows)} of {total})" if total > len(rows) else ""
    controls = (
        '<p class="filters"><label>action <select id="f-action"><option value="">any</option>'
        f'{actions}</select></label><label>deciding mechanism <select id="f-mechanism"><option value="">any'
        f'</option>{options}</select></label><label>search <input id="f-search" type="search"></label>'
        '<label><input id="f-unverifiable" type="checkbox"> unverifiable only</label>'
        f' showing <b id="shown">{len(rows)}</b> of {len(rows)}{more}</p>'
    )
    head = ("<thead><tr><th>URL</th><th>origin</th><th>action</th><th>access</th><th>deciding mechanism</th>"
            "<th>reproduced</th><th>unverifiable reason</th><th>WARC, date</th></tr></thead>")
    table = f'<table id="decisions">{head}<tbody>{"".join(rows)}</tbody></table>'
    return f"<h2>Every decision</h2>{controls}{table}", policies


def _policies(policies: set[tuple[str, str, str]]) -> str:
    if not policies:
        return ""
    items = "".join(
        f"<li>consentry {escape(v)}, agent <code>{escape(a)}</code>, policy config_sha256 <code>{escape(c)}</code></li>"
        for v, a, c in sorted(policies)
    )
    return f'<h2>Replayed with</h2><ul id="policy">{items}</ul>'


def _banners(good: Sequence[FileOutcome], overridden: bool) -> str:
    parts = []
    if overridden:
        parts.append("Replayed under another agent or purpose (--agent/--purpose): differences from the archived "
                     "decisions are expected.")
    foreign = [o.path for o in good if o.foreign]
    if foreign:
        parts.append("Foreign archive (not written by consentry), judged on what it shows — no decision was "
                     "archived there to reproduce: " + ", ".join(foreign))
    return "".join(f'<div class="banner" role="note">{escape(p)}</div>' for p in parts)


def _lines(outcomes: Sequence[FileOutcome], rows: Callable[[FileOutcome], Iterator[str]] | None) -> Iterator[dict[str, Any]]:
    if rows is None:
        return
    for outcome in outcomes:
        for text in rows(outcome):
            yield json.loads(text)


def render_report(
    outcomes: Sequence[FileOutcome],
    *,
    overridden: bool = False,
    rows: Callable[[FileOutcome], Iterator[str]] | None = None,
) -> str:
    """The whole report page; `rows(outcome)` gives each file's `--json` lines for the decisions table."""
    good = [o for o in outcomes if o.error is None]
    by_site: Counter[tuple[str, str]] = sum((o.by_site for o in good), Counter())
    by_mechanism: Counter[tuple[str, str]] = sum((o.by_mechanism for o in good), Counter())
    by_minute: Counter[tuple[str, str]] = sum((o.by_minute for o in good), Counter())
    actions: Counter[str] = sum((o.actions for o in good), Counter())
    sites = [k for k, _ in _total(by_site).most_common(40)]
    mechanisms = [k for k, _ in _total(by_mechanism).most_common()]
    legend = "".join(f'<span><i class="sw" style="background:{c}"></i>{a}</span>' for a, c in _ACTIONS)
    files = "".join(
        f"<li>{escape(o.path)}: {escape(o.error) if o.error else f'{o.records} decisions'}"
        f"{' (foreign archive)' if o.foreign and not o.error else ''}</li>"
        for o in outcomes
    )
    archived = sum(o.archived for o in good)
    total = sum(o.records for o in good)
    summary = (
        f"<p>{total} decisions replayed ({archived} with an archived decision); would-be kept "
        f"{actions['keep']}, dropped {actions['drop']}, skipped {actions['skip']}; "
        f"<b>{sum(o.mismatch_count for o in good)} mismatches</b>; "
        f"{sum(o.unverifiable for o in good)} unverifiable records.</p>"
    )
    table, policies = _decisions(_lines(good, rows), total)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>consentry audit</title>'
        f"<style>{_CSS}</style></head><body><h1>consentry audit</h1>{_banners(good, overridden)}"
        f"<ul>{files}</ul>{summary}{_policies(policies)}"
        f'<p class="legend">{legend}</p>'
        + _bars("Decisions by site", by_site, sites)
        + _bars("Decisions by deciding mechanism", by_mechanism, mechanisms)
        + _over_time(by_minute)
        + _mismatches(good, archived)
        + _unverifiable(good)
        + _lacking(good)
        + table
        + f"<script>{_FILTER_JS}</script></body></html>\n"
    )
