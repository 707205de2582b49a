"""Document sources for `consentry check`: live over HTTP (httpx) or from a local web root (`--root DIR`).

A source only fetches; `consentry.policies.evaluate` decides. Both sources return the same values (`SiteFile`,
`AssetResponse`), so a site owner's local root is read exactly as the live site would be.
"""

from __future__ import annotations

import logging
import mimetypes
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import httpcore
import httpx

from consentry.crawler.check.command import DEFAULT_DEADLINE
from consentry.middlewares.adapters.addresses import FetchGuard, TargetRefused, request_url, scheme_refusal
from consentry.middlewares.adapters.contentcoding import SUPPORTED, DecodedTooLarge, decode, split_codings
from consentry.policies.config import user_agent
from consentry.policies.model import MAX_REDIRECTS, AssetResponse, SiteFile

__all__ = ["DEFAULT_DEADLINE", "DocumentSource", "FetchFailure", "HttpSource", "Permit", "RootSource"]

logger = logging.getLogger(__name__)

_UNRESOLVED = "cannot resolve"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ACCEPT_ENCODING = ", ".join(sorted(SUPPORTED - {"x-gzip"}))

#: reason -> the words a fetch failure's message starts with (`FetchFailure.of` reads them back).
_PHRASES = {
    "connection-refused": "connection refused",
    "host-not-found": "host not found",
    "timeout": "timed out",
    "refused": "refused",
    "too-many-redirects": f"more than {MAX_REDIRECTS} redirects",
    "too-large": "too large",
    "network-error": "network error",
}

#: The reasons under which no server answered at all.
_SILENT = frozenset({"connection-refused", "host-not-found", "timeout", "network-error"})


class FetchFailure(str):
    """Why a fetch produced no HTTP answer: the message (this string, starting with the reason's words:
    "connection refused", "host not found", …) and `reason`, from a fixed list (docs/cli.md, "check")."""

    reason: str

    def __new__(cls, reason: str, message: str) -> FetchFailure:
        failure = super().__new__(cls, message)
        failure.reason = reason
        return failure

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str.__str__(self)

    @property
    def silent(self) -> bool:
        """Whether no server answered at all (nothing refused, too many redirects or too large: those answered)."""
        return self.reason in _SILENT

    @classmethod
    def make(cls, reason: str, detail: str = "") -> FetchFailure:
        """The failure `reason` with `detail` after its words (left out when it repeats them)."""
        phrase = _PHRASES[reason]
        if not detail or detail.lower() == phrase:
            return cls(reason, phrase)
        return cls(reason, detail if detail.lower().startswith(phrase) else f"{phrase}: {detail}")

    @classmethod
    def of(cls, message: str) -> FetchFailure:
        """The failure a message written by `make` (e.g. a site file's `detail`) describes."""
        reason = next((r for r, phrase in _PHRASES.items() if message.lower().startswith(phrase)), "network-error")
        return cls(reason, message)


def _connect_failure(exc: httpx.ConnectError) -> FetchFailure:
    text = str(exc)
    if text.startswith(_UNRESOLVED):
        return FetchFailure.make("host-not-found", text)
    if text.startswith("refused"):
        return FetchFailure.make("refused", text)
    if "refused" in text.lower():
        return FetchFailure.make("connection-refused")
    return FetchFailure.make("network-error", f"cannot connect ({text})")


def _failure(exc: Exception) -> FetchFailure:
    """The `FetchFailure` for an exception of a fetch (see `HttpSource._get`)."""
    if isinstance(exc, httpx.ConnectError):
        return _connect_failure(exc)
    if isinstance(exc, httpx.TimeoutException):
        return FetchFailure.make("timeout", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.TooManyRedirects):
        return FetchFailure.make("too-many-redirects")
    if isinstance(exc, DecodedTooLarge):
        return FetchFailure.make("too-large", str(exc))
    if isinstance(exc, _Refused):
        text = str(exc)
        return FetchFailure.make("timeout" if text.startswith("total deadline") else "refused", text)
    return FetchFailure.make("network-error", f"{type(exc).__name__}: {exc}")


