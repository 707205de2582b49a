"""Crawl throughput: every consent component (WARC and decision log on) vs Scrapy's RobotsTxtMiddleware alone.

Budgets (docs/architecture.md "Performance"): steady-state pages/s ≥ 0.95 of the baseline's, start-up ≤ 0.3 s
over the baseline's. A loopback site of N linked pages (a tenth of them with an image) is crawled by
`consentry.crawler.crawl.runner.run_crawl` in a fresh process per run, consent and baseline interleaved
(A B A B …), median of the rounds:
- steady state: items/s between the `--warm`-th scraped item and the last one (start-up and the crawl's tail
  excluded), read off `item_scraped` inside the crawl;
- start-up: seconds from launching the process to its first scraped item (interpreter, imports, engine start,
  robots.txt and the other site files, the first page), measured by this process;
- CPU per item: the crawl process's CPU time over the same steady-state window, per item (what a faster or
  slower moment of a shared machine changes less than items/s);
- the breakdown: one more consent crawl under cProfile, its CPU per response split by component (cumulative
  time of the component's entry points; cProfile inflates Python-heavy code, so read the shares, not the µs).
`--hollow` adds a third mode to the rounds: Scrapy's RobotsTxtMiddleware plus hollow stand-ins for every consent
component (bench/hollow.py: same hooks and orders, no work), the floor that the component set itself sets.
`--warc-levels` prints, instead, the cost and size of one WARC record, the crawl's writer vs warcio's.
Usage: python -m bench.bench_crawl [--pages 3000] [--rounds 5] [--warm 300] [--profile-pages 1000] [--hollow]
"""

from __future__ import annotations

import argparse
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consentry.crawler.demo.server import Route, SiteServer

_CHILD = """
import json, sys, time
started = time.time()
import cProfile
from scrapy import signals
from consentry.crawler.crawl import runner
url, out, mode, warm, profile = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
overrides = {"LOG_LEVEL": "ERROR", "DEPTH_LIMIT": 0, "CONCURRENT_REQUESTS": 16,
             "CONCURRENT_REQUESTS_PER_DOMAIN": 16}
if mode == "baseline":
    overrides.update({"CONSENT_ENABLED": False, "ROBOTSTXT_OBEY": True, "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100}})
elif mode == "hollow":
    from bench.hollow import SETTINGS
    overrides.update({"CONSENT_ENABLED": False, "ROBOTSTXT_OBEY": True, **SETTINGS})
marks, cpu_marks = [], []

class Marks:
    @classmethod
    def from_crawler(cls, crawler):
        extension = cls()
        crawler.signals.connect(extension.scraped, signal=signals.item_scraped)
        return extension

    def scraped(self, **_):
        marks.append(time.time())
        cpu_marks.append(time.process_time())

def with_marks(*args, **kwargs):
    settings = crawl_settings(*args, **kwargs)
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions[Marks] = 0
    if mode == "hollow":
        extensions["bench.hollow.HollowArchive"] = 500
    settings.set("EXTENSIONS", extensions, priority="cmdline")
    return settings

crawl_settings, runner.crawl_settings = runner.crawl_settings, with_marks
profiler = cProfile.Profile() if profile else None
if profiler:
    profiler.enable()
summary = runner.run_crawl([url], out, settings_overrides=overrides)
if profiler:
    profiler.disable()
    profiler.dump_stats(profile)
steady = (len(marks) - warm) / (marks[-1] - marks[warm - 1]) if len(marks) > warm else 0.0
cpu = (cpu_marks[-1] - cpu_marks[warm - 1]) / (len(marks) - warm) if len(marks) > warm else 0.0
print(json.dumps({"items": summary.items, "steady": steady, "first": marks[0] if marks else 0.0, "cpu": cpu}))
"""

