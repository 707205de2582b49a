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
import logging
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from consentry.middlewares._appendfile import AppendOnlyFile, OutputWriteError, stop_crawl
from consentry.middlewares._config import consent_settings
from consentry.middlewares._scrapyio import field_lines
from consentry.middlewares.adapters.warcformat import (
    METADATA_CONTENT_TYPE,
    decision_payload,
    fetch_failure_payload,
    warcinfo_fields,
)
from consentry.middlewares.adapters.warcrecords import WarcRecords, compressible, http_head
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
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
#: Scrapy's flag on a response whose download a `headers_received`/`bytes_received` handler stopped.
_STOPPED_FLAG = "download_stopped"


def _request_head(request: Request) -> bytes:
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = list(field_lines(request.headers))
    if not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return http_head(f"{request.method} {target} HTTP/1.1", headers)


def _response_head(response: Response) -> bytes:
    phrase = _PHRASES.get(response.status, "")
    protocol = getattr(response, "protocol", None) or "HTTP/1.1"
    status_line = f"{protocol} {response.status} {phrase}".strip()
    return http_head(status_line, [pair for pair in field_lines(response.headers) if pair[0].lower() not in _HOP_BY_HOP])


class WarcExtension:
    """Writes a gzip WARC 1.1 of everything fetched and every decision."""

    def __init__(self, path: str, policy: PolicyConfig | None = None, crawler: Crawler | None = None) -> None:
        self.path = path
        self.crawler = crawler
        self._file: AppendOnlyFile | None = AppendOnlyFile(path, "WARC")
        self._records = WarcRecords()
        self._write(self._records.warcinfo(Path(path).name, warcinfo_fields(policy))[1])

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

    def _write(self, records: bytes) -> None:
        """Append `records` (whole gzip members) as one write; on failure stop the crawl and raise
        `OutputWriteError`."""
        if self._file is None:
            return
        try:
            self._file.append(records)
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
        headers = response.headers
        compress = compressible(
            (headers.get(b"Content-Type") or b"").decode("latin-1"),
            (headers.get(b"Content-Encoding") or b"").decode("latin-1"),
        )
        record_id, record = self._records.http(
            "response", response.url, _response_head(response), body, fields, compress=compress
        )
        request_record = self._records.http(
            "request", request.url, _request_head(request), b"", {"WARC-Concurrent-To": record_id}
        )[1]
        try:
            self._write(record + request_record)
        except OutputWriteError:
            return  # the crawl is stopped; the decision about this response cannot be archived either
        request.meta[RECORD_ID_META] = record_id

    def archive_decision(
        self,
        decision: Decision,
        request: Request,
        response: Response | None = None,
        payload: bytes | None = None,
        **_: Any,
    ) -> None:
        """A `metadata` record holding the decision (`payload`, its JSON, when the sender serialised it),
        concurrent to the response it judged."""
        payload = payload if payload is not None else decision_payload(decision)
        record_id = request.meta.get(RECORD_ID_META) if response is not None else None
        extra = {"WARC-Concurrent-To": record_id} if record_id else None
        self._write(self._records.metadata(decision.url, payload, METADATA_CONTENT_TYPE, extra)[1])

    def archive_fetch_failure(self, url: str, detail: str, **_: Any) -> None:
        """A `metadata` record for a document that could not be fetched at all (no response to archive)."""
        payload = fetch_failure_payload(url, detail)
        record = self._records.metadata(url, payload, METADATA_CONTENT_TYPE)[1]
        with contextlib.suppress(OutputWriteError):  # the crawl is stopped
            self._write(record)

    def close(self) -> None:
        """Close the archive at the end of the crawl."""
        if self._file is not None:
            self._file.close()
            self._file = None
