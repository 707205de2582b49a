"""The values that flow through the evaluation core: fetched documents in, signals and decisions out.

Pure (docs/architecture.md "Transports and the rule of one path"): transports (Scrapy, httpx, WARC replay) build `SiteFile` and
`AssetResponse` values from what they fetched; parsers turn them into `Signal`s; `decide` turns signals
into a `Decision`. Fetch outcomes follow RFC 9309 §2.3.1: a failed fetch is data, never an
empty allow-all file.
"""

from __future__ import annotations

import codecs
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, TypeVar

from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

__all__ = [
    "MAX_REDIRECTS",
    "MIN_SITEFILE_BYTES",
    "Action",
    "AssetResponse",
    "FetchStatus",
    "Reading",
    "Signal",
    "SiteFile",
    "header_values",
    "media_type",
]

_T = TypeVar("_T")


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value: without parameters, stripped, lower-cased (RFC 9110 §8.3.1)."""
    return content_type.split(";", 1)[0].strip().lower()


#: RFC 9309 §2.5: the parsing limit MUST be at least 500 KiB.
MIN_SITEFILE_BYTES = 512_000
#: RFC 9309 §2.3.1.2: follow at least five consecutive redirects; more is "unreachable" here (docs/readings.md).
MAX_REDIRECTS = 5


class Action(enum.StrEnum):
    """What the crawl does with an asset (docs/decision-record.md "Actions")."""

    SKIP = "skip"
    DROP = "drop"
    KEEP = "keep"


class FetchStatus(enum.StrEnum):
    """RFC 9309 §2.3.1 outcome classes of a site-file fetch."""

    OK = "ok"  # 2xx: parse what parses
    UNAVAILABLE = "unavailable"  # 4xx: the file does not exist; no restrictions
    UNREACHABLE = "unreachable"  # 5xx, 429, network error, > 5 redirects: assume the worst


#: Byte-order marks and their codecs, longest first (a UTF-32 LE BOM starts with the UTF-16 LE one).
_BOMS: tuple[tuple[bytes, str, int], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", 4),
    (codecs.BOM_UTF32_BE, "utf-32-be", 4),
    (codecs.BOM_UTF16_LE, "utf-16-le", 2),
    (codecs.BOM_UTF16_BE, "utf-16-be", 2),
)


@lru_cache(maxsize=4)  # bodies up to the site-file cap stay alive while cached: keep it small
def _decode_body(body: bytes, truncated: bool) -> tuple[str, str]:
    """(text, '') or ('', why it cannot be read). Site files are UTF-8 (RFC 9309 §2.3); a UTF-16/32 BOM
    names the encoding, and a size cap that cut a code unit in two is forgiven."""
    for bom, codec, unit in _BOMS:
        if body.startswith(bom):
            data = body[len(bom):]
            if truncated:
                data = data[: len(data) - len(data) % unit]
            try:
                return data.decode(codec), ""
            except UnicodeDecodeError as exc:
                if truncated and exc.start >= len(data) - 2 * unit:
                    return data[: exc.start].decode(codec, errors="replace"), ""
                return "", f"{codec.upper()} byte-order mark, but byte {exc.start + len(bom)} does not decode"
    return body.decode("utf-8-sig", errors="replace"), ""


@dataclass(frozen=True, slots=True)
class SiteFile:
    """One fetched site-level document (robots.txt, ai.txt, tdmrep.json, an RSL licence).

    `body` is already capped at the transport's size limit; `truncated` says whether the cap cut it.
    """

    url: str
    status: FetchStatus
    http_status: int | None = None
    body: bytes = b""
    content_type: str = ""
    detail: str = ""
    truncated: bool = False

    @classmethod
    def from_http(
        cls,
        url: str,
        http_status: int,
        body: bytes,
        *,
        content_type: str = "",
        max_bytes: int = MIN_SITEFILE_BYTES,
    ) -> SiteFile:
        """Classify a final HTTP response (after redirects) by RFC 9309 §2.3.1 and cap its body."""
        if 200 <= http_status < 300:
            status = FetchStatus.OK
        elif 400 <= http_status < 500 and http_status != 429:
            status = FetchStatus.UNAVAILABLE
        else:  # 5xx, 429 (treated like 5xx, as Google does), 1xx/3xx left unresolved
            status = FetchStatus.UNREACHABLE
        truncated = len(body) > max_bytes
        return cls(
            url=url,
            status=status,
            http_status=http_status,
            body=body[:max_bytes] if status is FetchStatus.OK else b"",
            content_type=content_type,
            detail=f"HTTP {http_status}" + (f", truncated at {max_bytes} bytes" if truncated else ""),
            truncated=truncated and status is FetchStatus.OK,
        )

    @classmethod
    def from_error(cls, url: str, detail: str) -> SiteFile:
        """A fetch that produced no usable response: timeout, connection error, too many redirects."""
        return cls(url=url, status=FetchStatus.UNREACHABLE, detail=detail)

    @classmethod
    def absent(cls, url: str) -> SiteFile:
        """A document that was not looked for (e.g. an archive that never captured it): unreachable."""
        return cls(url=url, status=FetchStatus.UNREACHABLE, detail="not fetched")

    @property
    def text(self) -> str:
        """The body as text: by its BOM (UTF-32/UTF-16 LE/BE, UTF-8), else UTF-8 with undecodable bytes
        replaced; '' for a UTF-16/32 body that does not decode (see `unreadable`). Never raises."""
        return _decode_body(self.body, self.truncated)[0]

    @property
    def unreadable(self) -> str:
        """Why the body cannot be read as text ('' when it can): a UTF-16/32 BOM over undecodable data."""
        return _decode_body(self.body, self.truncated)[1]

    def readable(self) -> SiteFile:
        """This file, or, when its body cannot be read, the same fetch classified UNREACHABLE ("cannot be
        read", never an empty file: RFC 9309 §2.3.1.4 for robots.txt); parsers call it first."""
        reason = self.unreadable if self.status is FetchStatus.OK else ""
        if not reason:
            return self
        detail = f"{self.detail}, cannot be read: {reason}" if self.detail else f"cannot be read: {reason}"
        return replace(self, status=FetchStatus.UNREACHABLE, body=b"", detail=detail, truncated=False)

    def describe(self) -> str:
        """A short human description of the fetch outcome, for evidence strings."""
        return f"{self.url} {self.status.value} ({self.detail or 'no detail'})"


@dataclass(frozen=True, slots=True)
class Signal:
    """One occurrence of one mechanism's statement about an asset (docs/decision-record.md "A signal").

    `statement` holds only the purposes the signal speaks to (ALLOW/DENY). `hierarchical` says whether
    an ALLOW on a parent propagates to its children (docs/purposes.md: only for hierarchical vocabularies).
    `counted` is False for signals that are recorded as evidence but do not enter the combination
    (a TDMRep layer superseded by a later one; inferred signals under `CONSENT_INFERRED=tag`).
    """

    mechanism: Mechanism
    scope: Scope
    source: str
    evidence: str
    statement: Mapping[Purpose, Verdict] = field(default_factory=dict)
    tags: tuple[Tag, ...] = ()
    hierarchical: bool = False
    counted: bool = True

    def to_record(self) -> dict[str, object]:
        """This signal as an element of the decision record's `signals` list (members' `_value_`, as in
        `Decision.to_record`)."""
        return {
            "mechanism": self.mechanism._value_,
            "scope": self.scope._value_,
            "source": self.source,
            "evidence": self.evidence,
            "statement": {p._value_: v._value_ for p, v in self.statement.items()},
            "tags": sorted(t._value_ for t in self.tags),
            "counted": self.counted,
            "hierarchical": self.hierarchical,
        }


@dataclass(frozen=True, slots=True)
class Reading:
    """How one directive value was read: its statement, tags, and notes for site owners.

    Parsers of a single value (an AIPREF dictionary, a Content-Signal line) return this; the caller
    wraps it into a `Signal` with mechanism, scope, source and evidence. `notes` are human-readable
    remarks (legacy label, unknown key, parse failure) that `consentry check` shows as warnings.
    """

    statement: Mapping[Purpose, Verdict] = field(default_factory=dict)
    tags: tuple[Tag, ...] = ()
    notes: tuple[str, ...] = ()
    hierarchical: bool = False


def header_values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    """Every value of header `name` (case-insensitive), in order, one entry per field line."""
    wanted = name.lower()
    return [value for key, value in headers if key.lower() == wanted]


@dataclass(frozen=True, slots=True)
class AssetResponse:
    """A fetched asset as the transport saw it after decompression and redirects.

    `headers` are (name, value) pairs as received, values decoded as latin-1. `inherited` carries
    signals from the page that linked this asset (docs/signals/x-robots-tag.md: `noai`/`noimageai` propagation).
    """

    url: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    inherited: tuple[Signal, ...] = ()
    # `headers` by lower-cased name and the media type, built on first use (every signal family reads them)
    _fields: dict[str, tuple[str, ...]] | None = field(default=None, init=False, repr=False, compare=False)
    _media_type: str | None = field(default=None, init=False, repr=False, compare=False)
    # what the core derived from this response (its parsed head, pre-scan markers…), computed once per response
    _derived: dict[object, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def derived(self, key: object, compute: Callable[..., _T], *args: Any) -> _T:
        """`compute(*args)` for this response, computed once: the core's parses of the response (head,
        pre-scan) are pure functions of it, shared by every signal family that reads them. `key` names the
        value (with any argument it depends on besides the response)."""
        memo = self._derived
        if memo is None:
            memo = {}
            object.__setattr__(self, "_derived", memo)
        elif key in memo:
            return memo[key]  # type: ignore[no-any-return]  # stored by this method as compute's _T
        value = memo[key] = compute(*args)
        return value

    def _index(self) -> dict[str, tuple[str, ...]]:
        index = self._fields
        if index is None:
            found: dict[str, list[str]] = {}
            for key, value in self.headers:
                found.setdefault(key.lower(), []).append(value)
            index = {key: tuple(values) for key, values in found.items()}
            object.__setattr__(self, "_fields", index)
        return index

    def header(self, name: str) -> list[str]:
        """Every field line of header `name` (case-insensitive), in order."""
        return list(self._index().get(name.lower(), ()))

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        cached = self._media_type
        if cached is None:
            values = self._index().get("content-type")
            cached = media_type(values[-1]) if values else ""
            object.__setattr__(self, "_media_type", cached)
        return cached
