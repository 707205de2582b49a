"""Crawl throughput: every consent component vs Scrapy's RobotsTxtMiddleware alone (budget ≥ 0.85, docs/architecture.md).

A loopback site of N linked pages (with a few images) is crawled in separate processes, interleaved
A B A B …; pages/s is measured inside each crawl (Scrapy's start_time → finish_time). Prints the ratio
of medians. Usage: python bench/bench_crawl.py [--pages 300] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consentry.crawler.demo.server import Route, SiteServer

_CHILD = """
import json, sys
from consentry.crawler.crawl.runner import run_crawl
url, out, mode = sys.argv[1:4]
overrides = {"LOG_LEVEL": "ERROR", "DEPTH_LIMIT": 0, "CONCURRENT_REQUESTS": 16,
             "CONCURRENT_REQUESTS_PER_DOMAIN": 16}
if mode == "baseline":
    overrides.update({"CONSENT_ENABLED": False, "ROBOTSTXT_OBEY": True, "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100}})
s = run_crawl([url], out, settings_overrides=overrides)
print(json.dumps({"items": s.items, "elapsed": s.elapsed}))
"""


def _site(pages: int) -> dict[str, Route]:
    routes = {"/robots.txt": Route.text("User-agent: *\nDisallow: /private/\n")}
    for i in range(pages):
        links = "".join(f'<a href="/p{j}.html">p{j}</a>' for j in (i + 1, i + 2, i * 2 + 1) if j < pages)
        image = f'<img src="/img/{i}.jpg">' if i % 10 == 0 else ""
        routes[f"/p{i}.html"] = Route.text(
            f"<html><body><p>{'text ' * 200}</p>{links}{image}</body></html>", "text/html; charset=utf-8"
        )
        if i % 10 == 0:
            routes[f"/img/{i}.jpg"] = Route(
                200, (("Content-Type", "image/jpeg"),), b"\xff\xd8\xff\xe0" + b"x" * 4000
            )
    return routes


def _run(url: str, mode: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, url, out, mode],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["items"] / result["elapsed"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"consent": [], "baseline": []}
    with SiteServer(_site(args.pages)) as site:
        for _ in range(args.rounds):
            for mode in ("consent", "baseline"):
                rates[mode].append(_run(site.url("/p0.html"), mode))
    for mode, values in rates.items():
        print(
            f"{mode:<9} pages/s: "
            + ", ".join(f"{v:.0f}" for v in values)
            + f"  (median {statistics.median(values):.0f})"
        )
    ratio = statistics.median(rates["consent"]) / statistics.median(rates["baseline"])
    print(f"ratio consent/baseline: {ratio:.2f} (budget >= 0.85)")


if __name__ == "__main__":
    main()