class DocumentSource(Protocol):
    """Where `check` gets documents from."""

    def site_file(self, url: str, max_bytes: int, permit: Permit = ...) -> SiteFile: ...

    def asset(self, url: str, max_bytes: int, permit: Permit = ...,
              conditional: Sequence[tuple[str, str]] = ()) -> AssetResponse | str: ...

    def close(self) -> None: ...


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend that resolves the host itself, checks every address, and dials the checked one."""

    def __init__(self, guard: FetchGuard) -> None:
        self.guard = guard

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            addresses = self.guard.addresses(host)
        except OSError as exc:
            raise httpcore.ConnectError(f"{_UNRESOLVED} {host}: {exc}") from None
        except TargetRefused as exc:
            raise httpcore.ConnectError(str(exc)) from None
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


class _Refused(Exception):
    """A hop refused before it was requested (scheme, address or robots.txt), or a bound exceeded."""


#: httpcore's exceptions as the httpx exceptions the rest of `check` handles (httpx's public hierarchy).
_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError), (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError), (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError), (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol), (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.NetworkError, httpx.NetworkError), (httpcore.ProtocolError, httpx.ProtocolError),
)  # fmt: skip


def _httpx_error(exc: Exception) -> Exception:
    for core, mapped in _HTTPCORE_ERRORS:
        if isinstance(exc, core):
            return mapped(str(exc))
    return exc


class _GuardedStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except Exception as exc:  # httpcore's errors surface as httpx's
            raise _httpx_error(exc) from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _GuardedTransport(httpx.BaseTransport):
    """An httpx transport over httpcore's public connection pool with the guarded network backend."""

    def __init__(self, guard: FetchGuard) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=_GuardedBackend(guard)
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core)
        except Exception as exc:
            raise _httpx_error(exc) from exc
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_GuardedStream(response.stream),  # type: ignore[arg-type]
                              extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


#: A hop check: why `url` may not be requested (robots.txt of its origin), or None.
Permit = Callable[[str], "str | None"]


def _no_check(url: str) -> str | None:
    return None


