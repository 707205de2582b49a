"""URL-list crawls (`consentry crawl --urls`): peak memory against the list's length, list-mode throughput
against plain Scrapy, and the 10,000-row dataset crawl of issue 13 (docs/architecture.md, "URL lists").

Every figure comes from child processes (a Twisted reactor runs once per process; peak RSS is the child's own
VmHWM, not `ru_maxrss`, which survives exec and can report the parent's size) against one loopback server
answering every path with a tiny PNG.

* memory: for each list size (default 100,000 and 1,000,000 URLs, a .txt list) two children report their peak
  RSS: `reader` streams the WHOLE list through `consentry.crawler.crawl.urllist` (parsing, checks, duplicate
  window); `crawl` runs `consentry crawl --urls LIST` with every consent component, stopped after `--seconds`
  (default 60; or `--cap` requests) — a million loopback fetches take too long here. Were `start()` eager,
  the engine would pull the whole list into the scheduler within those seconds and the 1,000,000 list's crawl
  would peak far higher; lazy, both crawls hold one batch. Ratio largest/smallest, budget <= 1.1.
* throughput: list-mode crawls of `--fetch` URLs, interleaved A B A B: every consent component vs the same
  Scrapy crawl with `RobotsTxtMiddleware` alone; listed URLs fetched per second of Scrapy's start→finish
  (the consent crawl drops the `X-Robots-Tag: noai` tenth, the baseline keeps it); ratio of medians
  (budget >= 0.85).
* `--dataset-rows N`: a parquet list of N rows with captions (a tenth withheld by `X-Robots-Tag: noai`) crawled
  with `--dataset webdataset`; the shards are read back with `webdataset` and checked (every kept asset once).

Usage: python bench/bench_urls.py [--sizes 100000,1000000] [--seconds 60] [--cap 0] [--fetch 2000] [--rounds 3]
       [--dataset-rows 0]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The child's own peak RSS in KiB: VmHWM belongs to the process's address space, which exec replaces;
#: `ru_maxrss` survives exec and would report the bench's own size when that is larger.
_PEAK = """
def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
"""

_READER = _PEAK + """
import sys
from consentry.crawler.crawl.urllist import open_url_list
urls = open_url_list(sys.argv[1])
count = sum(1 for _ in urls.rows())
print(count, peak())
"""

_CRAWL = _PEAK + """
import json, sys
from consentry.crawler.crawl.runner import run_crawl
from consentry.crawler.crawl.urllist import open_url_list
path, out, mode, cap, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
overrides = {"LOG_LEVEL": "ERROR", "CLOSESPIDER_TIMEOUT": seconds, "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
             "CONSENT_ALLOW_PRIVATE_ADDRESSES": True, "CONSENT_FOLLOW_DROPPED_PAGES": False}
