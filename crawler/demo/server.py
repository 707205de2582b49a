"""A loopback HTTP server for routed sites: the demo's origins and the tests' fixture sites.

Each `SiteServer` is one origin (its own port on 127.0.0.1). Routes map a path (with query) to a status,
headers and body, or to a fault (`drop`: close the connection without a response; `stall`: send nothing
for `delay` seconds; `redirect-loop`: redirect to itself forever). Every request's path is logged with its
arrival time, so a test can prove that a URL was never requested or how far apart requests came, and the bytes
written per path are counted (header and body apart). A route with `body_after` waits that long after its
headers and sends the body only if the client is still there, so a client that hangs up after the headers is
seen to have received no body byte. A client that hangs up while its answer is being written (a crawler that stops
reading an oversized body, a crawl that ends) is normal traffic: the path is noted in `hung_up` and logged at debug
level, never printed as a server error.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Route", "SiteServer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    """What the server answers for one path."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    fault: str = ""  # "" | "drop" | "stall" | "redirect-loop" | "drip" (the body one byte per `delay`, endlessly)
    delay: float = 0.0
    body_after: float = 0.0  # seconds between the headers and the body; a client gone by then gets no body

    @classmethod
    def text(cls, body: str, content_type: str = "text/plain; charset=utf-8", *,
             status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> Route:
        """A text response with its Content-Type."""
        return cls(status, (("Content-Type", content_type), *headers), body.encode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # The head and the body are two writes: without TCP_NODELAY, Nagle's algorithm holds the body back until the
    # client's delayed ACK of the head (about 40 ms on Linux) on every kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _answer(self, *, with_body: bool) -> None:
        self.server.record(self.path, self.headers.get("User-Agent", ""))
        route = self.server.routes.get(self.path) or self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            route = Route.text("not found\n", status=404)
        if route.fault == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if route.fault == "stall":
            time.sleep(route.delay)
            self.close_connection = True
            return
        if route.fault == "redirect-loop":
            route = Route(302, (("Location", self.path),))
        self.send_response(route.status)
        names = {k.lower() for k, _ in route.headers}
        for name, value in route.headers:
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        if with_body and route.fault == "drip":
            self._drip(route)
        elif with_body and route.body_after and self._client_left(route.body_after):
            self.close_connection = True
        elif with_body:
            self.wfile.write(route.body)
            self.server.count(self.path, body=len(route.body))

    def flush_headers(self) -> None:
        buffered = getattr(self, "_headers_buffer", [])
        self.server.count(self.path, header=sum(len(chunk) for chunk in buffered))
        super().flush_headers()

    def _client_left(self, seconds: float) -> bool:
        """Whether the client closed the connection within `seconds` of the headers."""
        readable, _, _ = select.select([self.connection], [], [], seconds)
        if not readable:
            return False
        try:
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except OSError:
            return True

    def _drip(self, route: Route) -> None:
        """A slow-drip body: one byte per `route.delay` seconds until the client hangs up."""
        body = route.body or b"#"
        try:
            for index in range(10**9):
                time.sleep(route.delay)
                self.wfile.write(body[index % len(body):][:1])
                self.wfile.flush()
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self._answer_unless_gone(with_body=True)

    def do_HEAD(self) -> None:
        self._answer_unless_gone(with_body=False)

    def _answer_unless_gone(self, *, with_body: bool) -> None:
        try:
            self._answer(with_body=with_body)
        except ConnectionError as gone:  # BrokenPipeError, ConnectionResetError, ConnectionAbortedError
            self.close_connection = True
            self.server.hang_up(self.path)
            logger.debug("client left during the answer to %s: %s", self.path, gone)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes: Mapping[str, Route], port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.routes = dict(routes)
        self.log: list[tuple[str, str]] = []
        self.arrivals: list[tuple[float, str]] = []  # (time.monotonic(), path)
        self.header_bytes: Counter[str] = Counter()
        self.body_bytes: Counter[str] = Counter()
        self.hung_up: list[str] = []
        self._lock = threading.Lock()

    def record(self, path: str, user_agent: str) -> None:
        with self._lock:
            self.log.append((path, user_agent))
            self.arrivals.append((time.monotonic(), path))

    def hang_up(self, path: str) -> None:
        with self._lock:
            self.hung_up.append(path)

    def count(self, path: str, *, header: int = 0, body: int = 0) -> None:
        with self._lock:
            self.header_bytes[path] += header
            self.body_bytes[path] += body


class SiteServer:
    """One origin on 127.0.0.1, on `port` or (0) a free one; use as a context manager or start()/stop().
    A port that cannot be bound raises `OSError` here."""

    def __init__(self, routes: Mapping[str, Route], port: int = 0) -> None:
        self._server = _Server(routes, port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="site-server", daemon=True)

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT`."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this origin."""
        return self.origin + path

    @property
    def requested(self) -> list[str]:
        """Every requested path, in arrival order."""
        return [path for path, _ in self._server.log]

    @property
    def arrivals(self) -> list[tuple[float, str]]:
        """(`time.monotonic()` at arrival, path) of every request, in arrival order."""
        return list(self._server.arrivals)

    @property
    def body_bytes(self) -> Counter[str]:
        """Body bytes written per path."""
        return Counter(self._server.body_bytes)

    @property
    def header_bytes(self) -> Counter[str]:
        """Status line and header bytes written per path."""
        return Counter(self._server.header_bytes)

    @property
    def hung_up(self) -> list[str]:
        """The paths whose client hung up while their answer was being written, in order."""
        return list(self._server.hung_up)

    @property
    def user_agents(self) -> list[str]:
        """The User-Agent of every request."""
        return [agent for _, agent in self._server.log]

    def set_route(self, path: str, route: Route) -> None:
        """Add or replace a route while serving."""
        self._server.routes[path] = route

    def start(self) -> SiteServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
