"""Distributed crawl (`consentry crawl --redis`, docs/distributed.md): aggregate pages/s of 1, 2 and 3 workers
against a single-process `consentry crawl --urls` of the same list, and Redis round trips per URL.

One run: 30 loopback origins (one threaded server each, a tiny PNG per URL; robots.txt denies /private/, a
tenth answers `X-Robots-Tag: noai`), a list of `--urls` URLs spread over them (default 3,000), a real
`redis-server` on a free loopback port. Each configuration is timed from the launch of its process(es) until the
decision logs hold one decision per URL (polled every 20 ms), so every figure includes Python and Scrapy start-up
alike; rounds are interleaved (single, 1, 2, 3 workers, then again) and the medians compared. Round trips are
the workers' own count of calls to Redis (a pipeline or a Lua script is one), summed over the workers, per URL.
On a 2-core machine the figures show the coordination's cost, not a speed-up. Budgets: 1 worker >= 0.8x the
single process; <= 6 round trips per URL.

Usage: python bench/bench_distributed.py [--urls 3000] [--origins 30] [--rounds 3] [--workers 1,2,3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_urls import _png
from tests.crawler._redis import RedisServer

_SETTINGS = ["--set", "LOG_LEVEL=ERROR", "--set", "CONCURRENT_REQUESTS=16", "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=4",
             "--set", "CONSENT_ALLOW_PRIVATE_ADDRESSES=true"]
_ROUND_TRIPS = re.compile(r"(\d+) Redis round trips")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        extra: list[tuple[str, str]] = []
        status = 200
        if self.path == "/robots.txt":
            body, kind = b"User-agent: *\nDisallow: /private/\n", "text/plain"
        elif self.path in ("/ai.txt", "/.well-known/tdmrep.json"):
            status, body, kind = 404, b"", "text/plain"
        else:
            body, kind = self.body, "image/png"
            extra = [("X-Robots-Tag", "noai")] if self.path.endswith("3.png") else []
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a noai image withheld after its headers
            self.wfile.write(body)


@contextmanager
def _origins(count: int) -> Iterator[list[str]]:
    _Handler.body = _png()
    with ExitStack() as stack:
        origins = []
        for _ in range(count):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            origins.append(f"http://127.0.0.1:{server.server_address[1]}")
        yield origins


def _write_list(path: Path, origins: list[str], size: int) -> int:
    with path.open("w", encoding="utf-8") as out:
        for i in range(size):
            folder = "private" if i % 20 == 7 else "i"
            out.write(f"{origins[i % len(origins)]}/{folder}/{i}.png\n")
    return size


def _decisions(out: Path) -> int:
    total = 0
    for log in out.glob("*decisions.jsonl"):
        with log.open("rb") as handle:
            total += sum(1 for _ in handle)
    return total


def _consentry(*args: str) -> list[str]:
    return [sys.executable, "-m", "consentry.crawler.cli", *args]


def _until_decided(out: Path, size: int, processes: list[subprocess.Popen[str]], started: float) -> float:
    while _decisions(out) < size:
        if all(p.poll() is not None for p in processes) and _decisions(out) < size:
            errors = "".join(p.stderr.read() if p.stderr else "" for p in processes)
            raise SystemExit(f"only {_decisions(out)} of {size} URLs decided:\n{errors[-3000:]}")
        time.sleep(0.02)
    return time.monotonic() - started


def single(list_path: Path, size: int, work: Path) -> float:
    out = work / "single"
    started = time.monotonic()
    process = subprocess.Popen(_consentry("crawl", "--urls", str(list_path), "-o", str(out), "-q", *_SETTINGS),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = _until_decided(out, size, [process], started)
    process.communicate(timeout=120)
    shutil.rmtree(out)
    return size / elapsed


def distributed(redis: RedisServer, list_path: Path, size: int, workers: int, work: Path, run: str) -> tuple[float, float]:
    out = work / run
    pushed = subprocess.run(_consentry("queue", "push", "--redis", redis.url, "--run-id", run, "--urls",
                                       str(list_path), "-q"), cwd=ROOT, capture_output=True, text=True, check=False)
    if pushed.returncode:
        raise SystemExit(pushed.stderr)
    started = time.monotonic()
    processes = [subprocess.Popen(_consentry("crawl", "--redis", redis.url, "--run-id", run, "--worker-id", f"w{n}",
                                             "-o", str(out), "--idle-timeout", "1", *_SETTINGS),
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for n in range(workers)]
    elapsed = _until_decided(out, size, processes, started)
    trips = 0
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        found = _ROUND_TRIPS.search(stdout)
        if process.returncode or found is None:
            raise SystemExit(f"worker failed ({process.returncode}):\n{stderr[-3000:]}")
        trips += int(found.group(1))
    shutil.rmtree(out)
    return size / elapsed, trips / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=3000)
    parser.add_argument("--origins", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2,3")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    rates: dict[str, list[float]] = {"single": [], **{f"{n} workers": [] for n in counts}}
    trips: dict[str, list[float]] = {f"{n} workers": [] for n in counts}
    with tempfile.TemporaryDirectory() as tmp, _origins(args.origins) as origins:
        work = Path(tmp)
        (work / "redis").mkdir()
        redis = RedisServer(work / "redis").start()
        try:
            size = _write_list(work / "urls.txt", origins, args.urls)
            for round_number in range(args.rounds):
                rates["single"].append(single(work / "urls.txt", size, work))
                for n in counts:
                    rate, per_url = distributed(redis, work / "urls.txt", size, n, work, f"b{round_number}-{n}")
                    rates[f"{n} workers"].append(rate)
                    trips[f"{n} workers"].append(per_url)
                print(f"round {round_number + 1}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()),
                      flush=True)
        finally:
            redis.stop()
    base = statistics.median(rates["single"])
    report = {"urls": args.urls, "origins": args.origins, "rounds": args.rounds,
              "single_pages_per_s": round(base, 1),
              "workers": {name: {"pages_per_s": round(statistics.median(v), 1),
                                 "vs_single": round(statistics.median(v) / base, 2),
                                 "round_trips_per_url": round(statistics.median(trips[name]), 2)}
                          for name, v in rates.items() if name != "single"}}
    print(json.dumps(report, indent=2))
    one = report["workers"].get("1 workers")
    if one is not None:
        ok = one["vs_single"] >= 0.8 and all(w["round_trips_per_url"] <= 6 for w in report["workers"].values())
        print(f"budget (1 worker >= 0.8x single, <= 6 round trips per URL): {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
