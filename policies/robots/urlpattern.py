"""RFC 9309 path patterns and the request path they are matched against, shared by every robots-style
matcher (robots.txt, ai.txt, TDMRep `location`, RSL `<content url>`). Pure.

Grammar (RFC 9309 §2.2.2-§2.2.3): `path-pattern = "/" *UTF8-char-noctl`; `*` matches zero or more of any
octet, a `$` that ends the pattern anchors the end (a `$` anywhere else is a literal `$`). Matching is
case-sensitive, from the first octet of the path plus query.

Two normal forms (see docs/robots-conformance.md):

- `request_path(url)` is the path-plus-query a transport should request: RFC 3986 §6.2.2 percent-encoding
  normalisation (non-ASCII and characters outside the URI set encoded, encoded *unreserved* characters
  decoded, hex digits upper-cased) and dot segments removed (RFC 3986 §5.2.4), as an RFC 3986 client
  sends it. `//` and reserved escapes such as `%2F` stay: it is a URL that is safe to send.
- `match_key(path)` is what rules are compared against: the request path with every remaining
  percent-escape decoded to its octet (RFC 9309 §2.2.2 Figure 4 lists `https://foo.bar` and
  `https%3A%2F%2Ffoo.bar` as the same query) except `%2F` in the path, which stays distinct from `/`
  there (it is not a path separator to an RFC 3986 server). A rule pattern is decoded the same way
  *segment by segment* between its `*` wildcards, so `%2A` and `%24` in a rule are a literal `*` and `$`
  (RFC 9309 §2.2.3 Figure 6). Keys hold one character per octet, and `_SLASH` for an encoded slash.
- `server_key(path)` is the key a lenient server sees (nginx's default): `%2F` decoded and `//` runs
  merged before dot segments are resolved (`/public/..%2Fprivate/` and `//private/` are `/private/`), or
  None when it is the same; access matchers evaluate both keys and let a Disallow found under either
  reading win, so no spelling steps out of a disallowed directory, while a rule is never widened.

Matching is linear (no regular expression is built from site input): the literal segments between the
wildcards are searched greedily leftmost-first with `str.find`, which is O(len(pattern) x len(path)) in
the worst case; an anchored pattern's last segment must end the path. Specificity is the pattern's length
in octets as written (percent-normalised).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

__all__ = ["PathPattern", "compile_pattern", "match_key", "normalize_path", "request_path", "server_key"]

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are (RFC 3986 reserved + unreserved + "%"); everything else is encoded.
_KEEP = _UNRESERVED | frozenset(":/?#[]@!$&'()*+,;=%")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*(.*)", re.DOTALL)
# A path made only of these characters needs no work ("%" is outside the set); a greedy full match of a
# positive class is several times faster than searching for a negated one.
_CLEAN = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*")
_SLASHES = re.compile(r"//+")
#: An encoded slash in a key: outside the octet range, so it equals neither `/` nor any decoded octet.
_SLASH = "\u0100"


def _fix_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _path_octet(match: re.Match[str]) -> str:
    octet = int(match.group(1), 16)
    return _SLASH if octet == 0x2F else chr(octet)


def _query_octet(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def _decode(text: str) -> str:
    """Decode a path part: an encoded slash becomes `_SLASH`."""
    return _PCT.sub(_path_octet, text) if "%" in text else text


def _decode_query(text: str) -> str:
    """Decode a query part: `%2F` is `/` there (RFC 9309 §2.2.2 Figure 4, second row)."""
    return _PCT.sub(_query_octet, text) if "%" in text else text


def _pattern_segments(body: str) -> tuple[str, ...]:
    """The decoded literal runs between the `*` wildcards; after the first `?` they decode as query."""
    segments: list[str] = []
    in_query = False
    for part in body.split("*"):
        if in_query:
            segments.append(_decode_query(part))
            continue
        head, mark, query = part.partition("?")
        in_query = bool(mark)
        segments.append(_decode(head) + mark + _decode_query(query))
    return tuple(segments)


@lru_cache(maxsize=65536)
def normalize_path(path: str) -> str:
    """Percent-normalise a path (or path pattern) the way RFC 9309 §2.2.2 and RFC 3986 §6.2.2 say."""
    return _normalize(path)


def _normalize(path: str) -> str:
    if _CLEAN.fullmatch(path) is not None:
        return path
    encoded = "".join(c if c in _KEEP else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in path)
    # A lone "%" not followed by two hex digits is a literal percent sign.
    encoded = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", encoded)
    return _PCT.sub(_fix_escape, encoded)


def _resolve(path: str) -> str:
    """Remove dot segments (RFC 3986 §5.2.4) from an absolute path; empty segments (`//`) are kept."""
    if "/." not in path:
        return path
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    resolved = "/" + "/".join(kept)
    if segments[-1] in (".", "..") and not resolved.endswith("/"):
        resolved += "/"
    return resolved


def _raw_path(url: str) -> str:
    """The path-plus-query of an absolute URL or a path, as written (no fragment, not normalised)."""
    if url.startswith("/"):
        raw = url
    elif (absolute := _ABSOLUTE.match(url)) is not None:
        raw = absolute.group(1)  # the path starts at the first "/", "?" or "#" after the authority
        if not raw.startswith("/"):
            raw = "/" + raw
    else:
        raw = _split_path(url)
    return raw.split("#", 1)[0]


@lru_cache(maxsize=65536)
def request_path(url: str) -> str:
    """The normalised path-plus-query of an absolute URL (or of a path): the one to request and match.

    Percent-encoding normalised (RFC 3986 §6.2.2), dot segments removed (RFC 3986 §5.2.4), fragment
    dropped; `//` and reserved escapes such as `%2F` kept (what an RFC 3986 client sends).
    """
    path, mark, query = _normalize(_raw_path(url)).partition("?")
    return _resolve(path) + mark + query


def _split_path(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    return path + (f"?{parts.query}" if parts.query else "")


@lru_cache(maxsize=65536)
def match_key(path: str) -> str:
    """The octets (one character each) that rules are compared against, for a URL, path or request path.

    The request path (dot segments removed) with every percent-escape decoded, an encoded slash kept
    apart from `/`.
    """
    if path.startswith("/") and "/." not in path and "#" not in path and _CLEAN.fullmatch(path):  # no "%" either
        return path  # a clean request path: nothing to normalise, resolve or decode (what `request_path` returns)
    head, mark, query = _split_normalized(path)
    return _decode(head) + mark + _decode_query(query)


@lru_cache(maxsize=65536)
def server_key(url: str) -> str | None:
    """The key a lenient server sees for the URL (or path) as written: `%2F` decoded and `//` runs
    merged *before* dot segments are resolved (nginx's default); None when it equals `match_key(url)`."""
    if "%" not in url and "//" not in (url if url.startswith("/") else url.partition("://")[2]):
        return None  # nothing a lenient server would read differently
    head, mark, query = _split_normalized(url, resolve=False)
    if "%2F" not in head and "//" not in head:
        return None
    merged = _resolve(_SLASHES.sub("/", head.replace("%2F", "/")))
    key = _decode(merged) + mark + _decode_query(query)
    return None if key == match_key(url) else key


def _split_normalized(url: str, *, resolve: bool = True) -> tuple[str, str, str]:
    head, mark, query = _normalize(_raw_path(url)).partition("?")
    return (_resolve(head) if resolve else head), mark, query


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A compiled RFC 9309 path pattern.

    `raw` is the pattern as written, `normalized` its percent-normalised form, `length` that form's
    octet length (specificity), `segments` the decoded literal runs between `*` wildcards, `anchored`
    whether a final `$` pins the end, `matcher` the compiled key test (see `matches_key`).
    """

    raw: str
    normalized: str
    length: int
    lenient: bool
    segments: tuple[str, ...]
    anchored: bool
    matcher: Callable[[str], bool] = field(compare=False, repr=False)

    @property
    def plain(self) -> bool:
        """A plain prefix: no wildcard and no end anchor."""
        return len(self.segments) == 1 and not self.anchored

    def matches(self, path: str) -> bool:
        """Whether `path` (a request path, see `request_path`) matches this pattern from its first octet."""
        return self.matches_key(match_key(path))

    def matches_key(self, key: str) -> bool:
        """Whether the match key `key` (see `match_key`) matches: greedy leftmost segment search."""
        return self.matcher(key)


def _general(segments: tuple[str, ...], anchored: bool) -> Callable[[str], bool]:
    """Greedy leftmost search of each literal segment after the previous one: taking the earliest
    occurrence leaves the most room for the rest, so no backtracking is ever needed."""
    first, middle, last = segments[0], segments[1:-1], segments[-1]

    def match(key: str) -> bool:
        if not key.startswith(first):
            return False
        position = len(first)
        for segment in middle:
            found = key.find(segment, position)
            if found < 0:
                return False
            position = found + len(segment)
        if anchored:
            return len(key) - len(last) >= position and key.endswith(last)
        return key.find(last, position) >= 0

    return match


def _two(first: str, last: str, anchored: bool) -> Callable[[str], bool]:
    """`first*last` (the common `*.jpg`, `/dir/*.pdf$` shapes), without the loop."""
    size = len(first)
    if not first:
        return (lambda key: key.endswith(last)) if anchored else (lambda key: last in key)
    if anchored:
        return lambda key: key.startswith(first) and len(key) - len(last) >= size and key.endswith(last)
    return lambda key: key.startswith(first) and key.find(last, size) >= 0


def _one(first: str, anchored: bool) -> Callable[[str], bool]:
    return (lambda key: key == first) if anchored else (lambda key: key.startswith(first))


def _compile_matcher(segments: tuple[str, ...], anchored: bool) -> Callable[[str], bool]:
    if len(segments) == 1:
        return _one(segments[0], anchored)
    if len(segments) == 2:
        return _two(segments[0], segments[1], anchored)
    return _general(segments, anchored)


@lru_cache(maxsize=16384)
def compile_pattern(pattern: str) -> PathPattern | None:
    """Compile a path pattern; `None` for an empty pattern (which matches nothing, RFC 9309 §2.2.2).

    A pattern that starts with neither `/` nor `*` gets a leading `/` (a common lenient reading);
    `lenient` records that.
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
    segments = _pattern_segments(body)
    length = len(normalized.encode("utf-8"))
    return PathPattern(pattern, normalized, length, lenient, segments, anchored, _compile_matcher(segments, anchored))
