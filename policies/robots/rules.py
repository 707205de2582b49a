"""Longest-match selection over path rules, for every robots-style matcher (RFC 9309 §2.2.2;
docs/signals/robots.md, ai-txt.md). Pure; the patterns themselves are `consentry.policies.robots.urlpattern`'s.

The most specific (longest, in octets) matching pattern decides; ties go to Allow for access rules
(RFC 9309) and to the conservative side where docs/readings.md says so (ai.txt, DisallowAITraining).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from consentry.policies.robots.groups import Line
from consentry.policies.robots.urlpattern import PathPattern, compile_pattern, match_key, server_key

__all__ = ["Rule", "RuleMatcher", "rules_from"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A path rule: the record it came from, its compiled pattern, and whether it allows."""

    line: Line
    pattern: PathPattern
    allow: bool


#: What `RuleMatcher` answers: the deciding rule (None: none matches) and whether an opposite rule ties with it.
_Choice = tuple[Rule | None, bool]


def _required_literals(rules: Sequence[Rule]) -> re.Pattern[str] | None:
    """One search that finds, in a match key, a literal every one of `rules` needs (its longest segment): when it
    finds none, no wildcard rule can match and the scan skips them all (an `ai.txt` of `Disallow: *.jpg` lines
    is then one search, not one test per line). None when some rule has no literal (`*`, `$`)."""
    literals = {max(rule.pattern.segments, key=len) for rule in rules}
    if not rules or "" in literals:
        return None
    return re.compile("|".join(re.escape(literal) for literal in sorted(literals, key=lambda text: (-len(text), text))))


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


class RuleMatcher:
    """Rules ordered by specificity; `decide(path)` is one scan that stops at the first match.

    Like Protego, plain prefixes are checked all at once with `str.startswith(tuple)`, so a path no
    plain prefix matches only scans the wildcard rules. Every comparison is on the path's match key
    (`consentry.policies.robots.urlpattern.match_key`), computed once per path; wildcard rules match in
    linear time.
    """

    __slots__ = (
        "_all_tests", "_plain", "_plain_tests", "_prefixes", "_rules", "_special", "_special_filter",
        "_special_tests", "_tie_lengths",
    )

    def __init__(self, rules: Sequence[Rule], *, allow_wins_ties: bool = True) -> None:
        ordered = sorted(
            rules, key=lambda r: (-r.pattern.length, r.allow is not allow_wins_ties, r.line.number)
        )
        self._rules = tuple(ordered)
        self._special = tuple(r for r in ordered if not r.pattern.plain)
        self._plain = tuple(r for r in ordered if r.pattern.plain)
        self._prefixes = tuple(r.pattern.segments[0] for r in self._plain)
        allow_lengths = {r.pattern.length for r in ordered if r.allow}
        self._tie_lengths = frozenset(r.pattern.length for r in ordered if not r.allow) & allow_lengths
        self._all_tests = self._tests(ordered)
        self._special_tests = self._tests(self._special)
        self._plain_tests = self._tests(self._plain)
        self._special_filter = _required_literals(self._special)

    def _tests(self, rules: Sequence[Rule]) -> tuple[tuple[Callable[[str], bool], Rule, _Choice | None], ...]:
        """(key test, rule, the answer when it matches; None when an opposite rule of its length may tie)."""
        return tuple((r.pattern.matcher, r, None if r.pattern.length in self._tie_lengths else (r, False))
                     for r in rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def decide(self, path: str, url: str | None = None) -> tuple[Rule | None, bool]:
        """The deciding rule for the request `path` (None: no rule matches) and whether an opposite
        rule of the same length also matched (a tie, tag CONFLICT where it matters).

        A path with `//` or an encoded slash is also read as a lenient server resolves it
        (`server_key`); a Disallow under that reading wins over an Allow or no match under the RFC 9309
        one (conservative). `url`, when given, is the URL as written, for that second reading (the
        request path has its dot segments resolved already).
        """
        rule, tie = self._decide_key(match_key(path))
        if rule is None or rule.allow:
            lenient = server_key(url if url is not None else path)
            if lenient is not None:
                other, other_tie = self._decide_key(lenient)
                if other is not None and not other.allow:
                    return other, other_tie
        return rule, tie

    def _decide_key(self, key: str) -> tuple[Rule | None, bool]:
        special = self._special_filter is None or self._special_filter.search(key) is not None
        if key.startswith(self._prefixes):
            tests = self._all_tests if special else self._plain_tests
        elif special:
            tests = self._special_tests
        else:
            return None, False
        for test, rule, choice in tests:
            if test(key):
                return choice if choice is not None else (rule, self._opposite_matches(rule, key))
        return None, False

    def _opposite_matches(self, rule: Rule, key: str) -> bool:
        return any(
            other.allow is not rule.allow
            and other.pattern.length == rule.pattern.length
            and other.pattern.matches_key(key)
            for other in self._rules
        )
