"""The usage records robots.txt carries besides Allow/Disallow: AIPREF `Content-Usage` rules,
`DisallowAITraining`/`AllowAITraining` and groups of well-known AI tokens (docs/signals/robots.md). Pure.

Grammar (draft-ietf-aipref-attach-05; draft-canel-robots-ai-control-00):
    content-usage = *WS "content-usage" *WS ":" *WS [ path-pattern 1*WS ] usage-pref EOL
    ai-training   = *WS ("disallowaitraining" / "allowaitraining") *WS ":" *WS path-pattern EOL
Everything URL-independent is built once; per URL each matcher is one ordered scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from consentry.policies.aipref import most_restrictive, parse_usage
from consentry.policies.aitokens import TOKENS
from consentry.policies.model import Signal
from consentry.policies.robots.groups import ACCESS_FIELDS, Group, Line
from consentry.policies.robots.rules import Rule, RuleMatcher, rules_from
from consentry.policies.robots.urlpattern import PathPattern, compile_pattern, match_key
from consentry.policies.vocabulary import PURPOSES, Mechanism, Purpose, Scope, Tag, Verdict

__all__ = ["AiTrainingRules", "InferredRules", "UsageRules", "usage_notes"]

_PATH_END = re.compile(r"[ \t]")
_MAX_CACHE = 4096


def _split_usage(value: str) -> tuple[PathPattern | None, str]:
    """(path pattern or None, preference) of a Content-Usage value (attach-05: a value starting with
    "/" has a path that ends at the first SP/HTAB)."""
    if not value.startswith("/"):
        return None, value
    parts = _PATH_END.split(value, maxsplit=1)
    return compile_pattern(parts[0]), parts[1].strip() if len(parts) > 1 else ""


def usage_notes(line: Line) -> list[str]:
    """Remarks for site owners about one Content-Usage record (legacy labels, parse failures...)."""
    _path, preference = _split_usage(line.value)
    notes = [f"line {line.number}: Content-Usage: {note}" for note in parse_usage(preference).notes]
    if line.value.startswith("/") and not preference:
        notes.append(f"line {line.number}: Content-Usage: a path without a preference says nothing")
    return notes


class UsageRules:
    """The `Content-Usage` rules of the selected group (or of no group): longest path wins, rules of
    equal length are combined most-restrictively (tag CONFLICT when they disagree)."""

    __slots__ = ("_cache", "_entries", "_extra_tags", "_source")

    def __init__(self, lines: Iterable[Line], label: str, source: str, *, extra_tags: tuple[Tag, ...] = ()):
        self._source, self._extra_tags = source, extra_tags
        self._cache: dict[tuple[int, ...], Signal] = {}
        entries: list[tuple[int, PathPattern | None, Line, str]] = []
        for line in lines:
            pattern, _preference = _split_usage(line.value)
            evidence = (
                f'line {line.number}: {line.text} (group "{label}")'
                if label
                else f"line {line.number}: {line.text}"
            )
            entries.append((pattern.length if pattern else 0, pattern, line, evidence))
        entries.sort(key=lambda entry: -entry[0])
        self._entries = tuple(entries)

    def signal(self, path: str) -> Signal | None:
        """The Content-Usage signal for the normalised `path`, or None when no rule covers it."""
        hits: list[int] = []
        path_key = match_key(path)
        for index, (length, pattern, _line, _evidence) in enumerate(self._entries):
            if hits and length < self._entries[hits[0]][0]:
                break
            if pattern is None or pattern.matcher(path_key):
                hits.append(index)
        if not hits:
            return None
        key = tuple(hits)
        signal = self._cache.get(key)
        if signal is None:
            signal = self._build(key)
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[key] = signal
        return signal

    def _build(self, hits: Sequence[int]) -> Signal:
        readings = [parse_usage(_split_usage(self._entries[i][2].value)[1]) for i in hits]
        statement, conflict = most_restrictive([r.statement for r in readings], hierarchical=True)
        tags = {tag for r in readings for tag in r.tags} | set(self._extra_tags)
        if conflict:
            tags.add(Tag.CONFLICT)
        notes = [note for r in readings for note in r.notes]
        evidence = " + ".join(self._entries[i][3] for i in hits) + "".join(f"; {note}" for note in notes)
        return Signal(
            Mechanism.ROBOTS_CONTENT_USAGE,
            Scope.SITE,
            self._source,
            evidence,
            statement,
            tuple(sorted(tags)),
            hierarchical=True,
        )


class AiTrainingRules:
    """`DisallowAITraining`/`AllowAITraining` of the selected group (draft-canel-robots-ai-control-00): path-matched, longest
    wins, a tie goes to Disallow (conservative, tag CONFLICT); genai-train DENY/ALLOW, legacy draft."""

    __slots__ = ("_matcher", "_signals", "_source")

    def __init__(self, lines: Iterable[Line], label: str, source: str):
        rules = rules_from(lines, "allowaitraining", "disallowaitraining")
        self._matcher = RuleMatcher(rules, allow_wins_ties=False)
        self._source = source
        self._signals: dict[tuple[int, bool], Signal] = {}
        for rule in rules:
            for conflict in (False, True):
                self._signals[rule.line.number, conflict] = self._build(rule, label, conflict=conflict)

    def _build(self, rule: Rule, label: str, *, conflict: bool) -> Signal:
        tags = (Tag.CONFLICT, Tag.LEGACY_LABEL) if conflict else (Tag.LEGACY_LABEL,)
        verdict = Verdict.ALLOW if rule.allow else Verdict.DENY
        evidence = (
            f'line {rule.line.number}: {rule.line.text} (group "{label}"; draft-canel-robots-ai-control)'
        )
        if conflict:
            evidence += "; an AllowAITraining rule of the same length also matches: disallow wins"
        return Signal(
            Mechanism.ROBOTS_DISALLOW_AI_TRAINING,
            Scope.SITE,
            self._source,
            evidence,
            {Purpose.GENAI_TRAIN: verdict},
            tags,
        )

    def signal(self, path: str) -> Signal | None:
        """The signal of the deciding rule for the normalised `path`, or None."""
        if not self._matcher:
            return None
        rule, conflict = self._matcher.decide(path)
        return None if rule is None else self._signals[rule.line.number, conflict]


def _token_rules(groups: Sequence[Group], own_token: str) -> tuple[dict[str, list[Line]], dict[str, str]]:
    """Known AI token -> its merged access rules (RFC 9309 merging, per token); token -> name as written."""
    rules: dict[str, list[Line]] = {}
    names: dict[str, str] = {}
    for group in groups:
        access = [line for line in group.records if line.field in ACCESS_FIELDS]
        for agent, name in zip(group.agents, group.names, strict=True):
            entry = TOKENS.get(agent)
            if entry is None or entry.statement is None or agent == own_token:
                continue
            names.setdefault(agent, name)
            bucket = rules.setdefault(agent, [])
            bucket += [line for line in access if line not in bucket]
    return rules, names


class InferredRules:
    """Groups that name well-known AI tokens (docs/signals/robots.md): a path they disallow yields an INFERRED
    signal per distinct implied statement. Tokens with identical rules share one matcher."""

    __slots__ = ("_cache", "_sets", "_source")

    def __init__(self, groups: Sequence[Group], own_token: str, source: str):
        self._source = source
        self._cache: dict[tuple[tuple[int, int], ...], tuple[Signal, ...]] = {}
        token_rules, names = _token_rules(groups, own_token)
        by_rules: dict[tuple[tuple[str, str], ...], tuple[list[Line], list[str]]] = {}
        for token, lines in token_rules.items():
            key = tuple(sorted((line.field, line.value) for line in lines))
            by_rules.setdefault(key, (lines, []))[1].append(token)
        sets: list[tuple[RuleMatcher, tuple[tuple[str, str], ...]]] = []
        for lines, tokens in by_rules.values():
            rules = rules_from(lines, "allow", "disallow")
            if any(not rule.allow for rule in rules):
                sets.append((RuleMatcher(rules), tuple((token, names[token]) for token in tokens)))
        self._sets = tuple(sets)

    def signals(self, path: str) -> tuple[Signal, ...]:
        """The inferred signals for the normalised `path` (empty when no AI-token group disallows it)."""
        hits: list[tuple[int, int]] = []
        rules: list[Rule] = []
        for index, (matcher, _tokens) in enumerate(self._sets):
            rule, _ = matcher.decide(path)
            if rule is not None and not rule.allow:
                hits.append((index, rule.line.number))
                rules.append(rule)
        if not hits:
            return ()
        key = tuple(hits)
        found = self._cache.get(key)
        if found is None:
            found = self._build([(self._sets[i][1], rule) for (i, _), rule in zip(hits, rules, strict=True)])
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _build(self, hits: Sequence[tuple[tuple[tuple[str, str], ...], Rule]]) -> tuple[Signal, ...]:
        parts: dict[frozenset[tuple[Purpose, Verdict]], list[str]] = {}
        for tokens, rule in hits:
            by_statement: dict[frozenset[tuple[Purpose, Verdict]], list[str]] = {}
            for token, name in tokens:
                statement = TOKENS[token].statement or {}
                by_statement.setdefault(frozenset(statement.items()), []).append(name)
            for statement_key, shown in by_statement.items():
                text = f"{', '.join(shown)}: {rule.line.text} (line {rule.line.number})"
                parts.setdefault(statement_key, []).append(text)
        return tuple(
            Signal(
                Mechanism.ROBOTS_INFERRED,
                Scope.SITE,
                self._source,
                "; ".join(texts) + " (groups of other AI crawlers: evidence of intent, see docs/signals/robots.md)",
                _as_statement(statement_key),
                (Tag.INFERRED,),
            )
            for statement_key, texts in parts.items()
        )


def _as_statement(items: frozenset[tuple[Purpose, Verdict]]) -> Mapping[Purpose, Verdict]:
    """The statement in `PURPOSES` order: a frozenset's own order changes with the interpreter's hash seed, and
    the record (and an audit's comparison of two runs' output) must not."""
    found = dict(items)
    return {purpose: found[purpose] for purpose in PURPOSES if purpose in found}
