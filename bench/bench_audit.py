"""Audit throughput vs bare warcio iteration, peak memory on a 10x archive, the index pass per file.

Generates HTML-only archives: one in the crawl's layout (warcinfo with policy, site files, response + request +
decision metadata per page) and a foreign one of the same size as wget writes it (no decisions, robots.txt
for some origins only, chunked and gzip bodies). Prints, against bare warcio iteration measured in the same
run: the replay alone (index built beforehand) and the whole two-pass audit, for both archives (issue 12's
budgets: replay >= 1.0x on our own archive, >= 0.5x on a foreign one); the peak RSS of a whole audit of the 1x
and 10x archives (budget: flat); and the index pass over 100 files, per file. For the own archive it also prints
the floor: the share of bare warcio's time the audit's reader alone takes, the time per page that leaves for
evaluation and comparison at 1.0, and what the evaluation core alone (`evaluate_asset` over the pages in memory)
costs per page.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


#: The own archive's robots.txt, the same for every origin.
ROBOTS = b"User-agent: *\nDisallow: /private/\nContent-Usage: /blog/ train-ai=n\n"


def site_policies(agent: str) -> dict[str, Any]:
    """Each origin's `SitePolicy` from the own archive's site files (`ROBOTS`; no ai.txt, no tdmrep.json)."""
    from consentry.policies.evaluate import SiteDocuments, SitePolicy
    from consentry.policies.model import SiteFile

    return {
        origin: SitePolicy.build(SiteDocuments(
            origin,
            SiteFile.from_http(origin + "/robots.txt", 200, ROBOTS),
            SiteFile.from_http(origin + "/ai.txt", 404, b""),
            SiteFile.from_http(origin + "/.well-known/tdmrep.json", 404, b""),
        ), agent)
        for origin in ORIGINS
    }


def make_archive(path: Path, pages: int) -> None:
    """`pages` HTML responses with their decisions, in the crawl's layout."""
    from consentry.middlewares.adapters.manifestreader import C2paReader
    from consentry.middlewares.adapters.warcformat import POLICY_FIELD, policy_record
    from consentry.policies.config import PolicyConfig
    from consentry.policies.evaluate import evaluate_asset
    from consentry.policies.model import AssetResponse

    config = PolicyConfig()
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="WARC/1.1")
        writer.write_record(
            writer.create_warcinfo_record(
                path.name, {"software": "consentry/bench", POLICY_FIELD: json.dumps(policy_record(config))}
            )
        )
        for origin in ORIGINS:
            _record(writer, origin + "/robots.txt", "response", ROBOTS, [("Content-Type", "text/plain")])
            for name in ("/ai.txt", "/.well-known/tdmrep.json"):
                _record(
                    writer, origin + name, "response", b"", [("Content-Type", "text/plain")], "404 Not Found"
                )
        sites = site_policies(config.agent)
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


def foreign_archive(path: Path, pages: int) -> None:
    """A wget-style WARC of `pages` HTML responses: robots.txt for three of the five origins, no ai.txt or
    tdmrep.json, a third of the bodies chunked, a third gzip-encoded, a request record per response."""
    filler = "<p>" + "lorem ipsum dolor sit amet " * 150 + "</p>"
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="WARC/1.0")
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "Wget/1.21.3"}))
        for origin in ORIGINS[:3]:
            _record(writer, origin + "/robots.txt", "response", b"User-agent: *\nDisallow: /private/\n",
                    [("Content-Type", "text/plain")])
        for n in range(pages):
            origin = ORIGINS[n % len(ORIGINS)]
            url = f"{origin}/{'blog' if n % 3 == 0 else 'news'}/{n}.html"
            body = (f"<html><head><title>{n}</title></head><body>{filler}</body></html>").encode()
            headers = [("Content-Type", "text/html; charset=utf-8")]
            if n % 3 == 1:
                body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
                headers.append(("Transfer-Encoding", "chunked"))
            elif n % 3 == 2:
                body = gzip.compress(body)
                headers.append(("Content-Encoding", "gzip"))
            response_id = _record(writer, url, "response", body, headers)
            _record(writer, url, "request", b"", [("Host", origin[7:])], status=f"GET /{n}.html HTTP/1.1",
                    extra={"WARC-Concurrent-To": response_id})


def replay(path: Path, index: str | None = None) -> tuple[float, int]:
    """Seconds for the replay of `path` (in process; with a prebuilt index when given), and its mismatches."""
    from consentry.crawler.audit.result import AuditOptions
    from consentry.crawler.audit.runner import audit_file

    started = time.perf_counter()
    outcome = audit_file(str(path), AuditOptions(), index_path=index)
    assert outcome.error is None, outcome.error
    return time.perf_counter() - started, outcome.mismatch_count


def whole_audit(paths: list[Path]) -> float:
    """Seconds for the whole audit (index pass, then replay) of `paths` in this process."""
    from consentry.crawler.audit.result import AuditOptions
    from consentry.crawler.audit.runner import audit_files

    started = time.perf_counter()
    outcomes = audit_files([str(p) for p in paths], AuditOptions(), jobs=1)
    assert all(o.error is None for o in outcomes)
    return time.perf_counter() - started


def index_only(paths: list[Path], directory: Path) -> tuple[float, str]:
    """Seconds for the index pass alone over `paths` (in this process), and the index's path."""
    from consentry.crawler.audit.result import AuditOptions
    from consentry.crawler.audit.runner import _local_mapper, build_index

    started = time.perf_counter()
    directory.mkdir(exist_ok=True)
    build_index([str(p) for p in paths], directory, AuditOptions(), _local_mapper(1, None)).close()
    return time.perf_counter() - started, str(directory / "index.sqlite")


