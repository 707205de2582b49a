"""RSL 1.0 licence documents: discovery, hardened XML reading, per-URL usage resolution (RSL 1.0;
docs/signals/rsl.md).

Pure: the caller fetches the documents `discover` names and hands them in as `SiteFile`s; nothing here
resolves entities, loads a DTD or touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lxml import etree

from consentry.policies.aipref import LABELS, parse_usage
from consentry.policies.html import HtmlHead
from consentry.policies.links import parse_links
from consentry.policies.model import AssetResponse, FetchStatus, Signal, SiteFile, media_type
from consentry.policies.robots.urlpattern import PathPattern, compile_pattern, request_path
from consentry.policies.safexml import parse_untrusted
from consentry.policies.vocabulary import PARENT, PURPOSES, Mechanism, Purpose, Scope, Tag, Verdict, ancestors

__all__ = ["RSL_MEDIA_TYPE", "RSL_NAMESPACE", "RslDocument", "discover"]

RSL_NAMESPACE = "https://rslstandard.org/rsl"
RSL_MEDIA_TYPE = "application/rsl+xml"
#: Root namespaces read with tag `lenient` (none at all, or the obvious misspellings of the RSL one).
_LENIENT_NAMESPACES = frozenset({"", "http://rslstandard.org/rsl", "https://rslstandard.org/rsl/"})
_NAMESPACES = _LENIENT_NAMESPACES | {RSL_NAMESPACE}
_MAX_CONTENTS = 10_000  # more <content> elements than this is abuse: unverifiable, not partially read
_TOKEN_SPLIT = re.compile(r"[\s,]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: docs/signals/rsl.md: RSL usage token -> purposes. `ai-index` is read as ai-input (closest; raw kept in evidence).
_USAGE: dict[str, tuple[Purpose, ...]] = {
    "all": (Purpose.TDM,),
    "ai-all": (Purpose.AI_TRAIN, Purpose.AI_INPUT),
    "ai-train": (Purpose.AI_TRAIN,),
    "ai-input": (Purpose.AI_INPUT,),
    "ai-index": (Purpose.AI_INPUT,),
    "search": (Purpose.SEARCH,),
}
#: Each purpose with everything below it (docs/purposes.md tree).
_SUBTREE = {p: frozenset(q for q in PURPOSES if q is p or p in ancestors(q)) for p in PURPOSES}


def _expand(token: str, *, permit: bool) -> frozenset[Purpose]:
    """The purposes a usage token speaks to, umbrellas and inheritance (docs/purposes.md) included (RSL is hierarchical)."""
    if token in _USAGE:
        roots: Iterable[Purpose] = _USAGE[token]
    else:  # an AIPREF label (docs/signals/content-usage.md), read by the AIPREF module as `label=y` / `label=n`
        roots = parse_usage(f"{token}={'y' if permit else 'n'}").statement
    return frozenset().union(*(_SUBTREE[p] for p in roots))


#: What one `<content>` says for one purpose: the verdict, and whether it is a conditional (priced) DENY.
_Cell = tuple[Verdict, bool]


@dataclass(frozen=True, slots=True)
class _Content:
    """One `<content>`: where it applies, and what it says per purpose (already resolved inside it)."""

    url: str
    pattern: PathPattern
    host: str | None  # a full-URL pattern's authority (may hold `*`); None for a server path
    index: int
    cells: Mapping[Purpose, _Cell]
    evidence: str
    legacy: bool

    def applies(self, authority: str, path: str) -> bool:
        if self.host is not None and not _host_matches(self.host, authority):
            return False
        return self.pattern.matches(path)


def _host_matches(pattern: str, authority: str) -> bool:
    if "*" not in pattern:
        return pattern == authority
    return re.fullmatch("[^/]*".join(map(re.escape, pattern.split("*"))), authority) is not None


def _authority(url: str) -> str:
    """Lower-cased host, plus `:port` when it is not the scheme's default; '' when unparseable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    return host if port in (None, _DEFAULT_PORTS.get(parts.scheme.lower())) else f"{host}:{port}"


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    """Child elements called `name` in the RSL namespace or none (comments, PIs and entities skipped)."""
    for child in element:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.localname == name and (qname.namespace or "") in (RSL_NAMESPACE, ""):
            yield child


def _attr(element: etree._Element, name: str) -> str:
    return str(element.get(name) or "").strip()


