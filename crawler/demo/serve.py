"""`consentry demo --serve`: keep the bundled demo origins up on 127.0.0.1 until Ctrl-C, crawling nothing.

The origins (`consentry.crawler.demo.site.ORIGINS`) listen on free ports, or on `--port N`, N+1, … in that
order, so README's `consentry check` example can be run as written. stdout gets the origins' URLs and
ready-to-paste `check` and `crawl` commands; Ctrl-C (SIGINT) or SIGTERM stops serving, exit 0; a port that
cannot be bound is one line on stderr, exit 2 (docs/cli.md).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from consentry.crawler import exitcodes
from consentry.crawler.errors import UsageError

__all__ = ["banner", "serve"]

_HIGHEST_PORT = 65535


def banner(origins: dict[str, str]) -> str:
    """What `--serve` prints: every origin with what it shows, then commands to paste."""
    from consentry.crawler.demo.site import ORIGINS

    width = max(map(len, origins))
    lines = [f"consentry demo: serving {len(origins)} demo sites on 127.0.0.1 until Ctrl-C (nothing is crawled):"]
    lines += [f"  {name:<{width}}  {origin}/  {ORIGINS[name]}" for name, origin in origins.items()]
    lines += ["", "Try, in another terminal:",
              f"  consentry check {origins['newsroom']}/news/reserved.html",
              f"  consentry check {origins['gallery']}/portfolio/landscape.jpg --purpose ai-input",
              f"  consentry crawl {' '.join(o + '/' for o in origins.values())} -o demo-crawl"]
    return "\n".join(lines)


def _check_port(port: int, count: int) -> None:
    if port and not 1 <= port <= _HIGHEST_PORT - count + 1:
        raise UsageError(f"--port {port}: the {count} demo sites need ports {port}..{port + count - 1}, "
                         f"within 1..{_HIGHEST_PORT}")


def serve(port: int) -> int:
    """Serve the demo origins (on `port`, `port + 1`… or free ports when 0) until interrupted; 0 then."""
    from consentry.crawler.demo.site import ORIGINS, start_demo

    _check_port(port, len(ORIGINS))
    try:
        demo = start_demo(port)
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot listen on 127.0.0.1 ports {port}..{port + len(ORIGINS) - 1}: "
                         f"{exc.strerror or exc}") from None
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(banner({name: server.origin for name, server in demo.servers.items()}), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        demo.stop()
    print("consentry demo: stopped serving", file=sys.stderr)
    return exitcodes.OK
