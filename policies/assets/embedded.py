"""Embedded provenance of one asset: pre-scan → an injected C2PA reader → signals (C2PA 2.x, CAWG, IPTC PLUS).

Pure. The pre-scan (`consentry.policies.assets.prescan`) finds JUMBF/XMP markers; only an asset that carries a
manifest store is handed to the `ManifestReader` a transport injects (the c2pa adapter,
`consentry.middlewares.adapters.manifestreader`, is the only importer of c2pa). Remote manifests
(C2PA 2.2 §15.5.3) arrive as documents the transport fetched for `manifest_urls`. See docs/signals/c2pa.md and
docs/signals/iptc.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from consentry.policies.assets import credentials, epub, prescan, xmp
from consentry.policies.model import AssetResponse, FetchStatus, Signal, SiteFile
from consentry.policies.tdmrep import TdmDeclaration, TdmLayer
from consentry.policies.vocabulary import Mechanism, Scope, Tag

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ManifestReader",
    "StoreResult",
    "embedded_layers",
    "embedded_signals",
    "manifest_urls",
]


@dataclass(frozen=True, slots=True)
class StoreResult:
    """A manifest store as JSON data (`store`), or why it could not be read (`error`); both None = no manifest."""

    store: Mapping[str, object] | None
    error: str | None = None


class ManifestReader(Protocol):
    """Reads the C2PA manifest store of `body` (or the external store `manifest_data` bound to it).

    `content_type` is the MIME type the reader is told. Implementations never raise on remote content.
    """

    def __call__(self, body: bytes, content_type: str, *, manifest_data: bytes | None = None) -> StoreResult: ...


#: `CONSENT_C2PA_MAX_BYTES` default: bodies above it are not handed to the c2pa reader.
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

#: pre-scan container -> the MIME type the c2pa reader is told (the server's Content-Type may lie).
_READER_TYPES = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "wav": "audio/wav", "avi": "video/avi",
    "bmff": "video/mp4", "gif": "image/gif", "tiff": "image/tiff", "mp3": "audio/mpeg", "flac": "audio/flac",
    "pdf": "application/pdf", "zip": "application/zip", "epub": "application/epub+zip",
    "svg": "image/svg+xml", "c2pa": "application/c2pa",
}  # fmt: skip


def _reader_type(markers: prescan.Markers, response: AssetResponse) -> str:
    return _READER_TYPES.get(markers.container, response.content_type)


def _markers(response: AssetResponse, max_bytes: int) -> prescan.Markers:
    body = response.body
    return prescan.scan(body if len(body) <= max_bytes else body[:max_bytes], response.content_type)


def manifest_urls(response: AssetResponse, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, ...]:
    """The remote manifests the transport should fetch for `response` (Link rel=c2pa-manifest, XMP provenance)."""
    return credentials.remote_manifest_urls(response, _markers(response, max_bytes).xmp_packets)


def _embedded_c2pa(
    response: AssetResponse, markers: prescan.Markers, reader: ManifestReader, max_bytes: int
) -> list[Signal]:
    size = len(response.body)
    if size > max_bytes:
        if not markers.has_c2pa:
            return []
        reason = f"body of {size} bytes exceeds C2PA_MAX_BYTES ({max_bytes}); manifest not read"
        return credentials.signals(None, response.url, error=reason)
    if markers.c2pa_stores > 1:
        return [_several(response.url, markers.c2pa_stores)]
    if not markers.has_c2pa:
        return []
    result = reader(response.body, _reader_type(markers, response))
    return credentials.signals(result.store, response.url, error=result.error)


def _several(source: str, count: int) -> Signal:
    """C2PA 2.2 §15.5: several manifest stores in one (non-PDF) asset are all invalid, treated as none."""
    evidence = f"{count} C2PA manifest stores embedded: all invalid, treated as none"
    return Signal(Mechanism.C2PA, Scope.EMBEDDED, source, evidence)


def _remote_c2pa(
    response: AssetResponse,
    markers: prescan.Markers,
    fetched: Mapping[str, SiteFile],
    reader: ManifestReader,
    max_bytes: int,
) -> list[Signal]:
    out: list[Signal] = []
    for url in credentials.remote_manifest_urls(response, markers.xmp_packets):
        site_file = fetched.get(url)
        if site_file is None or site_file.status is not FetchStatus.OK or site_file.truncated:
            detail = site_file.describe() if site_file is not None else f"{url} not fetched"
            out += credentials.signals(None, url, error=f"remote manifest unavailable: {detail}")
        elif len(response.body) > max_bytes:
            out += credentials.signals(
                None, url, error="asset exceeds C2PA_MAX_BYTES; remote manifest not read"
            )
        else:
            result = reader(response.body, _reader_type(markers, response), manifest_data=site_file.body)
            error = result.error or (None if result.store else "remote manifest holds no manifest store")
            out += credentials.signals(result.store, url, error=error)
    return out


def embedded_signals(
    response: AssetResponse,
    reader: ManifestReader,
    *,
    fetched_manifests: Mapping[str, SiteFile] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[Signal]:
    """C2PA/CAWG (embedded and remote) and IPTC `plus:DataMining` signals of one asset response."""
    markers = _markers(response, max_bytes)
    found = _embedded_c2pa(response, markers, reader, max_bytes)
    found += _remote_c2pa(response, markers, fetched_manifests or {}, reader, max_bytes)
    found += xmp.iptc_signals(markers.xmp_packets, response.url)
    return found


def _embedded_tdmrep(response: AssetResponse, max_bytes: int) -> tuple[Mechanism, TdmDeclaration] | None:
    """TDMRep declared inside a PDF (XMP) or an EPUB (OPF), W3C TDMRep §5.4–5.5."""
    markers = _markers(response, max_bytes)
    if markers.container == "pdf":
        return Mechanism.TDMREP_PDF, xmp.pdf_tdmrep(markers.xmp_packets)
    if markers.container == "epub" and len(response.body) <= max_bytes:
        return Mechanism.TDMREP_EPUB, epub.opf_tdmrep(response.body)
    return None


def embedded_layers(response: AssetResponse, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[TdmLayer]:
    """The PDF/EPUB TDMRep layer of the asset, last in the TDMRep processing order (EMBEDDED scope)."""
    found = _embedded_tdmrep(response, max_bytes)
    if found is None or not found[1].evidence:
        return []
    mechanism, declared = found
    return [
        TdmLayer(
            mechanism=mechanism,
            scope=Scope.EMBEDDED,
            source=response.url,
            reservation=declared.reservation,
            policy=declared.policy,
            evidence=declared.evidence,
            tags=(Tag.LENIENT,) if declared.lenient else (),
        )
    ]