if mode == "baseline":
    overrides.update({"CONSENT_ENABLED": False, "ROBOTSTXT_OBEY": True, "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100}})
s = run_crawl([], out, settings_overrides=overrides, max_requests=cap, url_list=open_url_list(path))
print(json.dumps({"items": s.items, "elapsed": s.elapsed,
                  "rss": peak()}))
"""


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2, 2), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            body, kind, extra = b"User-agent: *\nDisallow: /private/\n", "text/plain", []
        else:
            body, kind = self.body, "image/png"
            extra = [("X-Robots-Tag", "noai")] if self.path.endswith("3.png") else []
        self.send_response(200)
        self.send_header("Content-Type", kind)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def _serving() -> Iterator[str]:
    _Handler.body = _png()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _write_list(path: Path, origin: str, size: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(size):
            out.write(f"{origin}/i/{i}.png\n")
    return path


def _child(code: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return proc.stdout.strip().splitlines()[-1]


def _crawl(path: Path, mode: str, cap: int, seconds: int = 0) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        return json.loads(_child(_CRAWL, str(path), out, mode, str(cap), str(seconds)))


def memory(origin: str, sizes: list[int], cap: int, seconds: int, work: Path) -> None:
    reader: dict[int, int] = {}
    crawl: dict[int, int] = {}
    for size in sizes:
        path = _write_list(work / f"list-{size}.txt", origin, size)
        count, rss = map(int, _child(_READER, str(path)).split())
        assert count == size, (count, size)
        reader[size] = rss
        result = _crawl(path, "consent", cap, seconds)
        crawl[size] = int(result["rss"])
        print(f"{size:>9} URLs: reader (whole list) peak RSS {rss / 1024:.1f} MiB; crawl "
              f"({f'--max-requests {cap}' if cap else f'stopped after {seconds} s'}, {result['items']} items) "
              f"peak RSS {crawl[size] / 1024:.1f} MiB")
    low, high = min(sizes), max(sizes)
    print(f"peak RSS ratio {high}/{low}: reader {reader[high] / reader[low]:.2f}, "
          f"crawl {crawl[high] / crawl[low]:.2f} (budget <= 1.1)")


def throughput(origin: str, fetch: int, rounds: int, work: Path) -> None:
    path = _write_list(work / "fetch.txt", origin, fetch)
    rates: dict[str, list[float]] = {"consent": [], "baseline": []}
    for _ in range(rounds):
        for mode, values in rates.items():
            result = _crawl(path, mode, 0)
            values.append(fetch / result["elapsed"])
    for mode, values in rates.items():
        print(f"{mode:<9} URLs/s: " + ", ".join(f"{v:.0f}" for v in values)
              + f"  (median {statistics.median(values):.0f})")
    ratio = statistics.median(rates["consent"]) / statistics.median(rates["baseline"])
    print(f"list-mode ratio consent/baseline: {ratio:.2f} (budget >= 0.85; listed URLs fetched per second)")


def dataset(origin: str, rows: int, work: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import webdataset as wds

    urls = [f"{origin}/d/{i}.png" for i in range(rows)]
    pq.write_table(pa.table({"url": urls, "caption": [f"caption {i}" for i in range(rows)]}),
                   work / "rows.parquet", row_group_size=1000)
    out = work / "dataset-out"
    proc = subprocess.run(
        [sys.executable, "-m", "consentry.crawler.cli", "crawl", "--urls", str(work / "rows.parquet"), "-o",
         str(out), "--dataset", "webdataset", "--set", "CONSENT_ALLOW_PRIVATE_ADDRESSES=true",
         "--set", "CONCURRENT_REQUESTS=16", "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=16"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    print(proc.stdout.strip())  # the crawl summary (stdout by the summary convention)
    samples = list(wds.WebDataset(sorted(str(p) for p in (out / "dataset").glob("*.tar")),
                                  shardshuffle=False, empty_check=False))
    got = [json.loads(s["json"])["url"] for s in samples]
    kept = [u for u in urls if not u.endswith("3.png")]
    captions_ok = all(s["txt"].decode() == f"caption {json.loads(s['json'])['url'].rsplit('/', 1)[1][:-4]}"
                      for s in samples)
    print(f"dataset: {len(samples)} samples read back by webdataset from {rows} rows; every kept asset "
          f"exactly once: {sorted(got) == sorted(kept)}; no withheld asset: "
          f"{not any(u.endswith('3.png') for u in got)}; captions carried: {captions_ok}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--cap", type=int, default=0, help="stop the memory crawls after N requests")
    parser.add_argument("--seconds", type=int, default=60, help="stop the memory crawls after S seconds")
    parser.add_argument("--fetch", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dataset-rows", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, _serving() as origin:
        work = Path(tmp)
        if args.dataset_rows:
            dataset(origin, args.dataset_rows, work)
        if args.sizes:
            memory(origin, [int(s) for s in args.sizes.split(",")], args.cap, args.seconds, work)
        if args.rounds:
            throughput(origin, args.fetch, args.rounds, work)


if __name__ == "__main__":
    main()