@dataclass(slots=True)
class _LicenceReader:
    """Reads the `<license>` elements of one `<content>` into per-purpose cells, evidence and warnings.

    Grammar (RSL 1.0): `license = *( permits / prohibits / payment / legal )`;
    `permits|prohibits type="usage|user|geo"` holding a comma-separated token list; `payment type`.
    """

    server: str
    warnings: list[str]
    denied: set[Purpose] = field(default_factory=set)
    free: set[Purpose] = field(default_factory=set)
    priced: set[Purpose] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    legacy: bool = False

    def read(self, licence: etree._Element) -> None:
        conditions = self._conditions(licence)
        for kind in ("prohibits", "permits"):
            for element in _children(licence, kind):
                self._usage(kind, element, conditions)

    def _conditions(self, licence: etree._Element) -> list[str]:
        """Why a permission in this licence is an offer rather than consent (empty: consent)."""
        payments = [_attr(p, "type") for p in _children(licence, "payment")]  # exact: "FREE" is not free
        out = [f"payment {t or '(no type)'}" for t in payments if t != "free"]
        if not payments:
            out.append("no <payment> element")  # docs/readings.md: ALLOW only for payment `free`
        if self.server:
            out.append(f"licence server {self.server}")
        for kind in ("permits", "prohibits"):
            for element in _children(licence, kind):
                kind_type, tokens = _attr(element, "type").lower(), _tokens(element)
                if kind_type in ("user", "geo"):
                    self.notes.append(f"{kind} {kind_type} {','.join(tokens)}")
                limits_us = ("commercial" not in tokens) == (kind == "permits")
                if kind_type == "geo" or (kind_type == "user" and limits_us):
                    out.append(f"{kind} {kind_type} {','.join(tokens)}")
        return out

    def _usage(self, kind: str, element: etree._Element, conditions: list[str]) -> None:
        kind_type = _attr(element, "type").lower()
        if kind_type not in ("usage", "") or (kind_type == "" and kind == "permits"):
            if kind_type not in ("user", "geo"):
                self.warnings.append(f"<{kind} type={kind_type!r}> ignored (expected usage, user or geo)")
            return
        tokens = [t for t in _tokens(element) if self._known(t)]
        if not tokens:
            return
        if kind == "prohibits":
            self.denied.update(*(_expand(t, permit=False) for t in tokens))
            self.notes.append(f"prohibits usage {','.join(tokens)}")
            return
        (self.priced if conditions else self.free).update(*(_expand(t, permit=True) for t in tokens))
        terms = "; ".join(conditions) + " -> conditional" if conditions else "payment free"
        self.notes.append(f"permits usage {','.join(tokens)} ({terms})")

    def _known(self, token: str) -> bool:
        if token in _USAGE:
            return True
        if token in LABELS:  # only known labels reach parse_usage: no SF-syntax injection
            self.legacy = True
            self.warnings.append(f"usage {token!r} is an AIPREF label, read as in AIPREF (legacy-label)")
            return True
        self.warnings.append(f"unknown usage token {token!r} ignored")
        return False

    def cells(self) -> dict[Purpose, _Cell]:
        """Within a scope `<prohibits>` beats `<permits>`; a free permission beats a priced one."""
        out: dict[Purpose, _Cell] = {}
        for purpose in PURPOSES:
            if purpose in self.denied:
                out[purpose] = (Verdict.DENY, False)
            elif purpose in self.free:
                out[purpose] = (Verdict.ALLOW, False)
            elif purpose in self.priced:
                out[purpose] = (Verdict.DENY, True)
        return out


def _tokens(element: etree._Element) -> list[str]:
    return [t for t in _TOKEN_SPLIT.split("".join(map(str, element.itertext())).lower()) if t]


def _read_content(element: etree._Element, index: int, warnings: list[str]) -> _Content | None:
    """`content = "<content" url [server] ">" 1*license "</content>"`; `url` is an RFC 9309 pattern."""
    raw = _attr(element, "url")
    host: str | None = None
    path = raw
    if raw and not raw.startswith(("/", "*")):
        parts = urlsplit(raw) if "://" in raw else None
        if parts is not None and parts.netloc:
            host = _authority(raw)  # urlsplit keeps a `*` in the host name as it is
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pattern = compile_pattern(path)
    if pattern is None:
        warnings.append(f"<content> {index + 1} without a url attribute ignored")
        return None
    reader = _LicenceReader(server=_attr(element, "server"), warnings=warnings)
    for licence in _children(element, "license"):
        reader.read(licence)
    evidence = f'<content url="{raw}">: ' + ("; ".join(reader.notes) or "no usage terms")
    return _Content(raw, pattern, host, index, reader.cells(), evidence, reader.legacy)


def _read_root(body: bytes) -> tuple[etree._Element | None, str]:
    """The `<rsl>` root (via `consentry.policies.safexml`), or None and why not; another namespace is not RSL."""
    root, problem = parse_untrusted(body)
    if root is None:
        return None, problem
    name = etree.QName(root)
    if name.localname != "rsl" or (name.namespace or "") not in _NAMESPACES:
        return None, f"root element is {str(root.tag)[:120]!r}, not {{{RSL_NAMESPACE}}}rsl"
    return root, ""


