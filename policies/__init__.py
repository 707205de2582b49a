"""consentry's pure evaluation core: parsers for every consent signal, combination and decision.

No network, disk, clock, Scrapy or c2pa here (docs/architecture.md "The pure core"); a test enforces it.

This façade exports the few names a transport uses: what a decision needs (`gather_site`, `site_needs`,
`asset_needs`, `Need`), the values it answers with (`SiteFile`, `AssetResponse`), the evaluation entries
(`evaluate_access`, `evaluate_asset`) and what comes out (`Decision`). Names are imported on first use, so
importing one submodule (e.g. `consentry.policies.version`) does not load the whole core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consentry.policies.assets.embedded import ManifestReader, StoreResult
    from consentry.policies.config import PolicyConfig
    from consentry.policies.evaluate import (
        AssetSignalSource,
        SitePolicy,
        evaluate_access,
        evaluate_asset,
        origin_of,
    )
    from consentry.policies.gather import (
        DocumentKind,
        Need,
        asset_needs,
        gather_site,
        site_from_files,
        site_needs,
    )
    from consentry.policies.model import Action, AssetResponse, FetchStatus, Signal, SiteFile
    from consentry.policies.record import Decision
    from consentry.policies.version import VERSION
    from consentry.policies.vocabulary import Purpose, Verdict

__all__ = [
    "VERSION",
    "Action",
    "AssetResponse",
    "AssetSignalSource",
    "Decision",
    "DocumentKind",
    "FetchStatus",
    "ManifestReader",
    "Need",
    "PolicyConfig",
    "Purpose",
    "Signal",
    "SiteFile",
    "SitePolicy",
    "StoreResult",
    "Verdict",
    "asset_needs",
    "evaluate_access",
    "evaluate_asset",
    "gather_site",
    "origin_of",
    "site_from_files",
    "site_needs",
]

_HOMES = {
    "VERSION": "version", "Action": "model", "AssetResponse": "model", "AssetSignalSource": "evaluate",
    "Decision": "record", "DocumentKind": "gather", "FetchStatus": "model", "ManifestReader": "assets.embedded",
    "Need": "gather", "PolicyConfig": "config", "Purpose": "vocabulary", "Signal": "model", "SiteFile": "model",
    "SitePolicy": "evaluate", "StoreResult": "assets.embedded", "Verdict": "vocabulary", "asset_needs": "gather",
    "evaluate_access": "evaluate", "evaluate_asset": "evaluate", "gather_site": "gather", "origin_of": "evaluate",
    "site_from_files": "gather", "site_needs": "gather",
}  # fmt: skip


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return list(__all__)
