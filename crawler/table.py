"""Human-readable rendering of `consentry check` results (docs/cli.md, "check"): what the fetch did (HTTP status,
final URL, or why nothing answered), signal by signal how the site's directives were read — an allow shown as
an allow, a signal that was present but not counted with the reason —, then verdicts, action and warnings.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from consentry.policies.model import Signal
from consentry.policies.record import Decision
from consentry.policies.vocabulary import PURPOSES, Mechanism, Tag, Verdict, ancestors

if TYPE_CHECKING:
    from consentry.crawler.check.checker import CheckResult

__all__ = ["not_counted", "render_check", "wrap"]

_WIDTH = 100
_LABEL = 10  # width of the row labels (FETCH, VERDICTS, ACTION…)
#: A C2PA/CAWG `allowed` entry the manifest's validation state keeps from counting (docs/signals/c2pa.md "Trust").
_ALLOW_REFUSED = re.compile(r"(\S+=allowed) \(allowed not counted: ([^)]*)\)")
_SUPERSEDED = re.compile(r"\(superseded by ([\w-]+)\)")
#: Why a skipped URL was not fetched, by its access signal (any other: the signal's own evidence).
_NOT_FETCHED = {Mechanism.ROBOTS: "access denied by robots.txt",
                Mechanism.EXCLUDED_DOMAIN: "excluded domain (CONSENT_EXCLUDED_DOMAINS)"}
#: Tags that put a signal out of the combination under CONSENT_INFERRED=tag.
_DISCOUNTED = {Tag.INFERRED: "inferred", Tag.VENDOR_SPECIFIC: "vendor-specific"}


def not_counted(signal: Signal) -> str | None:
    """What of a signal that was present did not count, and why (None when it counted in full):
    `not counted: superseded by tdmrep-html`, `cawg.ai_training=allowed not counted: manifest is Invalid`."""
    if signal.counted:
        refused = _ALLOW_REFUSED.findall(signal.evidence)
        return "; ".join(f"{entry} not counted: {why}" for entry, why in refused) or None
    superseded = _SUPERSEDED.search(signal.evidence)
    if superseded:
        return f"not counted: superseded by {superseded.group(1)}"
    kinds = [name for tag, name in _DISCOUNTED.items() if tag in signal.tags]
    return f"not counted: {'/'.join(kinds) or 'discounted'} signal under CONSENT_INFERRED=tag"


def _read_as(signal: Signal, decision: Decision) -> str:
    statement = {p.value: v.value for p, v in signal.statement.items()}
    read_as = " ".join(f"{p}={v}" for p, v in statement.items()) or "—"
    if signal.mechanism is Mechanism.ROBOTS and not statement:
        read_as = f"access {decision.access.value}"
    notes = sorted(t.value for t in signal.tags)
    why = not_counted(signal)
    if why is not None:
        notes.append(why)
    return read_as + (f"  [{', '.join(notes)}]" if notes else "")


def _signal_rows(decision: Decision) -> list[str]:
    rows = [f"  {'SIGNAL':<28} {'SCOPE':<9} READ AS", f"  {'':<6}evidence"]
    for signal in decision.signals:
        rows.append(f"  {signal.mechanism.value:<28} {signal.scope.value:<9} {_read_as(signal, decision)}")
        rows.extend(f"        {line}" for line in wrap(signal.evidence, _WIDTH - 8) or [""])
    return rows


def _verdict_line(decision: Decision) -> str:
    marks = {Verdict.ALLOW: "allow", Verdict.DENY: "DENY", Verdict.UNKNOWN: "unknown"}
    return "  ".join(f"{p.value}={marks[decision.purposes[p]]}" for p in PURPOSES)


def _who(signal: Signal) -> str:
    return f"{signal.mechanism.value} ({signal.scope.value})"


def _unknown_explained(decision: Decision) -> str | None:
    """Why the declared purposes left unknown are unknown although a signal spoke: a flat allow of a broader
    purpose (it does not extend to narrower ones, docs/purposes.md) or a signal that did not count."""
    unknown = [p for p in decision.purposes_declared if decision.purposes[p] is Verdict.UNKNOWN]
    phrases: list[str] = []
    for signal in decision.signals:
        why = not_counted(signal)
        if why is not None:
            phrases.append(f"{_who(signal)} {why}")
            continue
        broader = [a for a in dict.fromkeys(a for p in unknown for a in ancestors(p))
                   if signal.statement.get(a) is Verdict.ALLOW and not signal.hierarchical]
        if broader:
            covered = ", ".join(p.value for p in unknown if set(ancestors(p)) & set(broader))
            phrases.append(f"{_who(signal)} allows {', '.join(p.value for p in broader)}, which does not extend "
                           f"to {covered}")
    return "; ".join(dict.fromkeys(phrases)) or None


def _action_line(decision: Decision) -> str:
    reason = decision.reason
    explained = _unknown_explained(decision)
    if explained is not None and "unknown (no signal)" in reason:
        reason = reason.replace("unknown (no signal)", f"unknown ({explained})")
    return f"{decision.action.value.upper()}: {reason}"


def _fetch_line(result: CheckResult) -> str:
    decision = result.decision
    if result.failure is not None:
        return result.problem or ""
    if result.robots_unreachable is not None:
        return (f"not fetched: robots.txt unreachable ({result.robots_unreachable}), so everything on "
                f"{result.origin} is disallowed (RFC 9309 §2.3.1.4)")
    if result.status is None and decision is not None:
        access = decision.signals[0]
        why = _NOT_FETCHED.get(access.mechanism, f"{access.mechanism.value}: {access.evidence}")
        return f"not fetched: {why}"
    line = f"HTTP {result.status} {result.final_url}"
    if result.final_url != result.url:
        line += f" (redirected from {result.url})"
    if result.problem is not None:
        line += " — not a 2xx answer: the signals below are those of the error response"
    return line


#: What `textwrap.wrap` rewrites besides breaking lines (tabs and other whitespace become spaces).
_REWRITTEN_WHITESPACE = re.compile(r"[\t\n\x0b\x0c\r]")


def wrap(text: str, width: int, subsequent_indent: str = "") -> list[str]:
    """`textwrap.wrap(text, width, subsequent_indent=…)`; a line that already fits (no trailing or rewritten
    whitespace) is returned as it is without running the wrapper (most of a check table's lines)."""
    if len(text) <= width and text.strip() and not text[-1].isspace() and not _REWRITTEN_WHITESPACE.search(text):
        return [text]
    return textwrap.wrap(text, width, subsequent_indent=subsequent_indent)


def _wrapped(label: str, text: str) -> list[str]:
    head = f"  {label:<{_LABEL}}"
    return wrap(head + text, _WIDTH, subsequent_indent=" " * len(head)) or [head]


def _bullets(title: str, items: Iterable[str]) -> list[str]:
    listed = list(dict.fromkeys(items))
    if not listed:
        return []
    lines = [f"  {title}"]
    for item in listed:
        wrapped = wrap(item, _WIDTH - 6) or [""]
        lines.append(f"    - {wrapped[0]}")
        lines.extend(f"      {line}" for line in wrapped[1:])
    return lines


def _decision_lines(decision: Decision) -> list[str]:
    declared = ", ".join(p.value for p in decision.purposes_declared)
    lines = [
        f"  agent {decision.agent}; declared purposes {declared}; access {decision.access.value}",
        *_signal_rows(decision),
        f"  {'VERDICTS':<{_LABEL}}{_verdict_line(decision)}",
        *_wrapped("ACTION", _action_line(decision)),
    ]
    if decision.tags:
        lines.append(f"  {'TAGS':<{_LABEL}}{', '.join(t.value for t in decision.tags)}")
    if decision.provenance is not None:
        label = f"  AI-GENERATED {decision.provenance.ai_generated}: {decision.provenance.evidence}"
        lines.extend(wrap(label, _WIDTH, subsequent_indent=" " * 15) or [label])
    return lines


def _failure_note(result: CheckResult) -> str:
    if result.failed_url is not None and result.failed_url != result.url:
        return (f"no verdict: {result.failed_url} did not answer, so a crawl skips everything on {result.origin} "
                f"(robots.txt unreachable: complete disallow, RFC 9309 §2.3.1.4)")
    return "no verdict: the URL did not answer"


def render_check(result: CheckResult, site_warnings: Sequence[str] = ()) -> str:
    """The table for one checked URL; `site_warnings` (its origin's, named by file) are given with the first
    URL of each origin only."""
    lines = [result.url, *_wrapped("FETCH", _fetch_line(result))]
    if result.decision is None:
        lines.extend(_wrapped("", _failure_note(result)))
    else:
        lines.extend(_decision_lines(result.decision))
    lines.extend(_bullets(f"SITE WARNINGS ({result.origin}, shown once per origin)", site_warnings))
    lines.extend(_bullets("WARNINGS", result.warnings))
    return "\n".join(lines)