#: component -> the functions (path suffix, name) whose cumulative CPU is that component's; in pipeline order.
COMPONENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "fetch policy, politeness (requests)": (
        ("middlewares/fetchguard.py", "process_request"),
        ("middlewares/politeness.py", "process_request"),
    ),
    "site-file lookup": (("middlewares/sitefiles.py", "process_request"),),
    "headers-time withholding": (("middlewares/assets.py", "headers_received"),),
    "access decision": (("policies/evaluate.py", "access"),),
    "pre-scan (embedded markers)": (("policies/assets/prescan.py", "__call__"),),
    "head parsing (HTML)": (("policies/html.py", "parse_head"),),
    "whole evaluation (incl. the three above)": (("middlewares/assets.py", "evaluate"),),
    "decision record (JSON, once)": (("middlewares/adapters/warcformat.py", "decision_payload"),),
    "decision log line": (("middlewares/decisionlog.py", "log_decision"),),
    "WARC records (response, request, metadata)": (
        ("middlewares/warc.py", "archive_response"),
        ("middlewares/warc.py", "archive_decision"),
    ),
    "item tagging": (("middlewares/tagging.py", "_tag_item"),),
    "items.jsonl (both modes)": (("crawler/crawl/items.py", "item_scraped"),),
    "the spider's parse (both modes)": (("crawler/spiders/assets.py", "parse"),),
}


def _photo(seed: int) -> bytes:
    """A real, manifest-less JPEG of a few KiB (Pillow), so that images cost what real ones cost: a truncated
    stand-in would be handed to the c2pa reader as unreadable."""
    import io
    import random

    from PIL import Image

    rng = random.Random(seed)
    image = Image.new("RGB", (96, 64))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(96 * 64)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _site(pages: int) -> dict[str, Route]:
    routes = {"/robots.txt": Route.text("User-agent: *\nDisallow: /private/\n")}
    photo = _photo(pages)
    for i in range(pages):
        links = "".join(f'<a href="/p{j}.html">p{j}</a>' for j in (i + 1, i + 2, i * 2 + 1) if j < pages)
        image = f'<img src="/img/{i}.jpg">' if i % 10 == 0 else ""
        routes[f"/p{i}.html"] = Route.text(
            f"<html><body><p>{'text ' * 200}</p>{links}{image}</body></html>", "text/html; charset=utf-8"
        )
        if i % 10 == 0:
            routes[f"/img/{i}.jpg"] = Route(200, (("Content-Type", "image/jpeg"),), photo)
    return routes


def run(url: str, mode: str, warm: int, profile: str = "") -> tuple[float, float, int, float]:
    """One crawl in a fresh process: (steady-state items/s, start-up seconds, items, CPU seconds per item in the
    steady-state window)."""
    with tempfile.TemporaryDirectory() as out:
        launched = time.time()
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, url, out, mode, str(warm), profile],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["steady"], result["first"] - launched, result["items"], result["cpu"]


def _cumulative(stats: pstats.Stats, suffix: str, name: str) -> float:
    raw = stats.stats  # type: ignore[attr-defined]
    return sum(entry[3] for (path, _, func), entry in raw.items() if path.endswith(suffix) and func == name)


def breakdown(url: str, warm: int) -> None:
    """One profiled consent crawl: CPU µs per response per component, and the crawl's whole CPU."""
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "crawl.prof")
        _, _, items, _ = run(url, "consent", warm, path)
        stats = pstats.Stats(path)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"breakdown: one consent crawl under cProfile, {items} responses, {total:.1f} s CPU in all "
          f"({total / items * 1e6:.0f} µs per response)")
    for component, functions in COMPONENTS.items():
        seconds = sum(_cumulative(stats, suffix, name) for suffix, name in functions)
        print(f"  {component:<44} {seconds / items * 1e6:7.0f} µs/response  {seconds / total:6.1%}")


