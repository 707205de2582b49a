"""Start-up time of the `consentry` command as ratios to `python -c "import httpx, lxml"` (issue budget).

`consentry --version` (budget ≤ 1.5×) and `consentry check --root DIR URL` on a small web root made in a
temporary directory (budget ≤ 3×): each command is a fresh process, the three commands are run interleaved
(baseline, --version, check, baseline, …) so machine noise hits them alike, and the table shows the median wall
time of each and its ratio to the baseline's median. Usage: `python -m bench.bench_startup [RUNS]` (default 11,
at least 7).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = "python -c 'import httpx, lxml'"
BUDGETS = {"consentry --version": 1.5, "consentry check --root DIR URL": 3.0}
MIN_RUNS = 7

_ROBOTS = b"User-agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\n"
_AI_TXT = b"User-Agent: *\nDisallow: *.jpg\n"
_PAGE = (
    b"<!doctype html><html><head><title>A page</title>"
    b'<meta name="robots" content="noai"></head><body><p>Hello.</p></body></html>'
)


def make_root(root: Path) -> str:
    """A small web root (robots.txt, ai.txt, one HTML page); returns the URL `check` evaluates."""
    (root / "robots.txt").write_bytes(_ROBOTS)
    (root / "ai.txt").write_bytes(_AI_TXT)
    (root / "page.html").write_bytes(_PAGE)
    return "https://www.example.com/page.html"


def consentry_command() -> list[str]:
    """The installed console script beside this interpreter (`python -m …cli` when there is none)."""
    script = Path(sys.executable).with_name("consentry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "consentry.crawler.cli"]


def _time(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def measure(runs: int) -> dict[str, list[float]]:
    """Wall times of every command, `runs` rounds interleaved (one warm-up round first, not counted)."""
    cli = consentry_command()
    with tempfile.TemporaryDirectory() as tmp:
        url = make_root(Path(tmp))
        commands = {
            BASELINE: [sys.executable, "-c", "import httpx, lxml"],
            "consentry --version": [*cli, "--version"],
            "consentry check --root DIR URL": [*cli, "check", "--root", tmp, url],
        }
        for argv in commands.values():  # warm the page cache and the bytecode caches
            _time(argv)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, argv in commands.items():
                times[name].append(_time(argv))
    return times


def render(times: dict[str, list[float]]) -> str:
    """The table: median wall time, ratio to the baseline's median, budget."""
    base = statistics.median(times[BASELINE])
    lines = [f"{'command':<34} {'median':>9} {'ratio':>7} {'budget':>8}"]
    for name, values in times.items():
        median = statistics.median(values)
        budget = BUDGETS.get(name)
        verdict = "" if budget is None else f"≤ {budget:.1f}×" + ("" if median / base <= budget else " OVER")
        lines.append(f"{name:<34} {median * 1000:>7.0f}ms {median / base:>6.2f}× {verdict:>8}")
    lines.append(f"({len(times[BASELINE])} interleaved runs each; {sys.executable})")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Measure and print the table."""
    runs = int(argv[0]) if argv else 11
    if runs < MIN_RUNS:
        raise SystemExit(f"at least {MIN_RUNS} runs, for a meaningful median")
    print(render(measure(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
