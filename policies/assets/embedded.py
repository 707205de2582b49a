"""Embedded provenance of one asset: pre-scan → an injected C2PA reader → signals (C2PA 2.x, CAWG, IPTC PLUS).

Pure. The pre-scan (`consentry.policies.assets.prescan`) finds JUMBF/XMP markers; only an asset that carries a
manifest store (or declares one, or that the pre-scan cannot see inside) is handed to the `ManifestReader` a
transport injects (the c2pa adapter,
`consentry.middlewares.adapters.manifestreader`, is the only importer of c2pa). Remote manifests
(C2PA 2.2 §15.5.3) arrive as documents the transport fetched for `manifest_urls`, and are read only when no
store is embedded (C2PA 2.2 §15.5). The AI-generated label comes from the same read
(`consentry.policies.assets.aigenerated`). See docs/signals/c2pa.md and docs/signals/iptc.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from consentry.policies.assets import aigenerated, credentials, epub, prescan, xmp
from consentry.policies.config import DEFAULT_C2PA_MAX_BYTES
from consentry.policies.model import AssetResponse, FetchStatus, Signal, SiteFile
from consentry.policies.record import Provenance
from consentry.policies.tdmrep import TdmDeclaration, TdmLayer
from consentry.policies.vocabulary import Mechanism, Scope, Tag

__all__ = [
    "DEFAULT_MAX_BYTES",
    "EmbeddedReading",
    "ManifestReader",
    "StoreResult",
    "embedded_layers",
    "embedded_signals",
    "manifest_urls",
    "read_embedded",
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
DEFAULT_MAX_BYTES = DEFAULT_C2PA_MAX_BYTES

#: pre-scan container -> the MIME type the c2pa reader is told (the server's Content-Type may lie).
_READER_TYPES = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "wav": "audio/wav", "avi": "video/avi",
    "bmff": "video/mp4", "gif": "image/gif", "tiff": "image/tiff", "mp3": "audio/mpeg", "flac": "audio/flac",
    "pdf": "application/pdf", "zip": "application/zip", "epub": "application/epub+zip",
    "svg": "image/svg+xml", "c2pa": "application/c2pa", "jxl": "image/jxl",
}  # fmt: skip


#: ISO BMFF major brands of HEIF still images (ISO/IEC 23008-12 brands, AV1 Image File Format brands).
_HEIF_BRANDS = {b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif",
                b"heim": "image/heic", b"heis": "image/heic", b"avif": "image/avif", b"avis": "image/avif"}


def _reader_type(markers: prescan.Markers, response: AssetResponse) -> str:
    if markers.container == "bmff" and response.body[8:12] in _HEIF_BRANDS:
        return _HEIF_BRANDS[response.body[8:12]]
    return _READER_TYPES.get(markers.container, response.content_type)


def _markers(response: AssetResponse, max_bytes: int) -> prescan.Markers:
    """The pre-scan of the response's first `max_bytes`, once per response (manifest URLs, signals and TDMRep
    layers all read it)."""
    return response.derived(("markers", max_bytes), _scan, response, max_bytes)


def _scan(response: AssetResponse, max_bytes: int) -> prescan.Markers:
    body = response.body
    return prescan.scan(body if len(body) <= max_bytes else body[:max_bytes], response.content_type)


def _remote_urls(response: AssetResponse, markers: prescan.Markers, max_bytes: int) -> tuple[str, ...]:
    """`credentials.remote_manifest_urls` of the response, once per response (needs and signals read it)."""
    return response.derived(
        ("remote manifests", max_bytes), credentials.remote_manifest_urls, response, markers.xmp_packets
    )


def manifest_urls(response: AssetResponse, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, ...]:
    """The remote manifests the transport should fetch for `response` (Link rel=c2pa-manifest, XMP provenance).

    None when the pre-scan found an embedded store: C2PA 2.2 §15.5 reads the embedded manifest first and a
    remote one only when no store is embedded. `#jumbf=` self-references are never fetched.
    """
    markers = _markers(response, max_bytes)
    if markers.has_c2pa:
        return ()
    return _remote_urls(response, markers, max_bytes)


@dataclass(frozen=True, slots=True)
class EmbeddedReading:
    """Everything read from inside one asset: its signals and its AI-generated label."""

    signals: list[Signal]
    provenance: Provenance


@dataclass(slots=True)
class _Embedded:
    """The embedded store as read: signals, the store (for the AI-generated label), and whether one exists."""

    signals: list[Signal] = field(default_factory=list)
    store: Mapping[str, object] | None = None
    exists: bool = False
    remote: str = ""  # the remote manifest `store` came from ("" = embedded)


def _unverifiable(source: str, reason: str) -> _Embedded:
    return _Embedded(credentials.signals(None, source, error=reason), None, True)


def _absent_store(markers: prescan.Markers, declared: str | None, source: str) -> _Embedded:
    """c2pa read no store. A store the markers (or a self-reference) declare is unverifiable, not absent."""
    if markers.has_c2pa:
        return _unverifiable(source, f"the pre-scan found a {markers.container} C2PA store marker but c2pa "
                                     "read no manifest store")
    if declared is not None:
        return _unverifiable(source, f"{declared} says the manifest is embedded, but c2pa found no store")
    return _Embedded()


def _embedded_c2pa(
    response: AssetResponse, markers: prescan.Markers, reader: ManifestReader, max_bytes: int
) -> _Embedded:
    size, source = len(response.body), response.url
    declared = credentials.declares_embedded(response)
    if size > max_bytes:
        if not markers.has_c2pa:
            return _Embedded()
        return _unverifiable(source, f"body of {size} bytes exceeds C2PA_MAX_BYTES ({max_bytes}); manifest not read")
    if markers.c2pa_stores > 1:
        return _Embedded([_several(source, markers.c2pa_stores)], None, True)
    hinted = credentials.hints_embedded(markers.xmp_packets)
    if not (markers.has_c2pa or markers.inconclusive or declared or hinted):
        return _Embedded()
    result = reader(response.body, _reader_type(markers, response))
    if result.store is not None:
        return _Embedded(credentials.signals(result.store, source), result.store, True)
    if result.error is None:
        return _absent_store(markers, declared, source)
    if markers.has_c2pa or declared:
        return _unverifiable(source, result.error)
    if markers.inconclusive:  # the pre-scan's blind spot sent it to the reader, which could not parse it either
        return _Embedded([_unparsed(source, markers.inconclusive, result.error)])
    return _Embedded()  # only a stale XMP self-reference sent it: c2pa's error is about a store that is not there


def _unparsed(source: str, why: str, error: str) -> Signal:
    """Neither the pre-scan nor c2pa could parse the container and no store marker was seen: recorded, no statement.

    Not `unverifiable`: nothing says a store exists (a truncated or corrupt file, which c2pa cannot read either).
    """
    evidence = f"no C2PA store found: the pre-scan could not walk the container ({why}) and c2pa: {error}"
    return Signal(Mechanism.C2PA, Scope.EMBEDDED, source, evidence[:600])


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
) -> _Embedded:
    out = _Embedded()
    for url in _remote_urls(response, markers, max_bytes):
        site_file = fetched.get(url)
        if site_file is None or site_file.status is not FetchStatus.OK or site_file.truncated:
            detail = site_file.describe() if site_file is not None else f"{url} not fetched"
            out.signals += credentials.signals(None, url, error=f"remote manifest unavailable: {detail}")
        elif len(response.body) > max_bytes:
            out.signals += credentials.signals(
                None, url, error="asset exceeds C2PA_MAX_BYTES; remote manifest not read"
            )
        else:
            result = reader(response.body, _reader_type(markers, response), manifest_data=site_file.body)
            error = result.error or (None if result.store else "remote manifest holds no manifest store")
            out.signals += credentials.signals(result.store, url, error=error)
            if out.store is None and result.store is not None:
                out.store, out.remote = result.store, url
    return out


def read_embedded(
    response: AssetResponse,
    reader: ManifestReader,
    *,
    fetched_manifests: Mapping[str, SiteFile] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> EmbeddedReading:
    """The asset's C2PA/CAWG and IPTC signals and its AI-generated label, each manifest read once.

    Manifest source order (C2PA 2.2 §15.5): the embedded store; only when none exists, the remote manifests
    the transport fetched for `manifest_urls` (a remote URL fetched anyway is then not read).
    """
    markers = _markers(response, max_bytes)
    embedded = _embedded_c2pa(response, markers, reader, max_bytes)
    chosen = embedded
    if not embedded.exists:
        chosen = _remote_c2pa(response, markers, fetched_manifests or {}, reader, max_bytes)
    found = [
        *chosen.signals,
        *xmp.iptc_signals(markers.xmp_packets, response.url),
        *xmp.unreadable_iptc(markers.xmp_packets, response.body, markers.notes, response.url),
    ]
    label = aigenerated.label(chosen.store, xmp.digital_source_types(markers.xmp_packets),
                              manifest_source=f"the remote manifest {chosen.remote}" if chosen.remote else "")
    return EmbeddedReading(found, label)


def embedded_signals(
    response: AssetResponse,
    reader: ManifestReader,
    *,
    fetched_manifests: Mapping[str, SiteFile] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[Signal]:
    """C2PA/CAWG (embedded, else remote) and IPTC `plus:DataMining` signals of one asset response."""
    return read_embedded(response, reader, fetched_manifests=fetched_manifests, max_bytes=max_bytes).signals


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
