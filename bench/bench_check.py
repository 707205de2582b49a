"""`consentry check` per URL vs Protego `can_fetch` plus a bare read of the same files (issue 16).

One web root of N HTML pages (and robots.txt, ai.txt) is checked two ways, each as one command over N URLs:
- `--root`: `consentry check --root DIR URL…` vs a Python process that parses robots.txt with Protego once,
  then for every URL calls `can_fetch` and reads the file;
- live: `consentry check --allow-private-addresses URL…` against the same files served on loopback vs the
  same Protego process reading each URL with one `httpx.Client`.
Per-URL cost = (wall time of N URLs − wall time of 1 URL) / (N − 1), so start-up cancels out; each command is
a fresh process, the four are interleaved, medians of the rounds. Prints µs per URL and the ratio.
Usage: python -m bench.bench_check [--urls 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from consentry.crawler.demo.server import Route, SiteServer

_ROBOTS = (
    "User-agent: GPTBot\nDisallow: /\n\nUser-agent: CCBot\nDisallow: /\n\n"
    "User-agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\nContent-Usage: /blog/ train-ai=y\n"
)
_AI_TXT = "User-Agent: *\nDisallow: *.jpg\n"
_BASELINE = """
import sys
from pathlib import Path
from urllib.parse import urlsplit
from protego import Protego
mode, root, urls = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
if mode == "root":
    robots = Protego.parse((root / "robots.txt").read_text())
    for url in urls:
        robots.can_fetch(url, "consentry")
        (root / urlsplit(url).path.lstrip("/")).read_bytes()
else:
    import httpx
    with httpx.Client() as client:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(urls[0]))
        robots = Protego.parse(client.get(origin + "/robots.txt").text)
        for url in urls:
            robots.can_fetch(url, "consentry")
            client.get(url).content
"""


def _page(n: int) -> bytes:
    return (f"<!doctype html><html><head><title>Page {n}</title><meta name='robots' content='index'></head>"
            f"<body><p>{'words ' * 300}</p><a href='/blog/{n + 1}.html'>next</a></body></html>").encode()


def make_root(root: Path, count: int) -> list[str]:
    """The web root's files; returns the paths of its pages."""
    (root / "robots.txt").write_text(_ROBOTS)
    (root / "ai.txt").write_text(_AI_TXT)
    paths = []
    for n in range(count):
        path = f"/{'blog' if n % 2 else 'news'}/{n}.html"
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_bytes(_page(n))
        paths.append(path)
    return paths


def _consentry() -> list[str]:
    script = Path(sys.executable).with_name("consentry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "consentry.crawler.cli"]


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, check=False, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{command[:3]} exited {proc.returncode}: {proc.stderr[-500:]}")
    return time.perf_counter() - started


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        paths = make_root(root, args.urls)
        routes = {p: Route.text((root / p.lstrip("/")).read_text(), "text/html; charset=utf-8") for p in paths}
        routes["/robots.txt"], routes["/ai.txt"] = Route.text(_ROBOTS), Route.text(_AI_TXT)
        with SiteServer(routes) as site:
            urls = {"root": [f"https://www.example.com{p}" for p in paths], "live": [site.url(p) for p in paths]}
            commands = {
                ("root", "consentry"): lambda u: [*_consentry(), "check", "-q", "--root", str(root), *u],
                ("root", "baseline"): lambda u: [sys.executable, "-c", _BASELINE, "root", str(root), *u],
                ("live", "consentry"): lambda u: [*_consentry(), "check", "-q", "--allow-private-addresses", *u],
                ("live", "baseline"): lambda u: [sys.executable, "-c", _BASELINE, "live", str(root), *u],
            }
            per_url: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
            for _ in range(args.rounds):
                for (mode, side), command in commands.items():
                    many = _timed(command(urls[mode]))
                    one = _timed(command(urls[mode][:1]))
                    per_url[(mode, side)].append((many - one) / (len(urls[mode]) - 1))
    print(f"{args.urls} URLs per command, medians of {args.rounds} interleaved rounds (start-up excluded)")
    for mode, label in (("root", "--root DIR (files)"), ("live", "live, loopback HTTP")):
        ours = statistics.median(per_url[(mode, "consentry")])
        theirs = statistics.median(per_url[(mode, "baseline")])
        print(f"  {label:<22} consentry check {ours * 1e6:6.0f} µs/URL; Protego can_fetch + bare read "
              f"{theirs * 1e6:6.0f} µs/URL; ratio {ours / theirs:.1f}×")


if __name__ == "__main__":
    main()
