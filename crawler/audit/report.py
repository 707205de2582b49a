"""`consentry audit --report FILE.html`: one self-contained HTML page (inline CSS and SVG, no URL to fetch).

Charts: decisions by site (registrable domain from tldextract's bundled suffix list; IP/localhost → the
host), by deciding mechanism, over time (per minute, hour or day by span); then the mismatch list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consentry.crawler.audit.runner import FileOutcome

__all__ = ["render_report"]

_ACTIONS = (("keep", "#2e7d32"), ("drop", "#c62828"), ("skip", "#6d6d6d"), ("none", "#1565c0"))
_CSS = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;
margin-top:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;
vertical-align:top}.legend span{display:inline-block;margin-right:1em}.sw{width:.8em;height:.8em;
display:inline-block;margin-right:.3em}code{font-size:12px;white-space:pre-wrap}.bad{color:#c62828}"""


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
    parts.append(f'<text x="10" y="{height + 20}" font-size="12">{escape(buckets[0])}</text>')
    parts.append(
        f'<text x="{width - 10}" y="{height + 20}" font-size="12" text-anchor="end">'
        f"{escape(buckets[-1])}</text></svg>"
    )
    return "<h2>Decisions over time</h2>" + "".join(parts)


def _mismatches(outcomes: Sequence[FileOutcome]) -> str:
    rows = [
        f"<tr><td>{escape(m['url'])}<br><small>{escape(m['warc'])} {escape(m['warc_record_id'])}</small></td>"
        f"<td>{escape(str(m['archived_action']))}</td><td>{escape(str(m['replayed_action']))}</td>"
        f"<td><code>{escape(chr(10).join(m['differences']))}</code></td></tr>"
        for o in outcomes
        for m in o.mismatches
    ]
    if not rows:
        return "<h2>Mismatches</h2><p>none: every archived decision was reproduced.</p>"
    head = "<tr><th>URL</th><th>archived</th><th>replay</th><th>differences</th></tr>"
    return (
        f'<h2 class="bad">Mismatches ({len(rows)})</h2><table id="mismatches">{head}{"".join(rows)}</table>'
    )


def render_report(outcomes: Sequence[FileOutcome]) -> str:
    """The whole report page."""
    good = [o for o in outcomes if o.error is None]
    by_site: Counter[tuple[str, str]] = sum((o.by_site for o in good), Counter())
    by_mechanism: Counter[tuple[str, str]] = sum((o.by_mechanism for o in good), Counter())
    by_minute: Counter[tuple[str, str]] = sum((o.by_minute for o in good), Counter())
    actions: Counter[str] = sum((o.actions for o in good), Counter())
    sites = [k for k, _ in _total(by_site).most_common(40)]
    mechanisms = [k for k, _ in _total(by_mechanism).most_common()]
    legend = "".join(f'<span><i class="sw" style="background:{c}"></i>{a}</span>' for a, c in _ACTIONS)
    files = "".join(
        f"<li>{escape(o.path)}: {escape(o.error) if o.error else f'{o.records} decisions'}</li>"
        for o in outcomes
    )
    summary = (
        f"<p>{sum(o.records for o in good)} decisions replayed; would-be kept {actions['keep']}, "
        f"dropped {actions['drop']}, skipped {actions['skip']}; "
        f"<b>{sum(o.mismatch_count for o in good)} mismatches</b>; "
        f"{sum(o.unverifiable for o in good)} unverifiable records.</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>consentry audit</title>'
        f"<style>{_CSS}</style></head><body><h1>consentry audit</h1><ul>{files}</ul>{summary}"
        f'<p class="legend">{legend}</p>'
        + _bars("Decisions by site", by_site, sites)
        + _bars("Decisions by deciding mechanism", by_mechanism, mechanisms)
        + _over_time(by_minute)
        + _mismatches(good)
        + "</body></html>\n"
    )