@dataclass
class HttpSource:
    """Live fetching with httpx, hop by hop: every redirect target is checked (scheme, address after DNS,
    `permit` — robots.txt of its origin) before it is requested, at most RFC 9309's five redirects; bodies are
    read raw and decoded here with the caps of `consentry.middlewares.adapters.contentcoding`; each fetch has a
    total `deadline` (seconds, all hops and reads together) besides the per-read `timeout`."""

    agent: str
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 15.0
    deadline: float = DEFAULT_DEADLINE
    guard: FetchGuard = field(default_factory=FetchGuard)
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            follow_redirects=False,
            timeout=min(self.timeout, self.deadline),
            headers={"User-Agent": user_agent(self.agent), "Accept-Encoding": _ACCEPT_ENCODING},
            trust_env=False,
            transport=_GuardedTransport(self.guard),
        )

    def _read(self, response: httpx.Response, max_bytes: int, until: float) -> bytes:
        raw = bytearray()
        for chunk in response.iter_raw():
            raw.extend(chunk)
            if time.monotonic() > until:
                raise _Refused(f"total deadline of {self.deadline:g} s exceeded")
            if len(raw) > max_bytes:
                break
        body = bytes(raw)
        for coding in split_codings(response.headers.get_list("content-encoding"))[0]:
            body = decode(body, coding, max_bytes)
        return body

    def _get(self, url: str, max_bytes: int, permit: Permit,
             conditional: Sequence[tuple[str, str]] = ()) -> tuple[httpx.Response, bytes]:
        until = time.monotonic() + self.deadline
        target = url
        headers = list(conditional)  # validators of `url` itself: sent on the first hop only
        for _ in range(MAX_REDIRECTS + 1):
            why = scheme_refusal(target) or permit(target)
            if why is not None:
                raise _Refused(why)
            try:
                with self.client.stream("GET", target, headers=headers) as response:
                    location = response.headers.get("location")
                    if response.status_code not in _REDIRECTS or not location:
                        return response, self._read(response, max_bytes, until)
            except httpx.InvalidURL as exc:  # httpx parses every Location, even one it is not asked to follow
                raise _Refused(f"refused: {target} redirects to an unusable URL ({exc})") from None
            if time.monotonic() > until:
                raise _Refused(f"total deadline of {self.deadline:g} s exceeded")
            target, headers = request_url(urljoin(target, location)), []
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    def site_file(self, url: str, max_bytes: int, permit: Permit = _no_check) -> SiteFile:
        """Fetch a site file; refusals, network failures, bombs and > 5 redirects are UNREACHABLE with the
        reason (RFC 9309 §2.3.1.4)."""
        try:
            response, body = self._get(url, max_bytes + 1, permit)
        except (_Refused, DecodedTooLarge, httpx.HTTPError, UnicodeError, ValueError, OSError) as exc:
            return SiteFile.from_error(url, _failure(exc).message)
        return SiteFile.from_http(url, response.status_code, body,
                                  content_type=response.headers.get("content-type", ""), max_bytes=max_bytes)

    def asset(self, url: str, max_bytes: int, permit: Permit = _no_check,
              conditional: Sequence[tuple[str, str]] = ()) -> AssetResponse | str:
        """Fetch the asset (its final answer after redirects, whatever its status); `--header`s are appended as
        if the server had sent them (a what-if for owners). `conditional` request headers (`If-None-Match`,
        `If-Modified-Since`, RFC 9110 §13.1) go with the first hop: a 304 comes back as such, with no body
        (`consentry recheck`). No HTTP answer at all is a `FetchFailure` (a `str`: its message)."""
        try:
            response, body = self._get(url, max_bytes, permit, conditional)
        except (_Refused, DecodedTooLarge, httpx.HTTPError, UnicodeError, ValueError, OSError) as exc:
            return _failure(exc)
        headers = (*((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                     if k.lower() != b"content-encoding"),
                   *self.extra_headers)
        return AssetResponse(url=str(response.url), status=response.status_code, headers=headers,
                             body=body[:max_bytes])

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()


@dataclass
class RootSource:
    """A local web root as it would be served: `DIR/robots.txt`, `DIR/.well-known/tdmrep.json`, `DIR/<path>`.

    A missing file is a 404. Headers come from `--header` and apply to every asset (not to site files).
    """

    root: Path
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    _resolved: Path | None = field(default=None, init=False, repr=False)

    def _path(self, url: str) -> Path | None:
        path = unquote(urlsplit(url).path or "/")
        candidate = (self.root / path.lstrip("/")).resolve()
        if self._resolved is None:  # once: every URL of the check is resolved against the same root
            self._resolved = self.root.resolve()
        root = self._resolved
        if candidate != root and root not in candidate.parents:
            return None  # ../ escapes the root: served as 404, as a web server would
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None

    def site_file(self, url: str, max_bytes: int, permit: Permit = _no_check) -> SiteFile:
        """A site file from the root; absent → 404 (UNAVAILABLE)."""
        path = self._path(url)
        if path is None:
            return SiteFile.from_http(url, 404, b"", max_bytes=max_bytes)
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
        kind = mimetypes.guess_type(path.name)[0] or "text/plain"
        return SiteFile.from_http(url, 200, body, content_type=kind, max_bytes=max_bytes)

    def asset(self, url: str, max_bytes: int, permit: Permit = _no_check,
              conditional: Sequence[tuple[str, str]] = ()) -> AssetResponse | str:
        """The file at the URL's path, with a guessed Content-Type and the `--header`s (a local root is always
        read whole: `conditional` is ignored)."""
        path = self._path(url)
        if path is None:
            return AssetResponse(url=url, status=404, headers=tuple(self.extra_headers))
        with path.open("rb") as handle:
            body = handle.read(max_bytes)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = (("Content-Type", kind), *self.extra_headers)
        return AssetResponse(url=url, status=200, headers=headers, body=body)

    def close(self) -> None:
        """Nothing to release: files are opened and closed per read."""
