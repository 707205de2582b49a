"""HTTP `Link` header parsing (RFC 8288 §3), for `rel="license"` RSL pointers (SPECS §6.1) and
`rel="c2pa-manifest"` remote manifests (SPECS §9.3).

Pure and lenient: malformed link-values are skipped, nothing raises. Grammar (RFC 8288 §3):
`Link = #link-value`; `link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )`;
`link-param = token BWS [ "=" BWS ( token / quoted-string ) ]`. `rel` holds space-separated relation
types compared case-insensitively; the target is resolved against the response URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

__all__ = ["Link", "parse_links"]

_LINK_VALUE = re.compile(r"\s*<([^>]*)>\s*((?:;\s*[^;,\"]+(?:=\s*(?:\"(?:[^\"\\]|\\.)*\"|[^;,]*))?\s*)*)")
_PARAM = re.compile(r";\s*([^;=,\s]+)\s*(?:=\s*(\"(?:[^\"\\]|\\.)*\"|[^;,]*))?")


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


def parse_links(field_values: Iterable[str], base_url: str) -> list[Link]:
    """Every link-value in the given `Link` field lines, in order; unparseable parts are skipped."""
    links: list[Link] = []
    for value in field_values:
        pos = 0
        while pos < len(value):
            match = _LINK_VALUE.match(value, pos)
            if match is None:
                nxt = value.find(",", pos)
                if nxt == -1:
                    break
                pos = nxt + 1
                continue
            pos = match.end()
            if pos < len(value) and value[pos] == ",":
                pos += 1
            params = tuple((k.lower(), _unquote(v or "")) for k, v in _PARAM.findall(match.group(2)))
            try:
                target = urljoin(base_url, match.group(1).strip())
            except ValueError:
                continue
            rels = frozenset(r.lower() for p, v in params if p == "rel" for r in v.split())
            links.append(Link(target, rels, params))
    return links
