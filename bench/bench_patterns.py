"""Worst-case robots.txt wildcard rules against long URLs (issue: catastrophic backtracking).

Not a test: prints costs measured in this one run, as ratios against a plain prefix rule matched on the
same URLs, interleaved in small chunks, median kept. Every rule goes through the real `RobotsPolicy`
access path (parse once, then `access(url)` per URL, so the request-path normalisation is included).

- worst case: `Disallow: /*a*a*...*a*b` with 40 `*`, against 10 kB URLs of `a`s (no `b`: every wildcard
  has to give up) — budget ≤ 10x the plain prefix rule `Disallow: /private/` on the same URLs;
- the matcher alone on precomputed match keys (no normalisation): the same 40-wildcard rule, and a
  near-miss rule whose segments are 30 `a`s and a `b` (the shape that makes naive substring search
  quadratic), against the plain prefix rule;
- Protego's "excessive wildcards" rule from its own test suite (`Allow: *****************/****.js`,
  scrapy/protego tests/test_protego.py, after robotexclusionrulesparser issue 1) against the same 10 kB
  URLs — budget < 1 ms per URL.

    .venv/bin/python -m bench.bench_patterns
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from consentry.policies.model import SiteFile
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.robots.urlpattern import PathPattern, compile_pattern, match_key

ORIGIN = "https://bench.example"
WORST = "/" + "*a" * 39 + "*b"  # 40 wildcards
PROTEGO_REDOS = "*****************/****.js"
NEAR_MISS = "/" + ("*" + "a" * 30 + "b") * 5


def _policy(rules: str) -> RobotsPolicy:
    body = f"User-agent: *\n{rules}\n".encode()
    return RobotsPolicy.parse(SiteFile.from_http(ORIGIN + "/robots.txt", 200, body), "consentry")


def _urls(count: int, salt: int) -> list[str]:
    # Distinct 10 kB URLs (the policy memoises the last path): a run of `a`s, a few path segments.
    return [f"{ORIGIN}/{salt}-{i}/" + "a" * 5000 + "/" + "a" * (5000 - len(str(i))) for i in range(count)]


def _time(run: Callable[[list[str]], object], urls: list[str]) -> float:
    start = time.perf_counter()
    run(urls)
    return (time.perf_counter() - start) / len(urls)


def main() -> None:
    policies = {
        "plain": _policy("Disallow: /private/"),
        "worst": _policy(f"Disallow: {WORST}"),
        "protego": _policy(f"Disallow: /\nAllow: {PROTEGO_REDOS}"),
    }
    assert WORST.count("*") == 40

    def runner(policy: RobotsPolicy) -> Callable[[list[str]], None]:
        def run(urls: list[str]) -> None:
            for url in urls:
                policy.access(url)
        return run

    runs = {name: runner(policy) for name, policy in policies.items()}
    costs: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(7):
        # Each side gets its own fresh URLs of the same shape: every call pays the (memoised) request-path
        # normalisation once, as a crawl would.
        urls = {name: _urls(400, r * 10 + k) for k, name in enumerate(runs)}
        for start in range(0, 400, 50):
            for name, run in runs.items():
                costs[name].append(_time(run, urls[name][start:start + 50]))
    med = {name: statistics.median(values) for name, values in costs.items()}
    print(f"URL length {len(_urls(1, 0)[0])} characters")
    print(f"plain prefix rule          {med['plain'] * 1e6:8.2f} µs/URL   (baseline)")
    print(f"40-wildcard rule           {med['worst'] * 1e6:8.2f} µs/URL   ratio {med['worst'] / med['plain']:.2f}x"
          "  (budget <= 10x)")
    print(f"Protego excessive-wildcard {med['protego'] * 1e6:8.2f} µs/URL   ratio {med['protego'] / med['plain']:.2f}x"
          f"  ({med['protego'] * 1e3:.4f} ms/URL; budget < 1 ms)")
    _matcher_only()


def _matcher_only() -> None:
    def compiled(pattern: str) -> PathPattern:
        result = compile_pattern(pattern)
        assert result is not None
        return result

    patterns = {"plain": compiled("/private/"), "worst": compiled(WORST), "near-miss": compiled(NEAR_MISS)}
    keys = [match_key(url) for url in _urls(200, 99)]
    costs: dict[str, list[float]] = {name: [] for name in patterns}
    for _ in range(7):
        for start in range(0, len(keys), 25):
            chunk = keys[start:start + 25]
            for name, pattern in patterns.items():
                costs[name].append(_time(lambda ks, p=pattern: [p.matches_key(k) for k in ks], chunk))
    med = {name: statistics.median(values) for name, values in costs.items()}
    print(f"matcher only: plain prefix {med['plain'] * 1e6:8.2f} µs/URL   (baseline)")
    print(f"matcher only: 40 wildcards {med['worst'] * 1e6:8.2f} µs/URL   ratio {med['worst'] / med['plain']:.1f}x")
    print(f"matcher only: near-miss    {med['near-miss'] * 1e6:8.2f} µs/URL   ratio "
          f"{med['near-miss'] / med['plain']:.1f}x")


if __name__ == "__main__":
    main()
