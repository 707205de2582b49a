"""RFC 9309 path patterns, shared by every robots-style matcher (robots.txt, ai.txt,
Content-Usage, RSL, TDMRep).

Pure. Grammar (RFC 9309 §2.2.2-§2.2.3): `path-pattern = "/" *UTF8-char-noctl`; `*` matches zero or more
of any character, a trailing `$` anchors the end. Matching is case-sensitive, against path plus query,
after the same percent-normalisation on both sides: non-ASCII and characters outside the URI set are
percent-encoded, an encoded *unreserved* character is decoded (`%7E` -> `~`), an encoded reserved one
stays encoded (`%2F` != `/`), hex digits upper-cased. Specificity is the pattern's length in octets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

__all__ = ["PathPattern", "compile_pattern", "normalize_path", "request_path"]

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are (RFC 3986 reserved + unreserved + "%"); everything else is encoded.
_KEEP = _UNRESERVED | frozenset(":/?#[]@!$&'()*+,;=%")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*(.*)", re.DOTALL)
_NEEDS_WORK = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%")


def _fix_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


@lru_cache(maxsize=65536)
def normalize_path(path: str) -> str:
    """Percent-normalise a path (or path pattern) the way RFC 9309 §2.2.2 compares them."""
    return _normalize(path)


def _normalize(path: str) -> str:
    if _NEEDS_WORK.search(path) is None:
        return path
    encoded = "".join(c if c in _KEEP else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in path)
    # A lone "%" not followed by two hex digits is a literal percent sign.
    encoded = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", encoded)
    return _PCT.sub(_fix_escape, encoded)


@lru_cache(maxsize=65536)
def request_path(url: str) -> str:
    """The normalised path-plus-query of an absolute URL (or of a path), as matched by RFC 9309."""
    if url.startswith("/"):
        raw = url
    elif (absolute := _ABSOLUTE.match(url)) is not None:
        raw = absolute.group(1)  # the path starts at the first "/", "?" or "#" after the authority
        if not raw.startswith("/"):
            raw = "/" + raw
    else:
        raw = _split_path(url)
    return _normalize(raw.split("#", 1)[0])


def _split_path(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    return path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A compiled RFC 9309 path pattern. `raw` is the pattern as written; `length` its octet length."""

    raw: str
    normalized: str
    length: int
    lenient: bool
    _regex: re.Pattern[str] | None
    _prefix: str

    @property
    def regex_source(self) -> str:
        """The pattern as regular-expression source (anchored at the start by `re.match`)."""
        if self._regex is not None:
            return self._regex.pattern
        return re.escape(self._prefix)

    def matches(self, path: str) -> bool:
        """Whether the normalised `path` (see `request_path`) matches this pattern from its first octet."""
        if self._regex is None:
            return path.startswith(self._prefix)
        return self._regex.match(path) is not None


@lru_cache(maxsize=16384)
def compile_pattern(pattern: str) -> PathPattern | None:
    """Compile a path pattern; `None` for an empty pattern (which matches nothing, RFC 9309 §2.2.2).

    A pattern that starts with neither `/` nor `*` gets a leading `/` (a common lenient reading,
    docs/signals/robots.md); `lenient` records that.
    """
    value = pattern.strip()
    if not value:
        return None
    lenient = not value.startswith(("/", "*"))
    if lenient:
        value = "/" + value
    normalized = normalize_path(value)
    anchored = normalized.endswith("$")
    body = normalized[:-1] if anchored else normalized
    length = len(normalized.encode("utf-8"))
    if "*" not in body and not anchored:
        return PathPattern(pattern, normalized, length, lenient, None, body)
    regex = ".*".join(re.escape(part) for part in re.split(r"\*+", body)) + (r"\Z" if anchored else "")
    return PathPattern(pattern, normalized, length, lenient, re.compile(regex, re.DOTALL), body)