def peak_rss(path: Path) -> int:
    """Peak RSS (KiB) of a fresh process running the whole audit of `path`."""
    code = (
        "import resource,sys; from consentry.crawler.audit.runner import audit_files; "
        "from consentry.crawler.audit.result import AuditOptions;"
        f"o = audit_files([{str(path)!r}], AuditOptions(), jobs=1); assert o[0].error is None, o[0].error;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    return int(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )


def _figures(name: str, path: Path, tmp: Path, rounds: int = 7) -> None:
    """Paired rounds (bare iteration, then the audit, back to back) so that a loaded machine's drift cancels
    out of each ratio; the median ratio and the fastest times are printed."""
    import statistics

    index = index_only([path], tmp / f"index-{name}")[1]
    bare, indexed, timed, whole, replay_ratios, whole_ratios = [], [], [], [], [], []
    mismatches = 0
    for n in range(rounds):
        bare.append(bare_iteration(path))
        seconds, mismatches = replay(path, index)
        timed.append(seconds)
        replay_ratios.append(bare[-1] / seconds)
        bare.append(bare_iteration(path))
        whole.append(whole_audit([path]))
        whole_ratios.append(bare[-1] / whole[-1])
        indexed.append(index_only([path], tmp / f"index-{name}-{n}")[0])
    print(f"{name}: {path.stat().st_size // 1024} KiB; mismatches {mismatches}")
    print(f"  fastest: bare warcio iteration {min(bare) * 1000:.0f} ms; index pass {min(indexed) * 1000:.0f} ms; "
          f"replay {min(timed) * 1000:.0f} ms; whole audit {min(whole) * 1000:.0f} ms")
    print(f"  throughput ratio vs bare warcio (median of {rounds} paired rounds): "
          f"replay {statistics.median(replay_ratios):.2f}, whole audit {statistics.median(whole_ratios):.2f}")


def reader_only(path: Path) -> float:
    """Seconds for the audit's reader alone over `path`: fastwarc, digests verified, every record converted to the
    replay's values (what the replay reads before it judges anything)."""
    from consentry.crawler.audit.readers.archive import WarcReader

    started = time.perf_counter()
    for _ in WarcReader(path, body_cap=1 << 26).batches():
        pass
    return time.perf_counter() - started


def core_only(path: Path) -> tuple[float, int]:
    """Seconds for the evaluation core alone (`evaluate_asset`, the crawl's and the replay's one path) over the
    pages of `path` (an own archive), already in memory, under its site policies; and how many pages."""
    from consentry.crawler.audit.readers.archive import Capture, WarcReader
    from consentry.middlewares.adapters.manifestreader import C2paReader
    from consentry.policies.config import PolicyConfig
    from consentry.policies.evaluate import evaluate_asset, origin_of
    from consentry.policies.model import AssetResponse

    config, reader = PolicyConfig(), C2paReader()
    sites = site_policies(config.agent)
    values = (v for batch in WarcReader(path, body_cap=1 << 26).batches() for v in batch)
    assets = [(sites[origin_of(v.url)], AssetResponse(v.url, v.status, v.headers, v.body))
              for v in values if isinstance(v, Capture) and v.url.endswith(".html")]
    started = time.perf_counter()
    for site, asset in assets:
        evaluate_asset(site, asset, config, fetched_at="2024-01-01T00:00:00Z", documents={}, reader=reader)
    return time.perf_counter() - started, len(assets)


def floor(path: Path, rounds: int = 7) -> None:
    """What the budget leaves the evaluation: bare warcio's time minus the reader's, per page, against what the
    evaluation core alone costs per page (paired rounds, medians)."""
    import statistics

    left, core, reading = [], [], []
    for _ in range(rounds):
        bare, read = bare_iteration(path), reader_only(path)
        seconds, pages = core_only(path)
        reading.append(read / bare)
        left.append((bare - read) / pages)
        core.append(seconds / pages)
    print(f"  floor: the reader alone (fastwarc, digests verified, values converted) takes "
          f"{statistics.median(reading):.2f} of bare warcio's time; at 1.0 that leaves "
          f"{statistics.median(left) * 1e6:.0f} µs per page for evaluation and comparison; the evaluation core "
          f"alone (evaluate_asset, in memory) costs {statistics.median(core) * 1e6:.0f} µs per page")


def main() -> None:
    """Print the figures."""
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        small, large, foreign = tmp / "1x.warc.gz", tmp / "10x.warc.gz", tmp / "foreign.warc.gz"
        make_archive(small, pages)
        make_archive(large, pages * 10)
        foreign_archive(foreign, pages)
        replay(small)  # warm imports and caches
        fast = min(fastwarc_iteration(small) for _ in range(3))
        print(f"{pages} HTML responses per archive")
        _figures("own archive (budget: replay >= 1.0)", small, tmp)
        floor(small)
        _figures("foreign archive (budget: replay >= 0.5)", foreign, tmp)
        print(f"(context: bare fastwarc iteration of the own archive, digests verified: {fast * 1000:.0f} ms)")
        one, ten = peak_rss(small), peak_rss(large)
        print(
            f"peak RSS of a whole audit: 1x {one / 1024:.1f} MiB, 10x ({large.stat().st_size // 1024} KiB) "
            f"{ten / 1024:.1f} MiB; ratio {ten / one:.2f} (budget: flat)"
        )
        many = []
        for n in range(100):
            path = tmp / f"part-{n:03d}.warc.gz"
            make_archive(path, 10)
            many.append(path)
        seconds, _ = index_only(many, tmp / "index-100")
        print(f"index pass over 100 files of 10 pages: {seconds * 1000:.0f} ms, {seconds * 10:.1f} ms per file")


if __name__ == "__main__":
    main()
