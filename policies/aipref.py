"""IETF AIPREF usage preferences: the vocabulary mapping and the `Content-Usage` header (draft-ietf-aipref-vocab-07,
draft-ietf-aipref-attach-05; docs/signals/content-usage.md). Pure.

Grammar (RFC 9651 Structured Field Dictionary, draft-ietf-aipref-vocab-07 §"Processing"):
    usage-pref = sf-dictionary            ; member = key [ "=" item ] *( ";" parameter )
    value      = Token "y" (allow) / Token "n" (disallow); anything else is unknown, not an error
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from http_sfv.dictionary import Dictionary
from http_sfv.types import Token

from consentry.policies.combine import resolve
from consentry.policies.model import AssetResponse, Reading, Signal
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

__all__ = ["LABELS", "header_signals", "most_restrictive", "parse_usage"]

_P = Purpose
_D, _A = Verdict.DENY, Verdict.ALLOW

#: label -> (statement for `n`, statement for `y`, draft(s) that defined it if legacy) (docs/signals/content-usage.md).
#: `train-ai=y` maps to genai-train only: the narrowest of the label's readings across drafts.
LABELS: dict[str, tuple[dict[Purpose, Verdict], dict[Purpose, Verdict], str | None]] = {
    "train-ai": ({_P.AI_TRAIN: _D}, {_P.GENAI_TRAIN: _A}, None),
    "search": ({_P.SEARCH: _D}, {_P.SEARCH: _A}, None),
    "train-genai": ({_P.GENAI_TRAIN: _D}, {_P.GENAI_TRAIN: _A}, "vocab-02/-03"),
    "all": ({_P.TDM: _D}, {_P.TDM: _A}, "vocab-02"),
    "bots": ({_P.TDM: _D}, {_P.TDM: _A}, "vocab-03/-04"),
    "tdm": ({_P.TDM: _D}, {_P.TDM: _A}, "vocab-01"),
    "ai": ({_P.AI_TRAIN: _D}, {_P.AI_TRAIN: _A}, "vocab-01"),
    "genai": ({_P.GENAI_TRAIN: _D}, {_P.GENAI_TRAIN: _A}, "vocab-01"),
    "ai-use": ({_P.AI_INPUT: _D}, {_P.AI_INPUT: _A}, "vocab-02"),
    "inference": ({_P.AI_INPUT: _D}, {_P.AI_INPUT: _A}, "vocab-01"),
    "ai-output": ({_P.AI_INPUT: _D, _P.SEARCH: _D}, {_P.AI_INPUT: _A, _P.SEARCH: _A}, "vocab-04"),
}

_VALUES = {"y": 1, "n": 0}  # index into the LABELS tuple: 0 = deny statement, 1 = allow statement


def most_restrictive(
    statements: Sequence[Mapping[Purpose, Verdict]], *, hierarchical: bool
) -> tuple[dict[Purpose, Verdict], bool]:
    """Combine statements per purpose after resolving each (docs/purposes.md): DENY > ALLOW (AIPREF
    "Combining Preferences"); also whether they disagreed somewhere."""
    if len(statements) == 1:
        return dict(statements[0]), False
    seen: dict[Purpose, set[Verdict]] = {}
    for statement in statements:
        for purpose, verdict in resolve(statement, hierarchical=hierarchical).items():
            if verdict is not Verdict.UNKNOWN:
                seen.setdefault(purpose, set()).add(verdict)
    merged = {p: _D if _D in verdicts else _A for p, verdicts in seen.items()}
    return merged, any(len(verdicts) > 1 for verdicts in seen.values())


def _member(
    key: str, item: object, statement: dict[Purpose, Verdict], tags: set[Tag], notes: list[str]
) -> None:
    """Apply one dictionary member to the statement being built."""
    if key not in LABELS:
        notes.append(f"unknown label {key!r} ignored")
        return
    value = getattr(item, "value", None)
    params = getattr(item, "params", None) or {}
    if not isinstance(value, Token) or str(value) not in _VALUES:
        notes.append(f"{key}: value {value!r} is neither token y nor n (unknown)")
        return
    deny_stmt, allow_stmt, legacy = LABELS[key]
    allow = _VALUES[str(value)] == 1
    if legacy is not None:
        tags.add(Tag.LEGACY_LABEL)
        notes.append(f"legacy label {key!r} (AIPREF {legacy}) mapped conservatively")
    if not allow and params:
        tags.add(Tag.CONDITIONAL)
        notes.append(
            f"{key}=n carries parameters ({';'.join(map(str, params))}): still a denial, conditional"
        )
    for purpose, verdict in (allow_stmt if allow else deny_stmt).items():
        if statement.get(purpose, verdict) is not verdict:
            tags.add(Tag.CONFLICT)
            notes.append(f"labels disagree on {purpose.value}: deny wins")
        statement[purpose] = _D if _D in (verdict, statement.get(purpose)) else verdict


@lru_cache(maxsize=1024)
def parse_usage(value: str) -> Reading:
    """Read one AIPREF usage preference (an SF Dictionary) into a statement; never raises."""
    if not value.strip():
        return Reading(hierarchical=True)
    dictionary = Dictionary()
    try:
        dictionary.parse(value.encode("utf-8", errors="replace"))
    except (ValueError, TypeError, IndexError, UnicodeError) as exc:
        return Reading(
            notes=(f"not a structured-field dictionary ({exc}): no preference",), hierarchical=True
        )
    statement: dict[Purpose, Verdict] = {}
    tags: set[Tag] = set()
    notes: list[str] = []
    for key, item in dictionary.items():
        _member(str(key), item, statement, tags, notes)
    return Reading(statement, tuple(sorted(tags)), tuple(notes), hierarchical=True)


def _line_values(value: str) -> dict[str, str]:
    """key -> serialised member of one field line ({} if the line does not parse on its own)."""
    dictionary = Dictionary()
    try:
        dictionary.parse(value.encode("utf-8", errors="replace"))
    except (ValueError, TypeError, IndexError, UnicodeError):
        return {}
    return {str(key): repr(getattr(item, "value", item)) for key, item in dictionary.items()}


def _disagreeing_keys(values: Sequence[str]) -> list[str]:
    seen: dict[str, set[str]] = {}
    for value in values:
        for key, member in _line_values(value).items():
            seen.setdefault(key, set()).add(member)
    return sorted(key for key, members in seen.items() if len(members) > 1)


def header_signals(response: AssetResponse) -> list[Signal]:
    """The `Content-Usage` response header as one signal (attach-05 "HTTP Content-Usage Header Field"); [] when absent.

    Field lines are joined with ", " and parsed once (SF: the last key wins); lines that disagree
    on a key are tagged CONFLICT. A header that says nothing still yields a signal with an empty
    statement, so the reason shows up in the evidence.
    """
    values = response.header("content-usage")
    if not values:
        return []
    joined = ", ".join(value.strip() for value in values)
    reading = parse_usage(joined)
    tags, notes = set(reading.tags), list(reading.notes)
    if len(values) > 1 and (keys := _disagreeing_keys(values)):
        tags.add(Tag.CONFLICT)
        notes.append(f"field lines disagree on {', '.join(keys)}: the last one wins")
    if not reading.statement and not reading.notes:
        notes.append("no known label with value y or n")
    evidence = f"Content-Usage: {joined}" + "".join(f"; {note}" for note in notes)
    return [
        Signal(
            mechanism=Mechanism.CONTENT_USAGE_HEADER,
            scope=Scope.RESPONSE,
            source=response.url,
            evidence=evidence,
            statement=reading.statement,
            tags=tuple(sorted(tags)),
            hierarchical=True,
        )
    ]
