"""Excluded domains: lists of registrable domains or hosts a crawl must never request (docs/protocols.md,
README "Compliance").

Pure. A transport reads each list file (`CONSENT_EXCLUDED_DOMAINS`, `consentry crawl --exclude-list`) and
hands its text to `parse_list`; this module validates the lines, and `ExcludedDomains.match` says whether a
URL's host is a listed name or one of its subdomains (a listed registrable domain therefore excludes its
whole site). `consentry.policies.evaluate.evaluate_exclusion` makes the `skip` decision of an excluded URL, with mechanism `excluded-domain`
and the list file and line as evidence. The format: one name per line, `#` starts a comment, blank lines are
ignored; a line that is not a host name (RFC 1123 §2.1 labels) or an IP address is reported with its line
number and skipped.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from consentry.policies.model import Signal, SiteFile
from consentry.policies.vocabulary import Mechanism, Scope

__all__ = [
    "ExcludedDomains",
    "Exclusion",
    "excluded_file",
    "excluded_signal",
    "host_of",
    "normalise_name",
    "parse_list",
]

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One listed name: the domain or host, the list it came from and its line (1-based)."""

    name: str
    source: str
    line: int

    def describe(self) -> str:
        """`name (source line N)`, the evidence of a skip."""
        return f"{self.name} ({self.source} line {self.line})"


def host_of(url: str) -> str:
    """The URL's host, lower-cased, without a trailing dot ('' when it has none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".")


def normalise_name(text: str) -> str | None:
    """The listed name as matched (lower case, no trailing dot), or None when it is no host name or IP."""
    name = text.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # a dotted number that is not an IPv4 address
    return name


def parse_list(
    text: str, source: str, *, is_public_suffix: Callable[[str], bool] = lambda _: False
) -> tuple[tuple[Exclusion, ...], tuple[str, ...]]:
    """The names of one list and its problems (`source line N: …`), the bad lines skipped.

    `is_public_suffix` (injected: the transport knows the public suffix list) refuses a name such as `co.uk`,
    which would exclude every site under it.
    """
    found: list[Exclusion] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name = normalise_name(line)
        if name is None:
            problems.append(f"{source} line {number}: {line!r} is not a domain or host; skipped")
        elif is_public_suffix(name):
            problems.append(f"{source} line {number}: {line!r} is a public suffix, not a registrable domain; "
                            "skipped")
        else:
            found.append(Exclusion(name, source, number))
    return tuple(found), tuple(problems)


def _index(entries: Iterable[Exclusion]) -> dict[str, Exclusion]:
    index: dict[str, Exclusion] = {}
    for entry in entries:
        index.setdefault(entry.name, entry)  # the first list and line that names it is the evidence
    return index


@dataclass(frozen=True, slots=True)
class ExcludedDomains:
    """Every excluded name of a crawl; `match` walks the host's parent domains (a dict lookup per label)."""

    entries: tuple[Exclusion, ...] = ()
    _index: Mapping[str, Exclusion] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _index(self.entries))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def match(self, url: str) -> Exclusion | None:
        """The listed name that excludes `url` (its host or a parent domain of it), or None."""
        if not self._index:
            return None
        host = host_of(url)
        if not host:
            return None
        exact = self._index.get(host)
        if exact is not None or ":" in host or host.replace(".", "").isdigit():
            return exact  # an IP address matches only itself
        labels = host.split(".")
        for start in range(1, len(labels)):
            entry = self._index.get(".".join(labels[start:]))
            if entry is not None:
                return entry
        return None

    def to_json(self) -> list[list[object]]:
        """`[[name, source, line], …]` (the warcinfo policy carries it, so an audit replays the skips)."""
        return [[e.name, e.source, e.line] for e in self.entries]

    @classmethod
    def from_json(cls, value: object) -> ExcludedDomains:
        """The inverse of `to_json`; `ValueError` for anything else."""
        if not isinstance(value, list):
            raise ValueError("excluded_domains is not a list")
        entries = []
        for item in value:
            if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], int)):
                raise ValueError(f"excluded_domains entry {item!r} is not [name, source, line]")
            entries.append(Exclusion(str(item[0]), str(item[1]), item[2]))
        return cls(tuple(entries))


def excluded_signal(url: str, entry: Exclusion) -> Signal:
    """The access signal of an excluded URL (empty statement: it says nothing about use). The same for a URL
    reached by a redirect: the redirect itself is archived, not part of the decision."""
    return Signal(Mechanism.EXCLUDED_DOMAIN, Scope.SITE, entry.source,
                  f"excluded domain {entry.describe()} covers {host_of(url)}")


def excluded_file(url: str, entry: Exclusion) -> SiteFile:
    """The answer for a document on an excluded host (a licence, a remote manifest): never fetched, so
    unreachable — its declared source reads `unverifiable`, never consent."""
    return SiteFile.from_error(url, f"not fetched: excluded domain {entry.describe()}")
