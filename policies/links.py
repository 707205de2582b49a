"""HTTP `Link` header parsing (RFC 8288 §3), for `rel="license"` RSL pointers and `rel="c2pa-manifest"`
remote manifests (C2PA 2.2 §15.5.3); docs/signals/link-header.md.

Pure and lenient: malformed link-values are skipped, nothing raises. Grammar (RFC 8288 §3):
`Link = #link-value`; `link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )`;
`link-param = token BWS [ "=" BWS ( token / quoted-string ) ]`. `rel` holds space-separated relation
types compared case-insensitively; only the first `rel` parameter of a link-value counts (RFC 8288 §3.3:
"occurrences after the first MUST be ignored by parsers"); the target is resolved against the response URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

__all__ = ["Link", "parse_links"]

_PARAM = re.compile(r'\s*([^\s=;]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;]*))?\s*')


def _split_outside(text: str, sep: str) -> list[str]:
    """Split on `sep` where it is outside `<...>` and outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    in_quotes = in_angle = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and in_quotes:
            escaped = True
        elif char == '"' and not in_angle:
            in_quotes = not in_quotes
        elif char == "<" and not in_quotes:
            in_angle = True
        elif char == ">" and not in_quotes:
            in_angle = False
        elif char == sep and not in_quotes and not in_angle:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True, slots=True)
class Link:
    """One link-value: absolute target, relation types (lower-cased) and the other parameters."""

    target: str
    rels: frozenset[str]
    params: tuple[tuple[str, str], ...]

    def param(self, name: str) -> str:
        """The first value of parameter `name` ('' if absent)."""
        return next((v for k, v in self.params if k == name.lower()), "")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _parse_link_value(text: str, base_url: str) -> Link | None:
    pieces = _split_outside(text, ";")
    head = pieces[0].strip()
    if not (head.startswith("<") and head.endswith(">")):
        return None
    try:
        target = urljoin(base_url, head[1:-1].strip())
    except ValueError:
        return None
    params: list[tuple[str, str]] = []
    for piece in pieces[1:]:
        match = _PARAM.fullmatch(piece)
        if match:
            params.append((match.group(1).lower(), _unquote(match.group(2) or "")))
    first_rel = next((v for p, v in params if p == "rel"), "")
    return Link(target, frozenset(r.lower() for r in first_rel.split()), tuple(params))


def parse_links(field_values: Iterable[str], base_url: str) -> list[Link]:
    """Every link-value in the given `Link` field lines, in order; unparseable parts are skipped."""
    links: list[Link] = []
    for value in field_values:
        for part in _split_outside(value, ","):
            link = _parse_link_value(part, base_url)
            if link is not None:
                links.append(link)
    return links
