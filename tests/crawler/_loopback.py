"""A loopback HTTP server for crawl tests that logs every request's Host, path and headers.

Routes are one function `answer(host, path, port) -> (status, headers, body)`, so one server can stand for
several sites told apart by name (with `tests.crawler.hostsresolver` resolving `*.test` to 127.0.0.1).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Answer", "Logged", "LoggingServer", "serving"]

Answer = Callable[[str, str, int], tuple[int, list[tuple[str, str]], bytes]]


@dataclass(frozen=True, slots=True)
class Logged:
    """One request as received: host (without port), path, headers (names lower-cased)."""

    host: str
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server: LoggingServer = self.server  # type: ignore[assignment]
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        with server.lock:
            server.log.append(Logged(host, self.path, {k.lower(): v for k, v in self.headers.items()}))
        status, headers, body = server.answer(host, self.path, server.port)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoggingServer(ThreadingHTTPServer):
    """Serves `answer` on 127.0.0.1 (a free port) and keeps `log`."""

    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.lock = threading.Lock()
        self.log: list[Logged] = []

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server_address[1])


@contextmanager
def serving(answer: Answer) -> Iterator[LoggingServer]:
    """A started `LoggingServer`, shut down on exit."""
    server = LoggingServer(answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
