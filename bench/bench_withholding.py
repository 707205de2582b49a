"""Bytes a crawl costs the site, with and without withholding (docs/decision-record.md "Withheld before download").

A loopback site of N images (100 KiB each) linked from one page; half of them are withheld by their creator:
a quarter by robots.txt (`Content-Usage: /withheld/ train-ai=n`, site level: never requested), a quarter by
their own headers (`X-Robots-Tag: noai`: the transfer stops after the headers). The site is crawled in separate
processes, interleaved: `CONSENT_ON_DENY=drop` (withholding) and `CONSENT_ON_DENY=tag` (every asset is kept
with its verdicts, so every body is read: the crawl without withholding). The server counts the bytes it
wrote (status line, headers and bodies; every image holds its body half a second so a client that hung
up after the headers is seen to get none). Prints bytes per mode and the ratio (expected ≈ 0.5).
Usage: python bench/bench_withholding.py [--images 40] [--rounds 2]
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
url, out, on_deny = sys.argv[1:4]
s = run_crawl([url], out, settings_overrides={"LOG_LEVEL": "ERROR", "CONSENT_ON_DENY": on_deny})
print(json.dumps({"items": s.items, "actions": dict(s.actions)}))
"""
_IMAGE = b"\xff\xd8\xff\xe0" + b"x" * (100 * 1024)


def _image(*headers: tuple[str, str]) -> Route:
    return Route(200, (("Content-Type", "image/jpeg"), *headers), _IMAGE, body_after=0.5)


def _site(images: int) -> dict[str, Route]:
    routes = {"/robots.txt": Route.text("User-agent: *\nAllow: /\nContent-Usage: /withheld/ train-ai=n\n")}
    tags = []
    for i in range(images):
        kind = ("free", "free", "withheld", "header")[i % 4]
        path = f"/{kind}/{i}.jpg"
        routes[path] = _image(("X-Robots-Tag", "noai")) if kind == "header" else _image()
        tags.append(f'<img src="{path}">')
    routes["/"] = Route.text(f"<html><body>{''.join(tags)}</body></html>", "text/html; charset=utf-8")
    return routes


def _served(site: SiteServer) -> int:
    return sum(site.header_bytes.values()) + sum(site.body_bytes.values())


def _run(site: SiteServer, on_deny: str) -> tuple[int, dict[str, int]]:
    before = _served(site)
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, site.url("/"), out, on_deny],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return _served(site) - before, result["actions"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    served: dict[str, list[int]] = {"drop": [], "tag": []}
    with SiteServer(_site(args.images)) as site:
        for _ in range(args.rounds):
            for mode, counts in served.items():
                count, actions = _run(site, mode)
                counts.append(count)
                print(f"CONSENT_ON_DENY={mode:<4} bytes served: {count:>10,}  decisions: {actions}")
    withheld, full = statistics.median(served["drop"]), statistics.median(served["tag"])
    print(f"images: {args.images} of {len(_IMAGE):,} bytes; half withheld (a quarter by robots.txt, a quarter "
          "by X-Robots-Tag)")
    print(f"median bytes served: with withholding {withheld:,.0f}, without {full:,.0f}; "
          f"ratio {withheld / full:.3f} (expected ~0.5)")


if __name__ == "__main__":
    main()
