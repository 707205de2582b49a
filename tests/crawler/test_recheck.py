"""`consentry recheck`: a finished crawl of a loopback site, the site's signals changed, then the recheck lists
exactly the assets whose consent changed (withdrawn.jsonl), reuses archived bodies on 304, never requests what
robots.txt now disallows, and reports bad input in one line with exit 2.

The crawl runs in its own process (`consentry crawl`, tests.crawler._helpers.run_crawl); the site is a loopback
server in this process that honours `If-None-Match` and logs every request with the status and body bytes it sent.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from consentry.crawler.recheck.runner import freshen
from tests.crawler._helpers import ROOT, run_crawl
from tests.provenance_fixtures import jpeg_with_app1_xmp, plain_image, xmp_packet

pytestmark = pytest.mark.e2e

ROBOTS = "User-agent: *\nAllow: /\n"
PROHIBITED = 'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-GENAIMLTRAINING"/>'
IMAGES = ("keep", "header", "robots", "aitxt", "embedded", "usage", "dropped")


@dataclass
class Resource:
    """What the site serves at one path: headers, body and the entity tag (RFC 9110 §8.8.3)."""

    headers: list[tuple[str, str]]
    body: bytes
    etag: str | None = None
    last_modified: str | None = None  # honoured with If-Modified-Since (exact match) when there is no ETag
    busy: int = 0  # answer this many requests 503 with Retry-After: 1 first


@dataclass(frozen=True)
class Hit:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    body_bytes: int
    at: float


@dataclass
class Site:
    resources: dict[str, Resource] = field(default_factory=dict)
    log: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.log if hit.path == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        resource = site.resources.get(self.path)
        condition = self.headers.get("If-None-Match")
        if resource is None:
            status, headers, body = 404, [("Content-Type", "text/plain")], b"not found\n"
        elif resource.busy:
            resource.busy -= 1
            status, headers, body = 503, [("Retry-After", "1"), ("Content-Type", "text/plain")], b"busy\n"
        else:
            headers = [*resource.headers, *((("ETag", resource.etag),) if resource.etag else ()),
                       *((("Last-Modified", resource.last_modified),) if resource.last_modified else ())]
            since = self.headers.get("If-Modified-Since")
            fresh = (condition is not None and condition == resource.etag) or (
                resource.etag is None and since is not None and since == resource.last_modified)
            status, body = (304, b"") if fresh else (200, resource.body)
        with site.lock:
            site.log.append(Hit(self.path, condition, self.headers.get("If-Modified-Since"), status, len(body),
                                time.monotonic()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.site = state  # type: ignore[attr-defined]
    state.port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def _jpeg(*headers: tuple[str, str], body: bytes | None = None, etag: str = '"v1"') -> Resource:
    return Resource([("Content-Type", "image/jpeg"), *headers], body or plain_image("jpeg"), etag)


def _text(body: str, kind: str = "text/plain") -> Resource:
    return Resource([("Content-Type", kind)], body.encode())


def _publish(site: Site) -> None:
    """A page linking seven images; one (dropped.jpg) denied by its header at crawl time."""
    images = "".join(f'<img src="/{"ai/" if name == "aitxt" else "private/" if name == "robots" else "img/"}'
                     f'{name}.jpg">' for name in IMAGES)
    site.resources.update({
        "/robots.txt": _text(ROBOTS),
        "/ai.txt": _text("User-agent: *\nAllow: /\n"),
        "/index.html": Resource([("Content-Type", "text/html; charset=utf-8")],
                                f"<html><body>{images}</body></html>".encode(),
                                last_modified="Sun, 01 Nov 2026 10:00:00 GMT"),
        **{f"/img/{name}.jpg": _jpeg() for name in ("keep", "header", "embedded", "usage")},
        "/private/robots.jpg": _jpeg(),
        "/ai/aitxt.jpg": _jpeg(),
        "/img/dropped.jpg": _jpeg(("X-Robots-Tag", "noai")),
    })


def _crawl(site: Site, out: Path) -> None:
    result = run_crawl([site.url("/index.html")], out)
    assert result.returncode == 0, result.stderr
    kept = {d["url"] for d in result.decisions if d["action"] == "keep"}
    assert kept == {site.url("/index.html"), *(site.url(p) for p in site.resources if p.endswith(".jpg")
                                                 and "dropped" not in p)}
    assert result.decision(site.url("/img/dropped.jpg"))["action"] == "drop"


def _recheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentry.crawler.cli", "recheck", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_recheck_lists_exactly_the_changed_assets(site: Site, tmp_path: Path) -> None:
    _publish(site)
    _crawl(site, tmp_path)
    # the site changes: robots.txt, ai.txt, a header (same entity, so the server answers 304 with it), a
    # robots.txt Content-Usage rule, and an image re-published with XMP prohibiting data mining
    site.resources["/robots.txt"] = _text(ROBOTS + "Disallow: /private/\n"
                                          "Content-Usage: /img/usage train-ai=n\n")
    site.resources["/ai.txt"] = _text("User-agent: *\nDisallow: /ai/\n")
    site.resources["/img/header.jpg"].headers.append(("X-Robots-Tag", "noai"))
    site.resources["/img/embedded.jpg"] = _jpeg(body=jpeg_with_app1_xmp(plain_image("jpeg"), xmp_packet(PROHIBITED)),
                                                 etag='"v2"')
    site.resources["/img/dropped.jpg"] = _jpeg(etag='"v2"')  # its creator lifted the noai

    proc = _recheck(str(tmp_path), "--json")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout)
    withdrawn = {line["url"]: line for line in _lines(tmp_path / "withdrawn.jsonl")}
    assert set(withdrawn) == {site.url(p) for p in ("/private/robots.jpg", "/ai/aitxt.jpg", "/img/header.jpg",
                                                    "/img/embedded.jpg", "/img/usage.jpg")}
    assert {url.rsplit("/", 1)[1]: line["mechanisms"] for url, line in withdrawn.items()} == {
        "robots.jpg": ["robots"], "aitxt.jpg": ["ai-txt"], "header.jpg": ["x-robots-tag"],
        "embedded.jpg": ["iptc-xmp"], "usage.jpg": ["robots-content-usage"]}
    robots = withdrawn[site.url("/private/robots.jpg")]
    assert robots["new_action"] == "skip"
    assert robots["fetch"] == "not-requested"
    assert len(site.hits("/private/robots.jpg")) == 1  # requested by the crawl only
    assert [c["mechanism"] for c in robots["changed"]] == ["robots"]  # a skip evaluates access only
    assert "Disallow: /private/" in robots["changed"][0]["new"][0]["evidence"]
    assert "Allow: /" in robots["changed"][0]["old"][0]["evidence"]
    header = withdrawn[site.url("/img/header.jpg")]
    assert header["fetch"] == "not-modified"
    assert header["purposes"]["old"]["ai-train"] != "deny"
    assert header["purposes"]["new"]["ai-train"] == "deny"
    xrt = {c["mechanism"]: c for c in header["changed"]}["x-robots-tag"]
    assert xrt["old"] == []
    assert xrt["new"][0]["evidence"] == "X-Robots-Tag: noai"
    assert withdrawn[site.url("/img/embedded.jpg")]["fetch"] == "modified"
    aitxt = withdrawn[site.url("/ai/aitxt.jpg")]["changed"]
    assert [c["mechanism"] for c in aitxt] == ["ai-txt"]
    assert aitxt[0]["new"][0]["source"] == site.url("/ai.txt")
    assert (aitxt[0]["old"][0]["evidence"], aitxt[0]["new"][0]["evidence"]) == ("line 2: Allow: /",
                                                                                 "line 2: Disallow: /ai/")
    assert summary["withdrawn"] == 5
    assert summary["rechecked"] == 7
    assert summary["unchanged"] == 2
    assert summary["withdrawn_by_mechanism"] == {"robots": 1, "ai-txt": 1, "x-robots-tag": 1, "iptc-xmp": 1,
                                                 "robots-content-usage": 1}
    newly = _lines(tmp_path / "newly_allowed.jsonl")
    assert [line["url"] for line in newly] == [site.url("/img/dropped.jpg")]
    assert summary["newly_allowed"] == 1
    # the unchanged image was answered 304: a conditional request with the archived ETag, no body sent
    keep = site.hits("/img/keep.jpg")[-1]
    assert (keep.if_none_match, keep.status, keep.body_bytes) == ('"v1"', 304, 0)
    assert "5 withdrawn" in proc.stderr


def test_unchanged_site_withdraws_nothing_and_sends_no_bodies(site: Site, tmp_path: Path) -> None:
    _publish(site)
    _crawl(site, tmp_path)
    before = len(site.log)
    proc = _recheck(str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (tmp_path / "withdrawn.jsonl").read_text() == ""
    assert summary["withdrawn"] == 0
    assert summary["unchanged"] == summary["rechecked"] == 7
    recheck = site.log[before:]
    assets = [hit for hit in recheck if hit.path.endswith((".jpg", ".html"))]
    assert len(assets) == 8  # every kept asset once, and the dropped one
    assert all(hit.status == 304 and hit.body_bytes == 0 for hit in assets)
    page = [hit for hit in assets if hit.path == "/index.html"]
    assert [(h.if_none_match, h.if_modified_since) for h in page] == [(None, "Sun, 01 Nov 2026 10:00:00 GMT")]
    assert all(hit.if_none_match == '"v1"' for hit in assets if hit.path != "/index.html")
    assert summary["not_modified"] == 8
    assert summary["bodies_fetched"] == 0


def test_retry_after_holds_the_origin_then_asks_again(site: Site, tmp_path: Path) -> None:
    _publish(site)
    _crawl(site, tmp_path)
    before = len(site.log)
    site.resources["/img/keep.jpg"].busy = 1
    proc = _recheck(str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["unavailable"] == 0
    hits = [hit for hit in site.log[before:] if hit.path == "/img/keep.jpg"]
    assert [hit.status for hit in hits] == [503, 304]
    assert hits[1].at - hits[0].at >= 1.0  # Retry-After: 1 honoured
    after = site.log[site.log.index(hits[0]) + 1]
    assert after == hits[1]  # nothing else was sent to the origin meanwhile (one origin, one request at a time)


def test_asset_without_validators_is_fetched_whole(site: Site, tmp_path: Path) -> None:
    _publish(site)
    for name in IMAGES:  # no ETag anywhere: nothing to make conditional
        for path in (f"/img/{name}.jpg", f"/ai/{name}.jpg", f"/private/{name}.jpg"):
            if path in site.resources:
                site.resources[path].etag = None
    _crawl(site, tmp_path)
    before = len(site.log)
    site.resources["/img/usage.jpg"].headers.append(("Content-Usage", "train-ai=n"))
    proc = _recheck(str(tmp_path), "--json", "-v")
    assert proc.returncode == 1, proc.stderr
    assert f"withdrawn: {site.url('/img/usage.jpg')} (content-usage-header): " in proc.stderr
    withdrawn = _lines(tmp_path / "withdrawn.jsonl")
    assert [(line["url"], line["mechanisms"], line["fetch"]) for line in withdrawn] == [
        (site.url("/img/usage.jpg"), ["content-usage-header"], "fetched")]
    hit = [h for h in site.log[before:] if h.path == "/img/usage.jpg"]
    assert [(h.if_none_match, h.status) for h in hit] == [(None, 200)]


def test_dataset_directory_keys_the_removal_list(site: Site, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _publish(site)
    _crawl(site, tmp_path)
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    urls = [site.url("/img/keep.jpg"), site.url("/img/header.jpg")]
    pq.write_table(pa.table({"url": urls, "key": ["000000000", "000000001"], "caption": ["a", "b"]}),
                   dataset / "00000.parquet")
    site.resources["/img/header.jpg"].headers.append(("X-Robots-Tag", "noai"))
    proc = _recheck(str(dataset), "--json")
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["rechecked"] == 2
    withdrawn = _lines(dataset / "withdrawn.jsonl")
    assert [(line["key"], line["url"]) for line in withdrawn] == [("000000001", urls[1])]
    assert withdrawn[0]["fetch"] == "not-modified"  # the parent crawl's WARC gave the validators and body


def test_corrupt_log_lines_are_counted_not_fatal(site: Site, tmp_path: Path) -> None:
    _publish(site)
    _crawl(site, tmp_path)
    with (tmp_path / "decisions.jsonl").open("a", encoding="utf-8") as log:
        log.write('{"schema": "consentry.decision/1", "url": "http://127.0.0.1:1/cut')  # cut mid-line
        log.write("\n[1, 2]\n\n")
    before = len(site.log)
    proc = _recheck(str(tmp_path), "--json", "--delay", "0.3")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["corrupt_lines"] == 2
    assert summary["corrupt_by_reason"] == {"not JSON": 1, "not a decision record": 1}
    assert summary["rechecked"] == 7
    assert "2 unreadable line(s) skipped" in proc.stderr
    arrivals = [hit.at for hit in site.log[before:]]
    assert len(arrivals) >= 10
    # --delay per origin (measured at arrival: a few ms of scheduling either side; without it the gaps are ~1 ms)
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.25


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "not a directory"),
        (lambda d: d, "no decisions.jsonl"),
        (lambda d: (d / "x.parquet").write_bytes(b"PAR1 truncated") and d, "not a readable parquet file"),
        (lambda d: (d / "decisions.jsonl").write_text('{"url": 1}\nnot json\n') and d,
         "no readable decision record (2 unreadable line(s))"),
    ],
    ids=["missing-dir", "no-decision-log", "truncated-parquet", "only-corrupt-lines"],
)
def test_unusable_directory_is_one_line_and_exit_2(tmp_path: Path, make, message: str) -> None:
    target = make(tmp_path)
    proc = subprocess.run([str(Path(sys.executable).with_name("consentry")), "recheck", str(target)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("consentry: error: ")
    assert message in lines[0]
    assert proc.stdout == ""


def test_freshen_replaces_the_fields_a_304_carries() -> None:
    stored = (("Content-Type", "image/jpeg"), ("ETag", '"v1"'), ("Content-Length", "10"), ("X-Robots-Tag", "all"))
    fresh = (("ETag", '"v1"'), ("X-Robots-Tag", "noai"), ("Content-Length", "0"))
    assert freshen(stored, fresh) == (("Content-Type", "image/jpeg"), ("Content-Length", "10"),
                                      ("ETag", '"v1"'), ("X-Robots-Tag", "noai"))
