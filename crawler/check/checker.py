"""`consentry check`'s transport: answers the core's needs from a `DocumentSource` (live httpx or a web root).

The httpx transport of the one gathering path (docs/architecture.md): `consentry.policies.gather` says which
documents a decision needs, the source fetches them, `consentry.policies.evaluate` decides. Output rendering
lives in `consentry.crawler.check.command`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from consentry.crawler.check.sources import DocumentSource
from consentry.middlewares.adapters.addresses import request_url
from consentry.middlewares.adapters.clock import now
from consentry.middlewares.adapters.linkbudget import LinkBudget
from consentry.middlewares.adapters.manifestreader import C2paReader
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import (
    SitePolicy,
    evaluate_access,
    evaluate_asset,
    origin_of,
    response_warnings,
)
from consentry.policies.gather import DocumentKind, Need, asset_needs, gather_site
from consentry.policies.lint import decision_warnings
from consentry.policies.model import AssetResponse, SiteFile
from consentry.policies.record import Decision

if TYPE_CHECKING:
    from consentry.middlewares.adapters.registry import Registry

__all__ = ["CheckResult", "Checker"]

_LINKED = frozenset({DocumentKind.LICENCE, DocumentKind.MANIFEST})


def _anywhere(url: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One checked URL: its decision (None when the asset could not be fetched), warnings, or an error."""

    url: str
    decision: Decision | None
    warnings: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Checker:
    """Evaluates URLs through a source, fetching each origin's site files once."""

    source: DocumentSource
    config: PolicyConfig
    trust_anchors_pem: str | None = None
    registry: Registry | None = None
    budget: LinkBudget = field(default_factory=LinkBudget)
    _sites: dict[str, SitePolicy] = field(default_factory=dict)
    _documents: dict[str, SiteFile] = field(default_factory=dict)
    _building: set[str] = field(default_factory=set)

    def answer(self, needs: Sequence[Need]) -> dict[str, SiteFile]:
        """The core's needs answered from the source, each document fetched once per run; licences and
        manifests only where their host's robots.txt lets us (`permit`, every redirect hop) and within the
        caps of `budget` (the others answered unreachable with the reason)."""
        linked = [need for need in needs if need.kind in _LINKED and need.url not in self._documents]
        self._documents.update(self.budget.split(linked)[1])
        for need in needs:
            if need.url not in self._documents:
                permit = self.permit if need.kind in _LINKED else _anywhere
                self._documents[need.url] = self.source.site_file(need.url, self.config.max_sitefile_bytes, permit)
        return {need.url: self._documents[need.url] for need in needs}

    def permit(self, url: str) -> str | None:
        """Why `url` may not be requested under its own origin's robots.txt (RFC 9309 §2.2.2), or None.

        An origin whose site files are being gathered right now (a licence its robots.txt names on itself or
        on an origin naming it back) is not asked again: its robots.txt is not known yet.
        """
        origin = origin_of(url)
        if origin in self._building:
            return None
        skipped = evaluate_access(self.site(origin), url, self.config, fetched_at=None)
        return None if skipped is None else f"refused by robots.txt of {origin}: {skipped.reason}"

    def site(self, origin: str) -> SitePolicy:
        """The origin's parsed site files (fetched on first use), with the RSL licences robots.txt names."""
        if origin not in self._sites:
            self._building.add(origin)
            try:
                self._sites[origin] = gather_site(origin, self.config.agent, self.answer)
            finally:
                self._building.discard(origin)
        return self._sites[origin]

    def check(self, url: str) -> CheckResult:
        """Evaluate one URL: `skip` without fetching it when access is denied, else fetch and evaluate. The URL
        is requested and matched in one spelling (`request_url`: dot segments removed, escapes normalised)."""
        url = request_url(url)
        site = self.site(origin_of(url))
        skipped = evaluate_access(site, url, self.config, fetched_at=now())
        if skipped is not None:
            return CheckResult(url, skipped, (*site.warnings, *decision_warnings(skipped)))
        # one byte over: "too big" is visible; every redirect hop is checked against its own origin's robots.txt
        fetched = self.source.asset(url, self.config.c2pa_max_bytes + 1, self.permit)
        if isinstance(fetched, str):
            return CheckResult(url, None, site.warnings, error=fetched)
        return self.evaluate(url, site, fetched)

    def evaluate(self, url: str, site: SitePolicy, fetched: AssetResponse) -> CheckResult:
        """Evaluate a fetched asset of `site`: the documents its response names (licences, remote manifests)
        are fetched through `answer`, then `consentry.policies.evaluate.evaluate_asset` decides."""
        documents = self.answer(asset_needs(fetched, self.config))
        decision = evaluate_asset(site, fetched, self.config, fetched_at=now(), documents=documents,
                                  reader=C2paReader(self.trust_anchors_pem), registry=self.registry)
        warnings = (*site.warnings, *response_warnings(fetched), *decision_warnings(decision))
        return CheckResult(url, decision, warnings)
