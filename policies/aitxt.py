"""Spawning `ai.txt`: robots.txt syntax whose Disallow/Allow withhold/grant AI training (docs/signals/ai-txt.md). Pure.

Grammar: robots.txt records (see `consentry.policies.robots.groups`); only a file with a `User-agent` line and an
Allow/Disallow line is Spawning format (other `ai.txt` formats share the name, docs/signals/ai-txt.md).
Matching is RFC 9309's longest match, but an exact Allow/Disallow tie goes to Disallow (conservative,
tag CONFLICT); a Disallow that only matches case-insensitively (`/IMG.JPG` vs `*.jpg`) denies, tag LENIENT.
"""

from __future__ import annotations

from typing import Self

from consentry.policies.model import FetchStatus, Signal, SiteFile
from consentry.policies.robots.groups import ACCESS_FIELDS, Line, parse_groups, select_groups
from consentry.policies.robots.rules import Rule, RuleMatcher, rules_from
from consentry.policies.robots.urlpattern import PathPattern, compile_pattern, normalize_path, request_path
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

__all__ = ["AiTxtPolicy"]


def _lowered(rule: Rule) -> Rule | None:
    """The same rule with a lower-cased pattern (for the case-insensitive second look)."""
    pattern: PathPattern | None = compile_pattern(rule.line.value.lower())
    return None if pattern is None else Rule(rule.line, pattern, rule.allow)


class AiTxtPolicy:
    """A parsed ai.txt for one product token. Build with `AiTxtPolicy.parse`."""

    __slots__ = ("_fixed", "_lower", "_matcher", "_signals", "_source", "warnings")

    def __init__(self, *, source: str, fixed: tuple[Signal, ...] = (), warnings: tuple[str, ...] = ()):
        self._source = source
        self._fixed = fixed
        self._matcher = RuleMatcher((), allow_wins_ties=False)
        self._lower = RuleMatcher((), allow_wins_ties=False)
        self._signals: dict[tuple[int, Tag | None], Signal] = {}
        self.warnings = warnings

    @classmethod
    def parse(cls, site_file: SiteFile, agent: str) -> Self:
        """The ai.txt policy for `agent` from a fetched `/ai.txt`; never raises."""
        if site_file.status is FetchStatus.UNAVAILABLE:
            return cls(source=site_file.url)
        site_file = site_file.readable()
        if site_file.status is FetchStatus.UNREACHABLE:
            status = site_file.detail if "cannot be read" in site_file.detail else site_file.http_status
            evidence = f"ai.txt {status or site_file.detail or 'unreachable'}: cannot be read, preferences unknown"
            unknown = Signal(Mechanism.AI_TXT, Scope.SITE, site_file.url, evidence, {}, (Tag.UNVERIFIABLE,))
            return cls(source=site_file.url, fixed=(unknown,))
        parsed = parse_groups(site_file.text)
        records = [line for group in parsed.groups for line in group.records]
        if not parsed.groups or not any(line.field in ACCESS_FIELDS for line in records):
            note = "ai.txt has no User-agent group with Allow/Disallow: not Spawning format, ignored"
            return cls(source=site_file.url, warnings=(note,))
        policy = cls(source=site_file.url, warnings=parsed.warnings)
        groups, label = select_groups(parsed.groups, agent)
        policy._build([line for group in groups for line in group.records], label)
        return policy

    def _build(self, records: list[Line], label: str) -> None:
        rules = rules_from(records, "allow", "disallow")
        self._matcher = RuleMatcher(rules, allow_wins_ties=False)
        self._lower = RuleMatcher([r for r in map(_lowered, rules) if r is not None], allow_wins_ties=False)
        for rule in rules:
            for tag in (None, Tag.CONFLICT, Tag.LENIENT):
                self._signals[rule.line.number, tag] = self._signal(rule, label, tag)

    def _signal(self, rule: Rule, label: str, tag: Tag | None) -> Signal:
        verdict = Verdict.ALLOW if rule.allow else Verdict.DENY
        evidence = f"line {rule.line.number}: {rule.line.text}"
        if label != "*":
            evidence += f' (group "{label}")'
        if tag is Tag.CONFLICT:
            evidence += "; an Allow of the same length also matches: disallow wins"
        elif tag is Tag.LENIENT:
            evidence += " (matched case-insensitively)"
        tags = () if tag is None else (tag,)
        return Signal(Mechanism.AI_TXT, Scope.SITE, self._source, evidence, {Purpose.AI_TRAIN: verdict}, tags)

    def signals(self, url: str) -> list[Signal]:
        """The ai.txt signal for `url`: [] when no rule matches or there is no Spawning ai.txt."""
        if self._fixed or not self._matcher:
            return list(self._fixed)
        path = request_path(url)
        rule, conflict = self._matcher.decide(path, url)
        if (rule is None or rule.allow) and path != (lowered := path.lower()):
            loose, _ = self._lower.decide(normalize_path(lowered))
            if loose is not None and not loose.allow:
                return [self._signals[loose.line.number, Tag.LENIENT]]
        if rule is None:
            return []
        return [self._signals[rule.line.number, Tag.CONFLICT if conflict else None]]
