"""Policy evaluation with cached site files vs Protego's `can_fetch` on the same URLs (budget ≤ 2×, docs/architecture.md).

Not a test: prints ratios measured in this one run. The site files are realistic: an AIR-style robots.txt
(every AI crawler token in one group, a `*` group with Content-Signal and Content-Usage path rules), a
Spawning-generator ai.txt and a three-rule tdmrep.json. Both sides parse once and are then queried with
the same URL set, fresh URLs (first sight) and repeated URLs separately. Interleaved in small chunks,
median kept.

    .venv/bin/python -m bench.bench_policy
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from protego import Protego

from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import SiteDocuments, SitePolicy, evaluate_access
from consentry.policies.model import SiteFile

ORIGIN = "https://bench.example"
AIR = json.loads((Path(__file__).resolve().parents[1] / "policies" / "data" / "ai_tokens.json").read_text())


def _robots() -> str:
    tokens = "".join(f"User-agent: {t}\n" for t in sorted(AIR.get("tokens", AIR))[:120])
    return (f"{tokens}Disallow: /\n\nUser-agent: *\nContent-Signal: search=yes, ai-train=no\n"
            "Disallow: /private/\nDisallow: /*.pdf$\nAllow: /private/public/\n"
            "Content-Usage: /blog/ train-ai=y\nContent-Usage: /shop/ train-ai=n, search=y\n"
            "Sitemap: https://bench.example/sitemap.xml\n")


AI_TXT = ("# Spawning AI\nUser-agent: *\n" + "".join(f"Disallow: *.{e}\n" for e in
          ("bmp", "gif", "jpeg", "jpg", "png", "svg", "tif", "tiff", "webp", "mp3", "wav", "mp4", "mov"))
          + "Allow: /\n")
TDMREP = json.dumps([{"location": "/news/", "tdm-reservation": 1}, {"location": "/shop/*.jpg", "tdm-reservation": 0},
                     {"location": "/", "tdm-reservation": 0}])
SECTIONS = ("blog", "shop", "news", "private", "private/public", "img", "docs", "about")


def _urls(count: int, salt: str) -> list[str]:
    return [f"{ORIGIN}/{SECTIONS[i % len(SECTIONS)]}/{salt}{i}/item-{i * 7 % 1000}"
            f"{('.jpg', '.html', '.pdf', '')[i % 4]}{'?page=' + str(i % 5) if i % 3 == 0 else ''}" for i in range(count)]


def _site() -> SitePolicy:
    def ok(path: str, text: str) -> SiteFile:
        return SiteFile.from_http(ORIGIN + path, 200, text.encode())

    docs = SiteDocuments(ORIGIN, ok("/robots.txt", _robots()), ok("/ai.txt", AI_TXT),
                         ok("/.well-known/tdmrep.json", TDMREP))
    return SitePolicy.build(docs, "consentry")


def _time(run: Callable[[list[str]], object], urls: list[str]) -> float:
    start = time.perf_counter()
    run(urls)
    return (time.perf_counter() - start) / len(urls)


def main() -> None:
    protego = Protego.parse(_robots())
    site = _site()
    config = PolicyConfig()

    def baseline(urls: list[str]) -> None:
        for url in urls:
            protego.can_fetch(url, "consentry")

    def site_level(urls: list[str]) -> None:
        for url in urls:
            site.access(url)
            site.site_signals(url)
            site.tdmrep.layer(url)

    def with_decision(urls: list[str]) -> None:
        for url in urls:
            evaluate_access(site, url, config, fetched_at=None) or site.site_signals(url)

    # Interleave at a fine grain (chunks of 250 URLs, each side on the same chunk in turn) so that both
    # sides see the same machine load; report the median over chunks of each side's cost.
    rounds: dict[str, list[float]] = {"protego": [], "site": [], "site-repeat": [], "decision": []}
    for r in range(7):
        fresh, fresh_d = _urls(4000, f"r{r}-"), _urls(4000, f"d{r}-")
        for start in range(0, 4000, 250):
            chunk, chunk_d = fresh[start:start + 250], fresh_d[start:start + 250]
            rounds["protego"].append(_time(baseline, chunk))
            rounds["site"].append(_time(site_level, chunk))
            rounds["site-repeat"].append(_time(site_level, chunk))
            rounds["decision"].append(_time(with_decision, chunk_d))
    med = {k: statistics.median(v) for k, v in rounds.items()}
    print(f"protego can_fetch            {med['protego'] * 1e6:7.2f} µs/URL   (baseline)")
    print(f"consentry site evaluation    {med['site'] * 1e6:7.2f} µs/URL   ratio {med['site'] / med['protego']:.2f}x"
          "  (access + robots extensions + ai.txt + tdmrep; fresh URLs; budget <= 2x)")
    print(f"  same URLs again            {med['site-repeat'] * 1e6:7.2f} µs/URL   ratio "
          f"{med['site-repeat'] / med['protego']:.2f}x")
    print(f"  + skip/keep decision       {med['decision'] * 1e6:7.2f} µs/URL   ratio "
          f"{med['decision'] / med['protego']:.2f}x  (evaluate_access, which builds a Decision for skips)")


if __name__ == "__main__":
    main()
