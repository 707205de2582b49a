"""`consentry check`'s transport: answers the core's needs from a `DocumentSource` (live httpx or a web root).

The httpx transport of the one gathering path (docs/architecture.md): `consentry.policies.gather` says which
documents a decision needs, the source fetches them, `consentry.policies.evaluate` decides. Each `CheckResult`
also says what the fetch itself did (the asset's HTTP status and final URL, or why nothing answered: RFC 9309
§2.3.1.4 for an unreachable robots.txt), and each origin's site-file warnings are named by file
(`site_warnings`). Output rendering lives in `consentry.crawler.check.command` and `consentry.crawler.table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from consentry.crawler.check.sources import DocumentSource, FetchFailure
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
from consentry.policies.model import AssetResponse, FetchStatus, SiteFile
from consentry.policies.record import Decision
from consentry.policies.vocabulary import Mechanism

if TYPE_CHECKING:
    from consentry.middlewares.adapters.registry import Registry

__all__ = ["CheckResult", "Checker", "label_warnings"]

_LINKED = frozenset({DocumentKind.LICENCE, DocumentKind.MANIFEST})


def _anywhere(url: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One checked URL: its decision (None when nothing answered), what the fetch did, and this URL's own
    warnings (its origin's site-file warnings are `Checker.site_warnings`).

    `status` and `final_url` are the asset's final HTTP answer after redirects (None when it was not fetched);
    `failure` says why nothing answered for `failed_url` (the asset, or robots.txt: the origin is unreachable);
    `robots_unreachable` is robots.txt's own failed HTTP answer (e.g. "HTTP 503") when access was refused
    for it (RFC 9309 §2.3.1.4).
    """

    url: str
    origin: str
    decision: Decision | None
    warnings: tuple[str, ...] = ()
    status: int | None = None
    final_url: str | None = None
    failure: FetchFailure | None = None
    failed_url: str | None = None
    robots_unreachable: str | None = None

    @property
    def problem(self) -> str | None:
        """What went wrong fetching this URL, in a few words (None: fetched with a 2xx, or skipped by choice)."""
        if self.failure is not None:
            where = f" (at {self.failed_url})" if self.failed_url not in (None, self.url) else ""
            return f"could not fetch: {self.failure.message}{where}"
        if self.robots_unreachable is not None:
            return f"robots.txt unreachable ({self.robots_unreachable})"
        if self.status is not None and not 200 <= self.status < 300:
            return f"HTTP {self.status}"
        return None


def _file_label(url: str) -> str:
    """`/robots.txt`, `/ai.txt`, `/.well-known/tdmrep.json`: a site file named by its path on the origin."""
    return "/" + url.split("://", 1)[-1].partition("/")[2]


def label_warnings(file: str, warnings: Sequence[str]) -> tuple[str, ...]:
    """Each warning prefixed with the file it is about: `/robots.txt line 4: …`, `/ai.txt: …`."""
    return tuple(f"{file} {w}" if w.startswith("line ") else f"{file}: {w}" for w in warnings)


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

    def site_warnings(self, origin: str) -> tuple[str, ...]:
        """What the origin's owner should fix in its site files, each named by its file (and line)."""
        site = self.site(origin)
        documents = site.documents
        return (*label_warnings(_file_label(documents.robots.url), site.robots.warnings),
                *label_warnings(_file_label(documents.ai_txt.url), site.ai_txt.warnings),
                *label_warnings(_file_label(documents.tdmrep.url), site.tdmrep.warnings),
                *(warning for url, licence in site.licences for warning in label_warnings(url, licence.warnings)))

    def _skipped(self, url: str, origin: str, skipped: Decision) -> CheckResult:
        """A URL access was refused for: by choice (a Disallow, an excluded domain), or because robots.txt
        gave no usable answer (RFC 9309 §2.3.1.4: a 5xx, a refused redirect, a bomb…) — and when no server
        answered at all (connection refused, host not found, timeout), the origin itself failed: no verdict."""
        robots = self.site(origin).documents.robots.readable()
        if skipped.signals[0].mechanism is not Mechanism.ROBOTS or robots.status is not FetchStatus.UNREACHABLE:
            return CheckResult(url, origin, skipped, decision_warnings(skipped))
        failure = FetchFailure.of(robots.detail)
        if robots.http_status is None and failure.silent:
            return CheckResult(url, origin, None, failure=failure, failed_url=robots.url)
        return CheckResult(url, origin, skipped, decision_warnings(skipped), robots_unreachable=robots.detail)

    def check(self, url: str) -> CheckResult:
        """Evaluate one URL: `skip` without fetching it when access is denied, else fetch and evaluate. The URL
        is requested and matched in one spelling (`request_url`: dot segments removed, escapes normalised)."""
        url = request_url(url)
        origin = origin_of(url)
        site = self.site(origin)
        skipped = evaluate_access(site, url, self.config, fetched_at=now())
        if skipped is not None:
            return self._skipped(url, origin, skipped)
        # one byte over: "too big" is visible; every redirect hop is checked against its own origin's robots.txt
        fetched = self.source.asset(url, self.config.c2pa_max_bytes + 1, self.permit)
        if isinstance(fetched, str):
            failure = fetched if isinstance(fetched, FetchFailure) else FetchFailure.of(fetched)
            return CheckResult(url, origin, None, failure=failure, failed_url=url)
        return self.evaluate(url, site, fetched)

    def evaluate(self, url: str, site: SitePolicy, fetched: AssetResponse) -> CheckResult:
        """Evaluate a fetched asset of `site`: the documents its response names (licences, remote manifests)
        are fetched through `answer`, then `consentry.policies.evaluate.evaluate_asset` decides."""
        origin = origin_of(url)
        documents = self.answer(asset_needs(fetched, self.config))
        decision = evaluate_asset(site, fetched, self.config, fetched_at=now(), documents=documents,
                                  reader=C2paReader(self.trust_anchors_pem), registry=self.registry)
        warnings = (*response_warnings(fetched), *decision_warnings(decision))
        return CheckResult(url, origin, decision, warnings, status=fetched.status, final_url=fetched.url)
