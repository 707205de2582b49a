"""The values `consentry audit` reads out of a WARC, and the record helpers both readers share.

Not pure only in that it is front-end code; it reads no files. A body archived with its HTTP/1.1 chunked
transfer coding (RFC 9112 §7.1) is de-chunked first; Content-Encoding is then decoded as Scrapy's
HttpCompressionMiddleware decodes it in the crawl (`consentry.middlewares.adapters.contentcoding`), so a replay
sees the crawl's body. A body whose Content-Encoding a producer already removed (it is not in the declared coding
but reads as the declared content type) is read as identity, with a remark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consentry.middlewares.adapters.contentcoding import DecodedTooLarge, decode, split_codings
from consentry.middlewares.adapters.warcformat import read_metadata
from consentry.policies.model import media_type

__all__ = [
    "Capture",
    "Damage",
    "DecisionEntry",
    "FetchFailure",
    "Info",
    "Item",
    "RequestEntry",
    "Revisit",
    "Seen",
    "UnusableArchive",
    "authority",
    "dechunk",
    "decision_entry",
    "make_capture",
    "parse_fields",
    "reason",
    "revisit_http",
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
    remarks: list[str] = field(default_factory=list)  # how the body was read; not damage
    payload_digest: str | None = None  # WARC-Payload-Digest as archived (revisits refer to it)

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
class Revisit:
    """A `revisit` record (WARC 1.1 §6.7): a capture whose payload is another record's."""

    url: str
    record_id: str
    date: str
    refers_to: str | None
    payload_digest: str | None
    status: int
    headers: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Seen:
    """A response the reader's `keep` predicate passed over: its identity only (the index's first pass)."""

    url: str
    record_id: str
    payload_digest: str | None


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


Item = Info | Capture | Seen | Revisit | RequestEntry | DecisionEntry | FetchFailure | Damage


def authority(url: str) -> str:
    """`scheme://authority` of `url` (all that its origin and site depend on), or `url` itself when unsure."""
    parts = url.split("/", 3)
    found = "/".join(parts[:3])
    return url if len(parts) < 3 or "?" in found or "#" in found else found


def reason(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


_MAGIC = {"gzip": b"\x1f\x8b", "x-gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd"}
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"%PDF", b"\x00\x00\x00")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def dechunk(body: bytes, complete: bool, max_size: int) -> bytes | None:
    """`body` without its chunked transfer coding (RFC 9112 §7.1); None when it is not chunked (a producer
    that already de-chunked it). `complete` False: `body` is a capped prefix, so it may end inside a chunk."""
    out = bytearray()
    position, size = 0, len(body)
    while True:
        end = body.find(b"\r\n", position, position + 256)
        if end < 0:
            return bytes(out) if out and not complete else None
        digits = body[position:end].split(b";", 1)[0].strip()
        if not digits or not _HEX.issuperset(digits):
            return None
        length = int(digits, 16)
        if length == 0:
            return bytes(out)
        start = end + 2
        out += body[start : start + length]
        if len(out) >= max_size or start + length + 2 > size:
            return bytes(out[:max_size]) if not complete or len(out) >= max_size else None
        if body[start + length : start + length + 2] != b"\r\n":
            return None
        position = start + length + 2


def _reads_as(body: bytes, content_type: str, coding: str) -> bool:
    """Whether a body that failed to decode as `coding` is the declared content type already decoded."""
    magic = _MAGIC.get(coding.lower())
    if magic is not None and body.startswith(magic):
        return False
    head = body[:2048]
    kind = media_type(content_type)
    if kind.startswith(("image/", "video/", "audio/", "application/pdf")):
        return head.startswith(_IMAGE_MAGIC)
    return b"\x00" not in head  # text: HTML, JSON, XML, plain


def _decode(
    body: bytes, headers: tuple[tuple[str, str], ...], max_size: int, remarks: list[str]
) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """Decode Content-Encoding exactly as the crawl's HttpCompressionMiddleware did; headers adjusted likewise.
    A coding the body is evidently no longer in is skipped, with a remark."""
    values = [v for k, v in headers if k.lower() == "content-encoding"]
    if not values:
        return body, headers
    to_decode, to_keep = split_codings(values)
    content_type = next((v for k, v in reversed(headers) if k.lower() == "content-type"), "")
    for coding in to_decode:
        try:
            body = decode(body, coding, max_size)
        except DecodedTooLarge:
            raise
        except Exception:
            if not _reads_as(body, content_type, coding):
                raise
            remarks.append(
                f"Content-Encoding {coding} declared but the archived body is already decoded: read as identity"
            )
            break
    rest = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
    if to_keep:
        index = next(i for i, (k, _) in enumerate(headers) if k.lower() == "content-encoding")
        rest[index:index] = [("Content-Encoding", coding) for coding in to_keep]
    return body, tuple(rest)


def _named(headers: tuple[tuple[str, str], ...], name: str) -> list[str]:
    """The values of the header fields called `name` (lower-case)."""
    size = len(name)
    return [v for k, v in headers if len(k) == size and k.lower() == name]


def make_capture(
    ids: tuple[str, str, str],
    status: int,
    headers: tuple[tuple[str, str], ...],
    raw: tuple[bytes, int, str | None],
    *,
    problems: list[str],
    body_cap: int,
    payload_digest: str | None = None,
) -> Capture:
    """A `Capture` from (url, record id, date), the HTTP status and headers, and (capped body, length, sha256)."""
    body, length, digest = raw
    remarks: list[str] = []
    names = {k.lower() for k, _ in headers}  # the codings' fields are rare: most responses skip both steps
    if "transfer-encoding" in names and any("chunked" in v.lower() for v in _named(headers, "transfer-encoding")):
        dechunked = dechunk(body, length == len(body), body_cap)
        if dechunked is not None:
            body = dechunked
            remarks.append("chunked transfer coding removed")
    if "content-encoding" in names:
        try:
            body, headers = _decode(body, headers, body_cap, remarks)
        except Exception as exc:
            body = b""
            problems.append(f"Content-Encoding could not be decoded: {reason(exc)}")
    capture = Capture(*ids, status, headers, body, problems, remarks=remarks, payload_digest=payload_digest)
    if length > len(raw[0]):
        problems.append(f"body of {length} bytes evaluated on its first {len(raw[0])} bytes")
        capture.full_length, capture.full_sha256 = length, digest
    return capture


def revisit_http(block: bytes) -> tuple[int, tuple[tuple[str, str], ...]]:
    """The HTTP status and headers a revisit record's block repeats (0 and none when it has none)."""
    head = block.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    if not lines[0].startswith("HTTP/"):
        return 0, ()
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    fields = (line.partition(":") for line in lines[1:])
    return status, tuple((name.strip(), value.strip()) for name, sep, value in fields if sep)


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
