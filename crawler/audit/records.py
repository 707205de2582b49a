"""The values `consentry audit` reads out of a WARC, and the record helpers both readers share.

Not pure only in that it is front-end code; it reads no files. Content-Encoding is decoded as Scrapy's
HttpCompressionMiddleware decodes it in the crawl (`consentry.middlewares.adapters.contentcoding`), so a replay
sees the crawl's body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consentry.middlewares.adapters.contentcoding import decode, split_codings
from consentry.middlewares.adapters.warcformat import read_metadata

__all__ = [
    "Capture",
    "Damage",
    "DecisionEntry",
    "FetchFailure",
    "Info",
    "Item",
    "RequestEntry",
    "UnusableArchive",
    "authority",
    "decision_entry",
    "make_capture",
    "parse_fields",
    "reason",
    "sortable_date",
]

_REDIRECTS = frozenset((301, 302, 303, 307, 308))


class UnusableArchive(Exception):
    """The file cannot be audited at all (unreadable, empty, not a WARC): exit 2."""


def sortable_date(value: str | None) -> str:
    """A WARC-Date as a string that sorts chronologically across WARC 1.0 (seconds) and 1.1 (fractions)."""
    if not value:
        return ""
    text = value.strip().rstrip("Z")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{(fraction + '000000')[:6]}Z"


@dataclass(slots=True)
class Info:
    """A `warcinfo` record's fields."""

    fields: dict[str, str]


@dataclass(slots=True)
class Capture:
    """One archived HTTP response: headers as archived, body decoded (as the crawl saw it) and capped."""

    url: str
    record_id: str
    date: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    problems: list[str] = field(default_factory=list)
    full_length: int | None = None
    full_sha256: str | None = None

    @property
    def location(self) -> str | None:
        """The `Location` of a redirect hop."""
        if self.status not in _REDIRECTS:
            return None
        found = [v for k, v in self.headers if k.lower() == "location"]
        return found[0] if found else None

    @property
    def content_type(self) -> str:
        """The Content-Type field value ('' when absent)."""
        found = [v for k, v in self.headers if k.lower() == "content-type"]
        return found[-1] if found else ""


@dataclass(slots=True)
class RequestEntry:
    """A `request` record: which response it belongs to and the page that referred it."""

    concurrent_to: str | None
    url: str
    referer: str | None


@dataclass(slots=True)
class DecisionEntry:
    """A `metadata` record holding a JSON payload (a `consentry.decision/1` record, or a problem)."""

    record_id: str
    concurrent_to: str | None
    url: str
    date: str
    record: dict[str, Any] | None
    problem: str | None = None


@dataclass(slots=True)
class FetchFailure:
    """A `metadata` record saying a document could not be fetched at all (`consentry.fetch-failure/1`)."""

    url: str
    record_id: str
    date: str
    detail: str


@dataclass(slots=True)
class Damage:
    """Damage found between records: the record before `offset` (if any) is suspect."""

    offset: int
    message: str
    previous_record_id: str | None = None


Item = Info | Capture | RequestEntry | DecisionEntry | FetchFailure | Damage


def authority(url: str) -> str:
    """`scheme://authority` of `url` (all that its origin and site depend on), or `url` itself when unsure."""
    parts = url.split("/", 3)
    found = "/".join(parts[:3])
    return url if len(parts) < 3 or "?" in found or "#" in found else found


def reason(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _decode(
    body: bytes, headers: tuple[tuple[str, str], ...], max_size: int
) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """Decode Content-Encoding exactly as the crawl's HttpCompressionMiddleware did; headers adjusted likewise."""
    values = [v for k, v in headers if k.lower() == "content-encoding"]
    if not values:
        return body, headers
    to_decode, to_keep = split_codings(values)
    for coding in to_decode:
        body = decode(body, coding, max_size)
    rest = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
    if to_keep:
        index = next(i for i, (k, _) in enumerate(headers) if k.lower() == "content-encoding")
        rest[index:index] = [("Content-Encoding", coding) for coding in to_keep]
    return body, tuple(rest)


def make_capture(
    ids: tuple[str, str, str],
    status: int,
    headers: tuple[tuple[str, str], ...],
    raw: tuple[bytes, int, str | None],
    *,
    problems: list[str],
    body_cap: int,
) -> Capture:
    """A `Capture` from (url, record id, date), the HTTP status and headers, and (capped body, length, sha256)."""
    body, length, digest = raw
    if any(k.lower() == "content-encoding" for k, _ in headers):
        try:
            body, headers = _decode(body, headers, body_cap)
        except Exception as exc:
            body = b""
            problems.append(f"Content-Encoding could not be decoded: {reason(exc)}")
    capture = Capture(*ids, status, headers, body, problems)
    if length > len(raw[0]):
        problems.append(f"body of {length} bytes evaluated on its first {len(raw[0])} bytes")
        capture.full_length, capture.full_sha256 = length, digest
    return capture


def parse_fields(payload: bytes) -> dict[str, str]:
    """A warcinfo payload's `name: value` lines, names lower-cased."""
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def decision_entry(
    record_id: str, concurrent_to: str | None, url: str, date: str, payload: bytes
) -> DecisionEntry | FetchFailure:
    """A metadata record's JSON payload as a `DecisionEntry` (a problem when it is not a JSON object), or
    the `FetchFailure` it records."""
    record, failure, problem = read_metadata(payload)
    if failure is not None:
        return FetchFailure(url, record_id, date, failure)
    return DecisionEntry(record_id, concurrent_to, url, date, record, problem)