def warc_levels(samples: int = 300) -> None:
    """CPU per WARC record and its size: the crawl's writer (`WarcRecords`) vs warcio's writer (level 9, default
    zlib state), for typical response bodies: a small page and 64 KiB of prose (this project's README as HTML),
    a decision record's JSON, a 64 KiB JPEG-like body (incompressible bytes)."""
    import io
    import os

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from consentry.middlewares.adapters.warcrecords import WarcRecords, compressible, http_head

    readme = (ROOT / "README.md").read_bytes()
    bodies = {
        "page 2 KiB": ("text/html", b"<html><body><p>" + readme[:2048] + b"</p></body></html>"),
        "page 64 KiB": ("text/html", b"<html><body><p>" + (readme * 4)[:65536] + b"</p></body></html>"),
        "decision JSON": ("application/json", json.dumps({"schema": "consentry.decision/1", "signals": [
            {"mechanism": "robots", "evidence": "Disallow: /private/"}] * 4}).encode()),
        "JPEG 64 KiB": ("image/jpeg", b"\xff\xd8\xff\xe0" + os.urandom(65532)),
    }
    ours = WarcRecords()
    theirs = WARCWriter(io.BytesIO(), gzip=True, warc_version="WARC/1.1")

    def consentry(kind: str, body: bytes) -> int:
        head = http_head("HTTP/1.1 200 OK", [("Content-Type", kind)])
        return len(ours.http("response", "https://example.com/a", head, body, compress=compressible(kind))[1])

    def warcio(kind: str, body: bytes) -> int:
        theirs.out = io.BytesIO()
        theirs.write_record(theirs.create_warc_record(
            "https://example.com/a", "response", payload=io.BytesIO(body), length=len(body),
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", kind)], protocol="HTTP/1.1")))
        return len(theirs.out.getvalue())

    for name, (kind, body) in bodies.items():
        cells = []
        for label, write in (("consentry", consentry), ("warcio", warcio)):
            best = float("inf")
            for _ in range(5):
                started = time.process_time()
                for _ in range(samples):
                    size = write(kind, body)
                best = min(best, (time.process_time() - started) / samples)
            cells.append(f"{label} {best * 1e6:7.1f} µs, {size / len(body):4.0%} of the body")
        print(f"{name:<14} " + "; ".join(cells))


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warm", type=int, default=300, help="items before the steady-state window opens")
    parser.add_argument("--profile-pages", type=int, default=1000, help="0: no breakdown")
    parser.add_argument("--warc-levels", action="store_true")
    parser.add_argument("--hollow", action="store_true",
                        help="also crawl with the component set doing nothing (bench/hollow.py), interleaved")
    args = parser.parse_args()
    if args.warc_levels:
        warc_levels()
        return
    modes = ("consent", "hollow", "baseline") if args.hollow else ("consent", "baseline")
    steady: dict[str, list[float]] = {mode: [] for mode in modes}
    startup: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    with SiteServer(_site(args.pages)) as site:
        for _ in range(args.rounds):
            for mode in modes:
                rate, first, _, per_item = run(site.url("/p0.html"), mode, args.warm)
                steady[mode].append(rate)
                startup[mode].append(first)
                cpu[mode].append(per_item)
    for mode, rates in steady.items():
        print(f"{mode:<9} steady items/s: " + ", ".join(f"{v:.0f}" for v in rates)
              + f" (median {statistics.median(rates):.0f}); start-up s: "
              + ", ".join(f"{v:.2f}" for v in startup[mode]) + f" (median {statistics.median(startup[mode]):.2f})")
    ratio = statistics.median(steady["consent"]) / statistics.median(steady["baseline"])
    paired = statistics.median(c / b for c, b in zip(steady["consent"], steady["baseline"], strict=True))
    extra = statistics.median(startup["consent"]) - statistics.median(startup["baseline"])
    print(f"steady-state ratio consent/baseline: {ratio:.2f} of the medians, {paired:.2f} median of the paired "
          f"rounds (budget >= 0.95); start-up over the baseline's: {extra:+.2f} s (budget <= 0.3 s)")
    consent_cpu, baseline_cpu = statistics.median(cpu["consent"]), statistics.median(cpu["baseline"])
    print(f"steady-state CPU per item, medians: consent {consent_cpu * 1e6:.0f} µs, baseline {baseline_cpu * 1e6:.0f} "
          f"µs; baseline/consent {baseline_cpu / consent_cpu:.2f}, consent's overhead "
          f"{(consent_cpu - baseline_cpu) * 1e6:.0f} µs per item")
    if args.hollow:
        hollow_cpu = statistics.median(cpu["hollow"])
        hollow_paired = statistics.median(h / b for h, b in zip(steady["hollow"], steady["baseline"], strict=True))
        print(f"hollow components (bench/hollow.py: the consent component set doing nothing): steady-state ratio "
              f"{statistics.median(steady['hollow']) / statistics.median(steady['baseline']):.2f} of the medians, "
              f"{hollow_paired:.2f} paired; CPU per item {hollow_cpu * 1e6:.0f} µs, baseline/hollow "
              f"{baseline_cpu / hollow_cpu:.2f}, overhead {(hollow_cpu - baseline_cpu) * 1e6:.0f} µs per item "
              f"(the floor under consent's {(consent_cpu - baseline_cpu) * 1e6:.0f})")
    if args.profile_pages:
        with SiteServer(_site(args.profile_pages)) as site:
            breakdown(site.url("/p0.html"), min(args.warm, args.profile_pages // 2))


if __name__ == "__main__":
    main()
