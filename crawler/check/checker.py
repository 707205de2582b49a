"""`consentry check`: how a site's directives are actually read, URL by URL (DESIGN.md "Command line").

Gathers documents from a `DocumentSource` (live httpx, or a local web root) and hands them to the one
evaluation core, `consentry.policies.evaluate`. Output: a readable table, or with `--json` only a JSON array of
`consentry.decision/1` records on stdout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from consentry.crawler.check.sources import DocumentSource
from consentry.middlewares.adapters.clock import now
from consentry.middlewares.embedded import evaluate_asset, manifest_urls
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import (
    SiteDocuments,
    SitePolicy,
    evaluate_access,
    licence_urls,
    origin_of,
    response_warnings,
    site_file_urls,
)
from consentry.policies.lint import decision_warnings
from consentry.policies.model import SiteFile
from consentry.policies.record import Decision

if TYPE_CHECKING:
    from consentry.middlewares.adapters.registry import Registry

__all__ = ["CheckResult", "Checker"]


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
    _sites: dict[str, SitePolicy] = field(default_factory=dict)

    def _fetch_all(self, urls: Iterable[str]) -> dict[str, SiteFile]:
        return {url: self.source.site_file(url, self.config.max_sitefile_bytes) for url in dict.fromkeys(urls)}

    def site(self, origin: str) -> SitePolicy:
        """The origin's parsed site files (fetched on first use), with the RSL licences robots.txt names."""
        if origin not in self._sites:
            urls = site_file_urls(origin)
            fetched = {kind: self.source.site_file(url, self.config.max_sitefile_bytes) for kind, url in urls.items()}
            docs = SiteDocuments(origin, fetched["robots"], fetched["ai_txt"], fetched["tdmrep"])
            policy = SitePolicy.build(docs, self.config.agent)
            if policy.licence_urls:
                policy = policy.with_licences(self._fetch_all(policy.licence_urls), self.config.agent)
            self._sites[origin] = policy
        return self._sites[origin]

    def check(self, url: str) -> CheckResult:
        """Evaluate one URL: `skip` without fetching it when access is denied, else fetch and evaluate."""
        site = self.site(origin_of(url))
        skipped = evaluate_access(site, url, self.config, fetched_at=now())
        if skipped is not None:
            return CheckResult(url, skipped, (*site.warnings, *decision_warnings(skipped)))
        fetched = self.source.asset(url, self.config.c2pa_max_bytes + 1)  # one byte over: "too big" is visible
        if isinstance(fetched, str):
            return CheckResult(url, None, site.warnings, error=fetched)
        linked = self._fetch_all(licence_urls(fetched))
        cap = self.config.c2pa_max_bytes
        manifests = self._fetch_all(manifest_urls(fetched, max_bytes=cap))
        decision = evaluate_asset(site, fetched, self.config, fetched_at=now(), linked=linked,
                                  manifests=manifests, trust_anchors_pem=self.trust_anchors_pem,
                                  registry=self.registry)
        warnings = (*site.warnings, *response_warnings(fetched), *decision_warnings(decision))
        return CheckResult(url, decision, warnings)
