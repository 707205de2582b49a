"""WarcExtension: site files, request/response pairs and decision metadata records, read back with warcio."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import CrawlResult, jpeg, run_crawl

pytestmark = pytest.mark.e2e
_PAGE = b"<html><body>" + b"compressible " * 200 + b'<img src="/a.jpg"><a href="/no/x">x</a></body></html>'


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SiteServer, CrawlResult]]:
    routes = {
        "/robots.txt": Route.text("User-agent: *\nDisallow: /no/\n"),
        "/": Route(200, (("Content-Type", "text/html"), ("Content-Encoding", "gzip")), gzip.compress(_PAGE)),
        "/a.jpg": jpeg(("X-Robots-Tag", "noai")),
    }
    with SiteServer(routes) as server:
        yield server, run_crawl([server.url("/")], tmp_path_factory.mktemp("warc"))


def test_site_files_and_responses_archived(crawl: tuple[SiteServer, CrawlResult]) -> None:
    server, result = crawl
    records = result.warc_records()
    assert records[0][0] == "warcinfo"
    responses = {uri for kind, uri, *_ in records if kind == "response"}
    requests = {uri for kind, uri, *_ in records if kind == "request"}
    expected = {server.url(p) for p in ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json", "/", "/a.jpg")}
    assert responses == expected
    assert requests == expected
    assert all(h["WARC-Type"] for _, _, h, _, _ in records)


def test_body_archived_as_received_on_the_wire(crawl: tuple[SiteServer, CrawlResult]) -> None:
    server, result = crawl
    (page,) = [r for r in result.warc_records() if r[0] == "response" and r[1] == server.url("/")]
    http_headers, raw = page[4], page[3]
    assert http_headers.get_header("Content-Encoding") == "gzip"
    assert gzip.decompress(raw) == _PAGE  # the compressed bytes, exactly as served


def test_decision_metadata_concurrent_to_response(crawl: tuple[SiteServer, CrawlResult]) -> None:
    server, result = crawl
    records = result.warc_records()
    ids = {h["WARC-Record-ID"]: uri for kind, uri, h, _, _ in records if kind == "response"}
    metadata = [(uri, h, json.loads(raw)) for kind, uri, h, raw, _ in records if kind == "metadata"]
    assert {uri for uri, _, _ in metadata} == {server.url("/"), server.url("/a.jpg"), server.url("/no/x")}
    for uri, headers, record in metadata:
        assert headers["Content-Type"] == "application/json"
        assert record["url"] == uri
        if record["action"] == "skip":
            assert "WARC-Concurrent-To" not in headers
        else:
            assert ids[headers["WARC-Concurrent-To"]] == uri
    assert len(metadata) == len(result.decisions)


def test_records_are_valid_warc_read_by_warcio(crawl: tuple[SiteServer, CrawlResult]) -> None:
    """The crawl's own record writer (consentry.middlewares.adapters.warcrecords), checked by an independent
    reader: warcio verifies every block and payload digest, each record is its own gzip member, and the
    fields WARC 1.1 requires are there."""
    import zlib

    from warcio.archiveiterator import ArchiveIterator

    _, result = crawl
    path = result.out / "crawl.warc.gz"
    checked = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, check_digests=True):
            record.content_stream().read()
            headers = record.rec_headers
            assert record.digest_checker.passed is True, record.digest_checker.problems
            assert headers.protocol == "WARC/1.1"
            for name in ("WARC-Record-ID", "WARC-Date", "WARC-Type", "Content-Length", "WARC-Block-Digest"):
                assert headers.get_header(name), name
            if record.rec_type in ("response", "request", "metadata"):
                assert headers.get_header("WARC-Payload-Digest")
            checked.append(record.rec_type)
    assert {"warcinfo", "response", "request", "metadata"} <= set(checked)
    data, members = path.read_bytes(), 0
    while data:  # one gzip member per record (WARC 1.1 Annex D)
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        inflater.decompress(data)
        assert inflater.eof
        data, members = inflater.unused_data, members + 1
    assert members == len(checked)


@pytest.mark.parametrize(
    ("content_type", "encoding", "expected"),
    [
        ("text/html; charset=utf-8", "", True),
        ("application/json", "identity", True),
        ("image/svg+xml", "", True),
        ("image/bmp", "", True),
        ("image/jpeg", "", False),
        ("IMAGE/PNG", "", False),
        ("video/mp4", "", False),
        ("text/html", "gzip", False),
        ("text/html", " br ", False),
    ],
)
def test_already_compressed_bodies_are_stored(content_type: str, encoding: str, expected: bool) -> None:
    from consentry.middlewares.adapters.warcrecords import compressible

    assert compressible(content_type, encoding) is expected


def test_stored_and_deflated_members_both_read_back() -> None:
    """A stored member (level 0, for JPEG bytes) and a deflated one are each valid gzip holding the record."""
    import gzip as gzip_module

    from consentry.middlewares.adapters.warcrecords import WarcRecords, http_head

    records = WarcRecords()
    body = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64
    head = http_head("HTTP/1.1 200 OK", [("Content-Type", "image/jpeg")])
    _, stored = records.http("response", "https://example.com/a.jpg", head, body, compress=False)
    _, deflated = records.http("response", "https://example.com/a.jpg", head, body)
    assert len(stored) > len(body) > len(deflated)
    for member in (stored, deflated):
        text = gzip_module.decompress(member)
        assert text.startswith(b"WARC/1.1\r\n")
        assert text.endswith(head + body + b"\r\n\r\n")