def _compact(final: Mapping[Purpose, Verdict]) -> dict[Purpose, Verdict]:
    """Drop children that repeat their parent. Sound because every cell covers a whole subtree
    (`_expand`), so the signal is hierarchical: RSL's `all`/`ai-all`/`ai-train` contain their sub-purposes."""
    return {p: v for p, v in final.items() if (parent := PARENT[p]) is None or final.get(parent) is not v}


@dataclass(frozen=True, slots=True)
class RslDocument:
    """One RSL licence document, read once; `signals(url, ...)` answers for any asset URL.

    `failure` is '' for a readable document, else why it is unverifiable (docs/signals/rsl.md "Failures").
    """

    source: str
    contents: tuple[_Content, ...] = ()
    failure: str = ""
    warnings: tuple[str, ...] = ()
    lenient: bool = False

    @classmethod
    def parse(cls, site_file: SiteFile) -> RslDocument:
        """Read a fetched licence. Never raises.

        Grammar (RSL 1.0): `rsl = "<rsl xmlns='https://rslstandard.org/rsl'>" 1*content "</rsl>"`.
        """
        if site_file.status is not FetchStatus.OK:
            return cls(site_file.url, failure=f"declared RSL licence not retrievable: {site_file.describe()}")
        root, problem = _read_root(site_file.body)
        elements = [] if root is None else list(_children(root, "content"))
        if len(elements) > _MAX_CONTENTS:
            problem = f"{len(elements)} <content> elements (more than {_MAX_CONTENTS})"
        warnings = [problem] if problem else []
        lenient = root is not None and etree.QName(root).namespace != RSL_NAMESPACE
        if lenient:
            warnings.append(f"root namespace {etree.QName(root).namespace or '(none)'!r} read leniently")
        contents = (
            [] if problem else [c for i, e in enumerate(elements) if (c := _read_content(e, i, warnings))]
        )
        if not contents:
            problem = problem or "no usable <content> element"
            detail = f" ({site_file.detail})" if site_file.detail else ""
            failure = f"declared RSL licence unreadable: {problem}{detail}"
            return cls(site_file.url, failure=failure, warnings=tuple(dict.fromkeys([*warnings, problem])))
        return cls(site_file.url, tuple(contents), "", tuple(dict.fromkeys(warnings)), lenient)

    def signals(self, url: str, *, mechanism: Mechanism, scope: Scope) -> list[Signal]:
        """One signal for `url`: per purpose the most specific `<content>` that speaks to it (docs/signals/rsl.md)."""
        if self.failure:
            return [Signal(mechanism, scope, self.source, self.failure, tags=(Tag.UNVERIFIABLE,))]
        authority, path = _authority(url), request_path(url)
        matching = sorted(
            (c for c in self.contents if c.applies(authority, path)),
            key=lambda c: (c.pattern.length, c.index),
            reverse=True,
        )
        final: dict[Purpose, Verdict] = {}
        used: dict[int, _Content] = {}
        conditional = False
        for purpose in PURPOSES:
            content = next((c for c in matching if purpose in c.cells), None)
            if content is not None:
                final[purpose], priced = content.cells[purpose]
                conditional = conditional or priced
                used[content.index] = content
        statement = _compact(final)
        tags = {Tag.CONDITIONAL: conditional, Tag.LEGACY_LABEL: any(c.legacy for c in used.values())}
        tags[Tag.LENIENT] = self.lenient or any(c.pattern.lenient for c in used.values())
        evidence = "; ".join(c.evidence for c in matching if c.index in used)
        if not evidence:
            evidence = f"no <content url> of the licence speaks to {path}"
        chosen = tuple(t for t, on in tags.items() if on)
        return [
            Signal(mechanism, scope, self.source, evidence, statement, chosen, hierarchical=bool(statement))
        ]


def _is_rsl_type(value: str) -> bool:
    return media_type(value) == RSL_MEDIA_TYPE


def discover(response: AssetResponse, head: HtmlHead | None) -> tuple[tuple[str, Scope], ...]:
    """The RSL licences this response declares, as (absolute URL, scope), first occurrence of a URL wins.

    `Link: <url>; rel="license"; type="application/rsl+xml"` -> Scope.RESPONSE; in HTML,
    `<link rel="license" type="application/rsl+xml" href>` -> Scope.DOCUMENT (RSL 1.0 discovery). A
    `rel=license` without the RSL type (a Creative Commons link) is not RSL; non-http(s) targets are dropped.
    """
    found: list[tuple[str, Scope]] = [
        (link.target, Scope.RESPONSE)
        for link in parse_links(response.header("link"), response.url)
        if "license" in link.rels and _is_rsl_type(link.param("type"))
    ]
    if head is not None:
        found += [
            (href, Scope.DOCUMENT)
            for rel, type_, href in head.links
            if "license" in rel.split() and _is_rsl_type(type_)
        ]
    out: dict[str, Scope] = {}
    for target, scope in found:
        if target.lower().startswith(("http://", "https://")):
            out.setdefault(target, scope)
    return tuple(out.items())
