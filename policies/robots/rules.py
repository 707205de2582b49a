"""Longest-match selection over path rules, for every robots-style matcher (RFC 9309 §2.2.2;
docs/signals/robots.md, ai-txt.md). Pure; the patterns themselves are `consentry.policies.robots.urlpattern`'s.

The most specific (longest, in octets) matching pattern decides; ties go to Allow for access rules
(RFC 9309) and to the conservative side where docs/readings.md says so (ai.txt, DisallowAITraining).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from consentry.policies.robots.groups import Line
from consentry.policies.robots.urlpattern import PathPattern, compile_pattern

__all__ = ["Rule", "RuleMatcher", "rules_from"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A path rule: the record it came from, its compiled pattern, and whether it allows."""

    line: Line
    pattern: PathPattern
    allow: bool


def rules_from(lines: Iterable[Line], allow_field: str, disallow_field: str) -> list[Rule]:
    """The path rules among `lines`; an empty pattern matches nothing and is dropped (RFC 9309 §2.2.2)."""
    rules: list[Rule] = []
    for line in lines:
        if line.field not in (allow_field, disallow_field):
            continue
        pattern = compile_pattern(line.value)
        if pattern is not None:
            rules.append(Rule(line, pattern, line.field == allow_field))
    return rules


def _is_plain(pattern: PathPattern) -> bool:
    return "*" not in pattern.normalized and not pattern.normalized.endswith("$")


class RuleMatcher:
    """Rules ordered by specificity; `decide(path)` is one scan that stops at the first match.

    Like Protego, plain prefixes are checked all at once with `str.startswith(tuple)`, so a path no
    plain prefix matches only scans the wildcard rules.
    """

    __slots__ = ("_any_special", "_plain", "_prefixes", "_rules", "_special", "_tie_lengths")

    def __init__(self, rules: Sequence[Rule], *, allow_wins_ties: bool = True) -> None:
        ordered = sorted(
            rules, key=lambda r: (-r.pattern.length, r.allow is not allow_wins_ties, r.line.number)
        )
        self._rules = tuple(ordered)
        self._special = tuple(r for r in ordered if not _is_plain(r.pattern))
        self._plain = tuple(r for r in ordered if _is_plain(r.pattern))
        self._prefixes = tuple(r.pattern.normalized for r in self._plain)
        # One alternation answers "does any wildcard rule match?" in a single regex call; most paths
        # match none, and then only the plain prefixes (one startswith) are left to scan.
        self._any_special = (
            re.compile("|".join(f"(?:{r.pattern.regex_source})" for r in self._special), re.DOTALL)
            if self._special else None
        )
        allow_lengths = {r.pattern.length for r in ordered if r.allow}
        self._tie_lengths = frozenset(r.pattern.length for r in ordered if not r.allow) & allow_lengths

    def __bool__(self) -> bool:
        return bool(self._rules)

    def decide(self, path: str) -> tuple[Rule | None, bool]:
        """The deciding rule for the normalised `path` (None: no rule matches) and whether an
        opposite rule of the same length also matched (a tie, tag CONFLICT where it matters)."""
        plain_hit = path.startswith(self._prefixes)
        if self._any_special is None or self._any_special.match(path) is None:
            rules = self._plain if plain_hit else ()
        else:
            rules = self._rules if plain_hit else self._special
        for rule in rules:
            if rule.pattern.matches(path):
                if rule.pattern.length in self._tie_lengths:
                    return rule, self._opposite_matches(rule, path)
                return rule, False
        return None, False

    def _opposite_matches(self, rule: Rule, path: str) -> bool:
        return any(
            other.allow is not rule.allow
            and other.pattern.length == rule.pattern.length
            and other.pattern.matches(path)
            for other in self._rules
        )
