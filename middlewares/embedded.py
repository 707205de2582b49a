"""Embedded provenance for every front end (SPECS §9, §10, §7.2 items 4–5): pre-scan → c2pa adapter → signals.

Transport-agnostic glue: `check`, `crawl` and `audit` pass the asset response (and any remote manifests they
fetched for `manifest_urls`) and get `Signal`s. Manifest-less assets never reach the c2pa reader.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from consentry.middlewares.adapters.manifestreader import read_store
from consentry.policies.assets import credentials, epub, prescan, xmp
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import SitePolicy, evaluate_response
from consentry.policies.model import AssetResponse, FetchStatus, Signal, SiteFile
from consentry.policies.record import Decision
from consentry.policies.tdmrep import TdmLayer
from consentry.policies.vocabulary import Mechanism, Scope, Tag

if TYPE_CHECKING:
    from consentry.middlewares.adapters.registry import Registry

__all__ = [
    "DEFAULT_MAX_BYTES",
    "embedded_layers",
    "embedded_signals",
    "embedded_tdmrep",
    "evaluate_asset",
    "manifest_urls",
]

logger = logging.getLogger(__name__)

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
    response: AssetResponse, markers: prescan.Markers, trust: str | None, max_bytes: int
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
    result = read_store(response.body, _reader_type(markers, response), trust_anchors_pem=trust)
    return credentials.signals(result.store, response.url, error=result.error)


def _several(source: str, count: int) -> Signal:
    """SPECS §9.3: several manifest stores in one (non-PDF) asset are all invalid, treated as none."""
    evidence = f"{count} C2PA manifest stores embedded: all invalid, treated as none"
    return Signal(Mechanism.C2PA, Scope.EMBEDDED, source, evidence)


def _remote_c2pa(
    response: AssetResponse,
    markers: prescan.Markers,
    fetched: Mapping[str, SiteFile],
    trust: str | None,
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
            result = read_store(
                response.body,
                _reader_type(markers, response),
                manifest_data=site_file.body,
                trust_anchors_pem=trust,
            )
            error = result.error or (None if result.store else "remote manifest holds no manifest store")
            out += credentials.signals(result.store, url, error=error)
    return out


def embedded_signals(
    response: AssetResponse,
    *,
    fetched_manifests: Mapping[str, SiteFile] | None = None,
    trust_anchors_pem: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[Signal]:
    """C2PA/CAWG (embedded and remote) and IPTC `plus:DataMining` signals of one asset response."""
    markers = _markers(response, max_bytes)
    for note in markers.notes:
        logger.debug("pre-scan %s: %s", response.url, note)
    found = _embedded_c2pa(response, markers, trust_anchors_pem, max_bytes)
    found += _remote_c2pa(response, markers, fetched_manifests or {}, trust_anchors_pem, max_bytes)
    found += xmp.iptc_signals(markers.xmp_packets, response.url)
    return found


def embedded_tdmrep(
    response: AssetResponse, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[tuple[Mechanism, int | None, str | None, str]]:
    """TDMRep from PDF XMP / EPUB OPF as (mechanism, reservation, policy, evidence) for `TdmLayer`s (SPECS §7.2)."""
    markers = _markers(response, max_bytes)
    if markers.container == "pdf":
        reservation, policy, evidence = xmp.pdf_tdmrep(markers.xmp_packets)
        return [(Mechanism.TDMREP_PDF, reservation, policy, evidence)] if evidence else []
    if markers.container == "epub" and len(response.body) <= max_bytes:
        reservation, policy, evidence = epub.opf_tdmrep(response.body)
        return [(Mechanism.TDMREP_EPUB, reservation, policy, evidence)] if evidence else []
    return []


def embedded_layers(response: AssetResponse, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[TdmLayer]:
    """The PDF/EPUB TDMRep layers of the asset, last in the §7.3 processing order (EMBEDDED scope)."""
    return [
        TdmLayer(
            mechanism=mechanism,
            scope=Scope.EMBEDDED,
            source=response.url,
            reservation=reservation,
            policy=policy,
            evidence=evidence,
            tags=(Tag.LENIENT,) if "read as TDMRep" in evidence else (),
        )
        for mechanism, reservation, policy, evidence in embedded_tdmrep(response, max_bytes=max_bytes)
    ]


def evaluate_asset(
    site: SitePolicy,
    asset: AssetResponse,
    config: PolicyConfig,
    *,
    fetched_at: str | None,
    linked: Mapping[str, SiteFile],
    manifests: Mapping[str, SiteFile],
    trust_anchors_pem: str | None = None,
    registry: Registry | None = None,
) -> Decision:
    """The decision for a fetched asset, its embedded signals read: the one path every transport takes.

    `linked` are the fetched `consentry.policies.evaluate.licence_urls(asset)`, `manifests` the fetched
    `manifest_urls(asset)`; `check`, the crawl and `audit` differ only in how they fetched them. With a
    works `registry`, the asset's matches (SPECS §11) join the embedded signals.
    """
    cap = config.c2pa_max_bytes
    found = embedded_signals(
        asset, fetched_manifests=manifests, trust_anchors_pem=trust_anchors_pem, max_bytes=cap
    )
    if registry is not None:
        found += registry.signals(asset)
    return evaluate_response(
        site,
        asset,
        config,
        fetched_at=fetched_at,
        linked=linked,
        embedded=found,
        embedded_tdm=embedded_layers(asset, max_bytes=cap),
    )
