"""The crawl's WARC 1.1 archive: every request/response, site files included, plus one metadata record
per decision, in the layout `consentry.middlewares.adapters.warcformat` owns; what `consentry audit` replays.

Extension. It listens to Scrapy's `response_downloaded`, which the downloader sends for EVERY response
(spider requests and `engine.download_async` fetches alike) before any downloader middleware's
`process_response` runs: the archived body is the one received on the wire (still content-encoded; the
`Content-Encoding` header is kept so readers decode it; `Transfer-Encoding` is dropped because Scrapy has
already de-chunked the body). Each record is its own gzip member, built in memory and handed to the kernel
whole (a response and its request record together; `consentry.middlewares._appendfile`), so a killed crawl
leaves a WARC that reads back up to the last complete record. A record that cannot be written (a full disk)
is not left half on disk: the crawl is stopped (`consentry crawl` exits 1), and a decision that cannot be
archived raises `OutputWriteError`, so `emit_decision` withholds the response it was about. Enabled by
`CONSENT_WARC_PATH`. The warcinfo record's `consentry-policy` field holds the crawl's policy (JSON), so
`consentry audit` replays with it. A response whose transfer was stopped after its headers (Scrapy's
`download_stopped` flag: consentry stops the asset whose headers deny every declared purpose) is archived
with what was received — the headers and no body — and `WARC-Truncated: length` (WARC 1.1 §5.13: the
payload was cut at a length limit, here zero bytes; docs/decision-record.md "Withheld before download").
"""

from __future__ import annotations

import contextlib
import io
import logging
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from consentry.middlewares._appendfile import AppendOnlyFile, OutputWriteError, stop_crawl
from consentry.middlewares._config import consent_settings
from consentry.middlewares.adapters.warcformat import (
    METADATA_CONTENT_TYPE,
    decision_payload,
    fetch_failure_payload,
    warcinfo_fields,
)
from consentry.middlewares.cluster import run_fields
from consentry.middlewares.signals import consent_decision, consent_fetch_failed

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from consentry.policies.config import PolicyConfig
    from consentry.policies.record import Decision

__all__ = ["RECORD_ID_META", "WarcExtension"]

logger = logging.getLogger(__name__)

#: request.meta key: the WARC-Record-ID of the response record archived for this request.
RECORD_ID_META = "consent_warc_record_id"
_HOP_BY_HOP = frozenset({"transfer-encoding"})
#: Scrapy's flag on a response whose download a `headers_received`/`bytes_received` handler stopped.
_STOPPED_FLAG = "download_stopped"


def _pairs(headers: Any, *, skip: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        if name.decode("latin-1").lower() not in skip
        for value in values
    ]


def _request_head(request: Request) -> StatusAndHeaders:
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = _pairs(request.headers)
    if not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return StatusAndHeaders(f"{request.method} {target} HTTP/1.1", headers, is_http_request=True)


def _response_head(response: Response) -> StatusAndHeaders:
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    protocol = getattr(response, "protocol", None) or "HTTP/1.1"
    return StatusAndHeaders(
        f"{response.status} {phrase}".strip(), _pairs(response.headers, skip=_HOP_BY_HOP), protocol=protocol
    )


class WarcExtension:
    """Writes a gzip WARC 1.1 of everything fetched and every decision."""

    def __init__(self, path: str, policy: PolicyConfig | None = None, crawler: Crawler | None = None) -> None:
        self.path = path
        self.crawler = crawler
        self._file: AppendOnlyFile | None = AppendOnlyFile(path, "WARC")
        self._writer = WARCWriter(io.BytesIO(), gzip=True, warc_version="WARC/1.1")
        self._write(self._writer.create_warcinfo_record(Path(path).name, warcinfo_fields(policy)))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` without `CONSENT_WARC_PATH` or with `CONSENT_ENABLED = False`."""
        settings = consent_settings(crawler.settings)
        if settings.warc_path is None:
            raise NotConfigured("CONSENT_WARC_PATH is not set")
        extension = cls(settings.warc_path, settings.config, crawler)
        crawler.signals.connect(extension.archive_response, signal=signals.response_downloaded)
        crawler.signals.connect(extension.archive_decision, signal=consent_decision)
        crawler.signals.connect(extension.archive_fetch_failure, signal=consent_fetch_failed)
        crawler.signals.connect(extension.close, signal=signals.engine_stopped)
        return extension

    def _write(self, *records: Any) -> None:
        """Append `records` as one write; on failure stop the crawl and raise `OutputWriteError`."""
        if self._file is None:
            return
        buffer = io.BytesIO()
        self._writer.out = buffer
        for record in records:
            self._writer.write_record(record)
        try:
            self._file.append(buffer.getvalue())
        except OutputWriteError as exc:
            if self.crawler is not None:
                stop_crawl(self.crawler, exc)
            raise

    def archive_response(self, response: Response, request: Request, **_: Any) -> None:
        """A `response` record (body as received) and its `request` record; a write failure stops the crawl
        (raising here would only be logged by the downloader)."""
        body = response.body
        fields = {"WARC-IP-Address": str(response.ip_address)} if response.ip_address else {}
        if _STOPPED_FLAG in response.flags:
            fields["WARC-Truncated"] = "length"
        record = self._writer.create_warc_record(
            response.url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=_response_head(response),
            warc_headers_dict=fields or None,
        )
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        request_record = self._writer.create_warc_record(
            request.url,
            "request",
            http_headers=_request_head(request),
            warc_headers_dict={"WARC-Concurrent-To": record_id},
        )
        try:
            self._write(record, request_record)
        except OutputWriteError:
            return  # the crawl is stopped; the decision about this response cannot be archived either
        request.meta[RECORD_ID_META] = record_id

    def archive_decision(
        self, decision: Decision, request: Request, response: Response | None = None, **_: Any
    ) -> None:
        """A `metadata` record holding the decision, concurrent to the response it judged."""
        payload = decision_payload(decision, run_fields(self.crawler, request, decision.url))
        headers = {"Content-Type": METADATA_CONTENT_TYPE}
        record_id = request.meta.get(RECORD_ID_META) if response is not None else None
        if record_id:
            headers["WARC-Concurrent-To"] = record_id
        self._write(
            self._writer.create_warc_record(
                decision.url,
                "metadata",
                payload=io.BytesIO(payload),
                length=len(payload),
                warc_content_type=METADATA_CONTENT_TYPE,
                warc_headers_dict=headers,
            )
        )

    def archive_fetch_failure(self, url: str, detail: str, **_: Any) -> None:
        """A `metadata` record for a document that could not be fetched at all (no response to archive)."""
        payload = fetch_failure_payload(url, detail)
        record = self._writer.create_warc_record(
            url, "metadata", payload=io.BytesIO(payload), length=len(payload), warc_content_type=METADATA_CONTENT_TYPE
        )
        with contextlib.suppress(OutputWriteError):  # the crawl is stopped
            self._write(record)

    def close(self) -> None:
        """Close the archive at the end of the crawl."""
        if self._file is not None:
            self._file.close()
            self._file = None
