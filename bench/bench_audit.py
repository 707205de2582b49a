"""Audit replay throughput vs bare warcio iteration, and peak memory on a 10x archive (budgets: docs/architecture.md).

Generates HTML-only archives in the crawl's layout (warcinfo with policy, site files, response + request +
decision metadata per page), then prints: replay time / bare iteration time as a ratio (budget >= 0.5) and
the peak RSS of a replay subprocess for 1x and 10x archives (budget: flat).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ORIGINS = [f"http://site{n}.example" for n in range(5)]


def _record(
    writer: WARCWriter,
    url: str,
    kind: str,
    body: bytes,
    headers: list[tuple[str, str]] | None,
    status: str = "200 OK",
    extra: dict[str, str] | None = None,
) -> str:
    http = (
        None
        if headers is None
        else StatusAndHeaders(status, headers, protocol="HTTP/1.1", is_http_request=kind == "request")
    )
    record = writer.create_warc_record(
        url, kind, payload=io.BytesIO(body), length=len(body), http_headers=http, warc_headers_dict=extra
    )
    writer.write_record(record)
    return str(record.rec_headers.get_header("WARC-Record-ID"))


def make_archive(path: Path, pages: int) -> None:
    """`pages` HTML responses with their decisions, in the crawl's layout."""
    from consentry.middlewares.adapters.manifestreader import C2paReader
    from consentry.middlewares.adapters.warcformat import POLICY_FIELD, policy_record
    from consentry.policies.config import PolicyConfig
    from consentry.policies.evaluate import SiteDocuments, SitePolicy, evaluate_asset
    from consentry.policies.model import AssetResponse, SiteFile

    config = PolicyConfig()
    robots = b"User-agent: *\nDisallow: /private/\nContent-Usage: /blog/ train-ai=n\n"
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="WARC/1.1")
        writer.write_record(
            writer.create_warcinfo_record(
                path.name, {"software": "consentry/bench", POLICY_FIELD: json.dumps(policy_record(config))}
            )
        )
        sites = {}
        for origin in ORIGINS:
            _record(writer, origin + "/robots.txt", "response", robots, [("Content-Type", "text/plain")])
            for name in ("/ai.txt", "/.well-known/tdmrep.json"):
                _record(
                    writer, origin + name, "response", b"", [("Content-Type", "text/plain")], "404 Not Found"
                )
            docs = SiteDocuments(
                origin,
                SiteFile.from_http(origin + "/robots.txt", 200, robots),
                SiteFile.from_http(origin + "/ai.txt", 404, b""),
                SiteFile.from_http(origin + "/.well-known/tdmrep.json", 404, b""),
            )
            sites[origin] = SitePolicy.build(docs, config.agent)
        filler = "<p>" + "lorem ipsum dolor sit amet " * 150 + "</p>"
        for n in range(pages):
            origin = ORIGINS[n % len(ORIGINS)]
            url = f"{origin}/{'blog' if n % 3 == 0 else 'news'}/{n}.html"
            body = (
                f"<html><head><title>{n}</title><meta name='robots' content='index'></head>"
                f"<body>{filler}<a href='/x/{n + 1}.html'>next</a></body></html>"
            ).encode()
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
            response_id = _record(writer, url, "response", body, headers)
            _record(
                writer,
                url,
                "request",
                b"",
                [("Host", origin[7:]), ("Referer", origin + "/")],
                status=f"GET /{n}.html HTTP/1.1",
                extra={"WARC-Concurrent-To": response_id},
            )
            decision = evaluate_asset(
                sites[origin],
                AssetResponse(url, 200, tuple(headers), body),
                config,
                fetched_at="2024-01-01T00:00:00Z",
                documents={},
                reader=C2paReader(),
            )
            payload = json.dumps(decision.to_record()).encode()
            _record(
                writer,
                url,
                "metadata",
                payload,
                None,
                extra={"WARC-Concurrent-To": response_id, "Content-Type": "application/json"},
            )


def bare_iteration(path: Path) -> float:
    """Seconds to read every record's content with warcio."""
    started = time.perf_counter()
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            record.content_stream().read()
    return time.perf_counter() - started


def fastwarc_iteration(path: Path) -> float:
    """Seconds to read every record's content with fastwarc, digests verified (context, not the baseline)."""
    from fastwarc.warc import ArchiveIterator as FastIterator

    started = time.perf_counter()
    for record in FastIterator(str(path), parse_http=True, verify_digests=True):
        record.reader.read()
    return time.perf_counter() - started


def replay(path: Path) -> tuple[float, int]:
    """Seconds for the audit of `path` (in process), and the mismatch count."""
    from consentry.crawler.audit.result import AuditOptions
    from consentry.crawler.audit.runner import audit_file

    started = time.perf_counter()
    outcome = audit_file(str(path), AuditOptions())
    return time.perf_counter() - started, outcome.mismatch_count


def peak_rss(path: Path) -> int:
    """Peak RSS (KiB) of a fresh process auditing `path`."""
    code = (
        "import resource,sys; from consentry.crawler.audit.runner import audit_file; from consentry.crawler.audit.result import AuditOptions;"
        f"o = audit_file({str(path)!r}, AuditOptions()); assert o.error is None, o.error;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    return int(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )


def main() -> None:
    """Print the figures."""
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "1x.warc.gz", Path(tmp) / "10x.warc.gz"
        make_archive(small, pages)
        make_archive(large, pages * 10)
        replay(small)  # warm imports and caches
        bare = min(bare_iteration(small) for _ in range(3))
        fast = min(fastwarc_iteration(small) for _ in range(3))
        timed, mismatches = min(replay(small) for _ in range(3))
        print(f"archive: {pages} HTML responses, {small.stat().st_size // 1024} KiB; mismatches {mismatches}")
        print(f"bare warcio iteration: {bare * 1000:.0f} ms; audit replay: {timed * 1000:.0f} ms")
        print(f"(context: bare fastwarc iteration with digests verified: {fast * 1000:.0f} ms)")
        print(f"throughput ratio (replay / bare, budget >= 0.5): {bare / timed:.2f}")
        one, ten = peak_rss(small), peak_rss(large)
        print(
            f"peak RSS: 1x {one / 1024:.1f} MiB, 10x ({large.stat().st_size // 1024} KiB) {ten / 1024:.1f} MiB; "
            f"ratio {ten / one:.2f} (budget: flat)"
        )


if __name__ == "__main__":
    main()
