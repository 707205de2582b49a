"""Document sources for `consentry check`: live over HTTP (httpx) or from a local web root (`--root DIR`).

A source only fetches; `consentry.policies.evaluate` decides. Both sources return the same values (`SiteFile`,
`AssetResponse`), so a site owner's local root is read exactly as the live site would be.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from consentry.policies.config import user_agent
from consentry.policies.model import MAX_REDIRECTS, AssetResponse, SiteFile

__all__ = ["DocumentSource", "HttpSource", "RootSource"]

logger = logging.getLogger(__name__)


class DocumentSource(Protocol):
    """Where `check` gets documents from."""

    def site_file(self, url: str, max_bytes: int) -> SiteFile: ...

    def asset(self, url: str, max_bytes: int) -> AssetResponse | str: ...

    def close(self) -> None: ...


@dataclass
class HttpSource:
    """Live fetching with httpx: redirects followed up to RFC 9309's five, bodies capped while streaming."""

    agent: str
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 15.0
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            timeout=self.timeout,
            headers={"User-Agent": user_agent(self.agent)},
            trust_env=False,
        )

    def _get(self, url: str, max_bytes: int) -> tuple[httpx.Response, bytes]:
        with self.client.stream("GET", url) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    break
            return response, bytes(body)

    def site_file(self, url: str, max_bytes: int) -> SiteFile:
        """Fetch a site file; network failures and > 5 redirects become UNREACHABLE (RFC 9309 §2.3.1.4)."""
        try:
            response, body = self._get(url, max_bytes + 1)
        except httpx.TooManyRedirects:
            return SiteFile.from_error(url, f"more than {MAX_REDIRECTS} redirects")
        except (httpx.HTTPError, UnicodeError, ValueError) as exc:
            return SiteFile.from_error(url, f"{type(exc).__name__}: {exc}")
        return SiteFile.from_http(url, response.status_code, body,
                                  content_type=response.headers.get("content-type", ""), max_bytes=max_bytes)

    def asset(self, url: str, max_bytes: int) -> AssetResponse | str:
        """Fetch the asset; `--header`s are appended as if the server had sent them (a what-if for owners)."""
        try:
            response, body = self._get(url, max_bytes)
        except (httpx.HTTPError, UnicodeError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        headers = (*((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw),
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

    def _path(self, url: str) -> Path | None:
        path = unquote(urlsplit(url).path or "/")
        candidate = (self.root / path.lstrip("/")).resolve()
        root = self.root.resolve()
        if candidate != root and root not in candidate.parents:
            return None  # ../ escapes the root: served as 404, as a web server would
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None

    def site_file(self, url: str, max_bytes: int) -> SiteFile:
        """A site file from the root; absent → 404 (UNAVAILABLE)."""
        path = self._path(url)
        if path is None:
            return SiteFile.from_http(url, 404, b"", max_bytes=max_bytes)
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
        kind = mimetypes.guess_type(path.name)[0] or "text/plain"
        return SiteFile.from_http(url, 200, body, content_type=kind, max_bytes=max_bytes)

    def asset(self, url: str, max_bytes: int) -> AssetResponse | str:
        """The file at the URL's path, with a guessed Content-Type and the `--header`s."""
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
