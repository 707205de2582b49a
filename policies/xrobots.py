"""`X-Robots-Tag` headers and `<meta name="robots">`: `noai`, `noimageai` and related directives
(docs/signals/x-robots-tag.md).

Pure. Grammar (docs/signals/x-robots-tag.md): `field-value = item *("," item)`; `item = [agent ":"] directive`, where an
`agent` prefix (`[A-Za-z0-9_.-]+`, not a colon-valued directive such as `max-snippet`) addresses the rest
of the line; the agent resets at each field line. Directives are case-insensitive; unknown ones are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from consentry.policies.html import HtmlHead
from consentry.policies.model import AssetResponse, Signal
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

__all__ = ["header_signals", "meta_signals", "page_media_signals", "parse_directives"]

_MAX_SHOWN = 200  # characters of a remote value quoted in evidence
_MAX_LINES = 10  # field lines / elements quoted in one signal's evidence
_PREFIXED = re.compile(r"([A-Za-z0-9_.\-]+)\s*:\s*(.*)", re.DOTALL)
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]+")
_COLON_VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})
_ZERO = re.compile(r"[+-]?0+(?:\.0*)?")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg", ".bmp", ".tif", ".tiff", ".heic")  # fmt: skip
# Meta names that are never crawler names (a `keywords` content of "noai" is not a directive).
_NOT_AGENTS = frozenset(
    {"description", "keywords", "viewport", "author", "generator", "theme-color", "referrer", "application-name",
     "color-scheme", "creator", "publisher", "format-detection", "tdm-reservation", "tdm-policy", "rating",
     "copyright", "title", "subject", "language", "revisit-after"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Effect:
    """What one directive says (docs/signals/x-robots-tag.md "Directives")."""

    statement: Mapping[Purpose, Verdict]
    tags: tuple[Tag, ...] = ()
    images_only: bool = False
    note: str = ""


_NOAI: Mapping[Purpose, Verdict] = {Purpose.AI_TRAIN: Verdict.DENY, Purpose.AI_INPUT: Verdict.DENY}
_NOSEARCH: Mapping[Purpose, Verdict] = {Purpose.SEARCH: Verdict.DENY}
_NOSNIPPET = _Effect(
    {Purpose.AI_INPUT: Verdict.DENY},
    (Tag.VENDOR_SPECIFIC,),
    note="Google: no snippet and no AI Overviews input",
)
_DIRECTIVES: dict[str, _Effect] = {
    "noai": _Effect(_NOAI),
    "noimageai": _Effect(_NOAI, images_only=True),
    "noml": _Effect(_NOAI, (Tag.LENIENT,), note="noml is an undocumented token, read as noai"),
    "noindex": _Effect(_NOSEARCH),
    "none": _Effect(_NOSEARCH),
    "noimageindex": _Effect(_NOSEARCH, images_only=True),
    "nosnippet": _NOSNIPPET,
    "max-snippet:0": _NOSNIPPET,
    "noarchive": _Effect(
        {Purpose.GENAI_TRAIN: Verdict.DENY, Purpose.AI_INPUT: Verdict.DENY},
        (Tag.VENDOR_SPECIFIC,),
        note="Bing/Amazon: no generative training, no chat answers",
    ),
    "nocache": _Effect(
        {}, (Tag.VENDOR_SPECIFIC,), note="Bing nocache: URL/title/snippet only (no statement)"
    ),
}
#: Directives a page passes down to the media it references (docs/signals/x-robots-tag.md).
_PROPAGATING = frozenset({"noai", "noimageai", "noml", "noimageindex"})
#: Directives that, addressed to another crawler, are recorded as inferred evidence (docs/readings.md).
_INFERRING = frozenset({"noai", "noimageai"})


def _normalise(item: str) -> str:
    """Lower-case a directive; `name : value` of a colon-valued directive becomes `name:value`."""
    found = _PREFIXED.fullmatch(item)
    if found and found.group(1).lower() in _COLON_VALUED:
        return f"{found.group(1).lower()}:{found.group(2).strip().lower()}"
    return item.lower()


def parse_directives(value: str) -> list[tuple[str | None, str]]:
    """(agent or None for all, lower-cased directive) pairs of ONE header line or meta content."""
    out: list[tuple[str | None, str]] = []
    agent: str | None = None
    for raw in value.split(","):
        item = raw.strip()
        found = _PREFIXED.fullmatch(item)
        if found and found.group(1).lower() not in _COLON_VALUED:
            agent, item = found.group(1), found.group(2).strip()
        if item:
            out.append((agent, _normalise(item)))
    return out


def _effect(directive: str) -> _Effect | None:
    if directive.startswith("max-snippet:") and _ZERO.fullmatch(directive[12:]):
        return _DIRECTIVES["max-snippet:0"]
    return _DIRECTIVES.get(directive)


def _shown(value: str) -> str:
    return value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"


@dataclass(slots=True)
class _Group:
    """Directives of one response sharing the same tags: they become one Signal."""

    evidence: list[str] = field(default_factory=list)
    statement: dict[Purpose, Verdict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Target:
    """Where signals go: mechanism, scope, source, and whether image-only directives apply."""

    mechanism: Mechanism
    scope: Scope
    source: str
    is_image: bool


def _add(groups: dict[tuple[Tag, ...], _Group], key: tuple[Tag, ...], evidence: str) -> _Group:
    group = groups.setdefault(key, _Group())
    if evidence not in group.evidence and len(group.evidence) < _MAX_LINES:
        group.evidence.append(evidence)
    return group


def _build(hits: Iterable[tuple[str, str]], target: _Target, extra: tuple[Tag, ...] = ()) -> list[Signal]:
    """One Signal per tag set from (directive, evidence) hits; all verdicts are DENY, so union = most restrictive."""
    groups: dict[tuple[Tag, ...], _Group] = {}
    for directive, evidence in hits:
        effect = _effect(directive)
        if effect is None:
            continue
        group = _add(groups, (*effect.tags, *extra), evidence)
        if effect.note and effect.note not in group.notes:
            group.notes.append(effect.note)
        if effect.images_only and not target.is_image:
            note = f"{directive} applies to images only, not to this {target.scope.value}"
            if note not in group.notes:
                group.notes.append(note)
            continue
        group.statement.update(effect.statement)
    return [_signal(target, tags, group) for tags, group in groups.items()]


def _signal(target: _Target, tags: tuple[Tag, ...], group: _Group) -> Signal:
    evidence = "; ".join(group.evidence) + "".join(f" ({note})" for note in group.notes)
    return Signal(target.mechanism, target.scope, target.source, evidence, dict(group.statement), tags)


def _split(
    lines: Iterable[tuple[str, str]], agent: str
) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """(directive, evidence) hits for us / all, and per other agent, from (evidence, value) lines."""
    ours: list[tuple[str, str]] = []
    others: dict[str, list[tuple[str, str]]] = {}
    wanted = agent.casefold()
    for evidence, value in lines:
        for addressee, directive in parse_directives(value):
            if addressee is None or addressee.casefold() == wanted:
                ours.append((directive, evidence))
            elif directive in _INFERRING:
                others.setdefault(addressee, []).append((directive, evidence))
    return ours, others


def _inferred(others: Mapping[str, Sequence[tuple[str, str]]], target: _Target, agent: str) -> list[Signal]:
    out: list[Signal] = []
    for addressee, hits in others.items():
        noted = [(d, f"{e} (addressed to {_shown(addressee)}, not {agent}: inferred)") for d, e in hits]
        out += _build(noted, target, (Tag.INFERRED,))
    return out


def _is_image(response: AssetResponse) -> bool:
    """image/*; without a usable Content-Type, an image file extension counts (conservative)."""
    media = response.content_type
    if media in ("", "application/octet-stream"):
        path = response.url.split("?", 1)[0].split("#", 1)[0].lower()
        return path.endswith(_IMAGE_SUFFIXES)
    return media.startswith("image/")


def header_signals(response: AssetResponse, agent: str) -> list[Signal]:
    """Signals from every `X-Robots-Tag` line of a response (docs/signals/x-robots-tag.md), scope `response`."""
    lines = [(f"X-Robots-Tag: {_shown(line)}", line) for line in response.header("x-robots-tag")]
    if not lines:
        return []
    ours, others = _split(lines, agent)
    target = _Target(Mechanism.X_ROBOTS_TAG, Scope.RESPONSE, response.url, _is_image(response))
    return _build(ours, target) + _inferred(others, target, agent)


def _meta_lines(metas: tuple[tuple[str, str, str], ...]) -> list[tuple[str, str, str]]:
    """(meta name, evidence, content) of robots-style metas: `robots`, our token, or other crawler names."""
    out: list[tuple[str, str, str]] = []
    for attribute, key, content in metas:
        if attribute != "name" or key in _NOT_AGENTS or not _TOKEN.fullmatch(key):
            continue
        out.append((key, f'<meta name="{_shown(key)}" content="{_shown(content)}">', content))
    return out


_Hits = tuple[tuple[str, str], ...]


@lru_cache(maxsize=256)
def _meta_hits(
    metas: tuple[tuple[str, str, str], ...], agent: str
) -> tuple[_Hits, tuple[tuple[str, _Hits], ...]]:
    """Split page metas into directives for us / all and noai-style directives for other crawlers.
    Memoised: a page's own signals and what it passes to its media read the same hits, and most pages of a
    site carry the same metas."""
    wanted = agent.casefold()
    ours: list[tuple[str, str]] = []
    others: dict[str, list[tuple[str, str]]] = {}
    for key, evidence, content in _meta_lines(metas):
        if key in ("robots", wanted):
            mine, theirs = _split([(evidence, content)], agent)
            ours += mine
            for name, hits in theirs.items():
                others.setdefault(name, []).extend(hits)
        else:
            hits = [(d, evidence) for a, d in parse_directives(content) if a is None and d in _INFERRING]
            if hits:
                others.setdefault(key, []).extend(hits)
    return tuple(ours), tuple((name, tuple(hits)) for name, hits in others.items())


def meta_signals(head: HtmlHead, url: str, agent: str) -> list[Signal]:
    """Signals from robots metas of an HTML page, for the page itself (docs/signals/x-robots-tag.md), scope `document`."""
    ours, others = _meta_hits(head.metas, agent)
    if not ours and not others:
        return []
    target = _Target(Mechanism.META_ROBOTS, Scope.DOCUMENT, url, is_image=False)
    return _build(ours, target) + _inferred(dict(others), target, agent)


def page_media_signals(head: HtmlHead, url: str, agent: str) -> tuple[Signal, ...]:
    """What a page passes down to the images/media it references (docs/signals/x-robots-tag.md): noai, noimageai, noimageindex."""
    ours, _ = _meta_hits(head.metas, agent)
    hits = [(d, f"{e} on {url}") for d, e in ours if d in _PROPAGATING]
    if not hits:
        return ()
    return tuple(_build(hits, _Target(Mechanism.PAGE_INHERITED, Scope.DOCUMENT, url, is_image=True)))
