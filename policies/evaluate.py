"""The one evaluation core behind every transport (docs/architecture.md, "One path").

Pure. A transport answers what `consentry.policies.gather` says a decision needs — the origin's site files
(`SiteDocuments`), the licences they point to, the asset's response and whatever it links to — and this
module turns them into a `Decision`. The Scrapy middlewares, `consentry check` and `consentry audit` all call
`evaluate_access` and `evaluate_asset`, so the same inputs give the same decision whichever transport
fetched them. Combination across mechanisms: deny > allow > unknown (docs/decision-record.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol
from urllib.parse import urlsplit

from consentry.policies import aipref, contentsignal, rsl, tdmrep, xrobots
from consentry.policies.aitxt import AiTxtPolicy
from consentry.policies.assets.aigenerated import apply_policy
from consentry.policies.assets.embedded import ManifestReader, embedded_layers, manifest_urls, read_embedded
from consentry.policies.config import PolicyConfig
from consentry.policies.decide import decide
from consentry.policies.exclusion import excluded_file, excluded_signal
from consentry.policies.html import HtmlHead, parse_head
from consentry.policies.model import Action, AssetResponse, FetchStatus, Signal, SiteFile
from consentry.policies.record import Decision, Provenance
from consentry.policies.restriction import restriction_signals
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.tdmrep import TdmLayer, TdmrepFile
from consentry.policies.vocabulary import Mechanism, Scope, Tag, Verdict

__all__ = [
    "HTML_TYPES",
    "SITE_FILE_PATHS",
    "AssetSignalSource",
    "SiteDocuments",
    "SitePolicy",
    "evaluate_access",
    "evaluate_asset",
    "evaluate_exclusion",
    "evaluate_refused",
    "evaluate_response",
    "is_html",
    "licence_urls",
    "origin_of",
    "page_inheritance",
    "response_warnings",
    "site_file_urls",
]

#: Where each site file lives on an origin (RFC 9309 §2.3, Spawning ai.txt, W3C TDMRep §3.2).
SITE_FILE_PATHS: dict[str, str] = {
    "robots": "/robots.txt",
    "ai_txt": "/ai.txt",
    "tdmrep": "/.well-known/tdmrep.json",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Media types read as HTML documents (meta robots, TDMRep meta, `<link rel=license>`).
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _own_refusal(robots: RobotsPolicy, documents: SiteDocuments, url: str) -> str | None:
    """Why a licence that robots.txt names on its own origin may not be fetched (its path is disallowed for the
    agent, RFC 9309 §2.2.2), or None (another origin's licence is checked against that origin's robots.txt)."""
    if origin_of(url) != documents.origin or robots.access(url)[0] is Verdict.ALLOW:
        return None
    return f"refused: {url} is disallowed by the robots.txt that names it (RFC 9309 §2.2.2); not fetched"


def _unfetched_licence(robots: RobotsPolicy, documents: SiteDocuments, url: str) -> SiteFile:
    """The stand-in for a licence the transport did not answer: refused under the origin's own robots.txt, or
    absent."""
    refused = _own_refusal(robots, documents, url)
    return SiteFile.absent(url) if refused is None else SiteFile.from_error(url, refused)


@lru_cache(maxsize=4096)
def origin_of(url: str) -> str:
    """`scheme://host[:port]` of an absolute URL, lower-cased, default port dropped (RFC 9309 §2.3). Cached: a
    crawl asks it of one URL at each stage of the request's way (guard, site files, politeness, evaluation)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{host}{suffix}"


def site_file_urls(origin: str) -> dict[str, str]:
    """The absolute URL of each site file of `origin`."""
    return {kind: origin + path for kind, path in SITE_FILE_PATHS.items()}


@dataclass(frozen=True, slots=True)
class SiteDocuments:
    """An origin's site files as fetched (or as archived) at one time."""

    origin: str
    robots: SiteFile
    ai_txt: SiteFile
    tdmrep: SiteFile
    licences: Mapping[str, SiteFile] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """The parsed site files of one origin for one agent: built once per origin, queried per URL."""

    documents: SiteDocuments
    robots: RobotsPolicy
    ai_txt: AiTxtPolicy
    tdmrep: TdmrepFile
    licences: tuple[tuple[str, rsl.RslDocument], ...]

    @classmethod
    def build(cls, documents: SiteDocuments, agent: str) -> SitePolicy:
        """Parse every site file of `documents` for `agent`. Never raises on remote content."""
        robots = RobotsPolicy.parse(documents.robots, agent)
        licences = tuple(
            (url, rsl.RslDocument.parse(documents.licences.get(url) or _unfetched_licence(robots, documents, url)))
            for url in robots.license_urls
        )
        return cls(documents, robots, AiTxtPolicy.parse(documents.ai_txt, agent),
                   TdmrepFile.parse(documents.tdmrep), licences)

    @property
    def licence_urls(self) -> tuple[str, ...]:
        """The RSL licences robots.txt declares (`License:`) that the transport must fetch: all but those on this
        origin under a path its own robots.txt disallows (RFC 9309 §2.2.2; they read as refused, never fetched)."""
        return tuple(url for url in self.robots.license_urls if _own_refusal(self.robots, self.documents, url) is None)

    def with_licences(self, licences: Mapping[str, SiteFile], agent: str) -> SitePolicy:
        """This policy rebuilt with the fetched licence documents."""
        documents = dataclasses.replace(self.documents, licences=dict(licences))
        return SitePolicy.build(documents, agent)

    def access(self, url: str) -> tuple[Verdict, Signal]:
        """RFC 9309 access for the agent this policy was built for."""
        return self.robots.access(url)

    def site_signals(self, url: str) -> list[Signal]:
        """Site-scoped usage signals for `url` (robots extensions, ai.txt, RSL via robots.txt)."""
        signals = self.robots.signals(url) + self.ai_txt.signals(url)
        for _, licence in self.licences:
            signals.extend(licence.signals(url, mechanism=Mechanism.ROBOTS_LICENSE, scope=Scope.SITE))
        if self.tdmrep.status is FetchStatus.UNREACHABLE and (unreachable := self.tdmrep.unreachable_signal()):
            signals.append(unreachable)
        return signals

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a site owner should fix, from every site file."""
        found = [*self.robots.warnings, *self.ai_txt.warnings, *self.tdmrep.warnings]
        for url, licence in self.licences:
            found.extend(f"{url}: {w}" for w in licence.warnings)
        return tuple(found)


def is_html(response: AssetResponse) -> bool:
    """Whether the response is an HTML document (by media type)."""
    return response.content_type in HTML_TYPES


def _head(response: AssetResponse) -> HtmlHead | None:
    """The response's HTML head, parsed once per response (None: not HTML, nothing parsed)."""
    if not is_html(response):
        return None
    return response.derived("head", parse_head, response.body, response.url)


def _rsl_links(response: AssetResponse) -> tuple[tuple[str, Scope], ...]:
    """`rsl.discover` of the response, once per response (licence needs and RSL signals read it)."""
    return response.derived("rsl", _discover, response)


def _discover(response: AssetResponse) -> tuple[tuple[str, Scope], ...]:
    return rsl.discover(response, _head(response))


def licence_urls(response: AssetResponse) -> tuple[str, ...]:
    """RSL licences the response declares (`Link` header, HTML `<link>`), which the transport must fetch."""
    return tuple(url for url, _ in _rsl_links(response))


def response_warnings(response: AssetResponse) -> tuple[str, ...]:
    """Protocol errors in the response's own directives that a site owner should fix (e.g. `tdm-reservation: yes`)."""
    head = _head(response)
    return (*tdmrep.header_warnings(response), *(tdmrep.html_warnings(head) if head is not None else ()))


def page_inheritance(response: AssetResponse, agent: str) -> tuple[Signal, ...]:
    """What an HTML page passes to the media it references (`noai`/`noimageai`, docs/signals/x-robots-tag.md)."""
    head = _head(response)
    return xrobots.page_media_signals(head, response.url, agent) if head is not None else ()


def evaluate_exclusion(url: str, config: PolicyConfig, *, fetched_at: str | None) -> Decision | None:
    """The `skip` decision for a URL on an excluded domain (`CONSENT_EXCLUDED_DOMAINS`), or None. Needs no
    site file: a transport asks it before it fetches anything of the origin."""
    entry = config.excluded.match(url)
    if entry is None:
        return None
    return decide(url=url, config=config, access=Verdict.DENY, access_signal=excluded_signal(url, entry),
                  fetched_at=fetched_at)


def evaluate_refused(url: str, why: str, config: PolicyConfig, *, fetched_at: str | None) -> Decision:
    """The `skip` decision for a URL consentry refused to dial (a scheme other than http(s), or a host on a
    non-public address, docs/protocols.md "Fetch policy"): never requested, tagged `unverifiable` — nothing
    about its creator's terms could be read, and the refusal is never consent. `why` is the refusal."""
    signal = Signal(Mechanism.FETCH_POLICY, Scope.SITE, url, why, tags=(Tag.UNVERIFIABLE,))
    return decide(url=url, config=config, access=Verdict.DENY, access_signal=signal, fetched_at=fetched_at)


def evaluate_access(site: SitePolicy, url: str, config: PolicyConfig, *, fetched_at: str | None) -> Decision | None:
    """The `skip` decision for a URL the agent may not fetch (an excluded domain first, then RFC 9309), or
    None when access is allowed."""
    excluded = evaluate_exclusion(url, config, fetched_at=fetched_at)
    if excluded is not None:
        return excluded
    verdict, access_signal = site.access(url)
    if verdict is Verdict.ALLOW:
        return None
    return decide(url=url, config=config, access=verdict, access_signal=access_signal,
                  signals=site.site_signals(url), fetched_at=fetched_at)


def _response_signals(
    site: SitePolicy, response: AssetResponse, head: HtmlHead | None, *, agent: str,
    linked: Mapping[str, SiteFile], embedded_tdm: Sequence[TdmLayer],
) -> list[Signal]:
    signals = [*aipref.header_signals(response), *contentsignal.header_signals(response),
               *xrobots.header_signals(response, agent)]
    if head is not None:
        signals.extend(xrobots.meta_signals(head, response.url, agent))
    for url, scope in _rsl_links(response):
        document = rsl.RslDocument.parse(linked.get(url) or SiteFile.absent(url))
        signals.extend(document.signals(response.url, mechanism=Mechanism.RSL, scope=scope))
    layers = [site.tdmrep.layer(response.url), tdmrep.header_layer(response),
              tdmrep.html_layer(head, response.url) if head is not None else None, *embedded_tdm]
    signals.extend(tdmrep.signals(layers))
    return signals


def evaluate_response(
    site: SitePolicy,
    response: AssetResponse,
    config: PolicyConfig,
    *,
    fetched_at: str | None,
    linked: Mapping[str, SiteFile] | None = None,
    embedded: Sequence[Signal] = (),
    embedded_tdm: Sequence[TdmLayer] = (),
) -> Decision:
    """The decision for a fetched asset: site, response, document and embedded signals combined.

    `linked` holds the documents the response points to (see `licence_urls`), as fetched; `embedded`
    the signals read from inside the asset (C2PA/CAWG, IPTC XMP); `embedded_tdm` its PDF/EPUB TDMRep.
    """
    return _evaluate_response(site, response, config, fetched_at=fetched_at, linked=linked, embedded=embedded,
                              embedded_tdm=embedded_tdm)


def _evaluate_response(
    site: SitePolicy,
    response: AssetResponse,
    config: PolicyConfig,
    *,
    fetched_at: str | None,
    linked: Mapping[str, SiteFile] | None,
    embedded: Sequence[Signal],
    embedded_tdm: Sequence[TdmLayer],
    provenance: Provenance | None = None,
) -> Decision:
    """`evaluate_response` with the asset's AI-generated label, recorded unless the decision is a `skip`."""
    head = _head(response)
    verdict, access_signal = site.access(response.url)
    restricted = restriction_signals(response)
    signals = [
        *site.site_signals(response.url),
        *_response_signals(site, response, head, agent=config.agent, linked=linked or {},
                           embedded_tdm=embedded_tdm),
        *response.inherited,
        *embedded,
        *restricted,
    ]
    decision = decide(url=response.url, config=config, access=verdict, access_signal=access_signal,
                      signals=signals, response=response, fetched_at=fetched_at, provenance=provenance)
    if not restricted:
        return decision
    tags = tuple(sorted({*decision.tags, Tag.ACCESS_RESTRICTED}, key=lambda t: t.value))
    return dataclasses.replace(decision, tags=tags)


class AssetSignalSource(Protocol):
    """Signals about an asset from outside it, e.g. the works registry (docs/signals/registry.md)."""

    def signals(self, asset: AssetResponse) -> list[Signal]:
        """The source's signals for `asset` (never raises on remote content)."""
        ...


def evaluate_asset(
    site: SitePolicy,
    asset: AssetResponse,
    config: PolicyConfig,
    *,
    fetched_at: str | None,
    documents: Mapping[str, SiteFile],
    reader: ManifestReader,
    registry: AssetSignalSource | None = None,
) -> Decision:
    """The decision for a fetched asset, its embedded signals read: the one path every transport takes.

    `documents` answers `consentry.policies.gather.asset_needs(asset, config)` (licences and remote manifests,
    by URL); `reader` reads C2PA manifest stores (injected: the core never imports c2pa); a `registry`'s
    matches join the embedded signals. The decision carries the asset's AI-generated label, and
    `CONSENT_ON_AI_GENERATED` applies to it (`consentry.policies.assets.aigenerated`).
    """
    cap = config.c2pa_max_bytes
    if config.excluded:
        linked = (*licence_urls(asset), *manifest_urls(asset, max_bytes=cap))
        documents = {**documents, **{url: excluded_file(url, entry) for url in linked
                                     if (entry := config.excluded.match(url)) is not None}}
    reading = read_embedded(asset, reader, fetched_manifests=documents, max_bytes=cap)
    found = reading.signals
    if registry is not None:
        found += registry.signals(asset)
    decision = _evaluate_response(site, asset, config, fetched_at=fetched_at, linked=documents, embedded=found,
                                  embedded_tdm=embedded_layers(asset, max_bytes=cap),
                                  provenance=reading.provenance)
    if decision.action is Action.SKIP:
        return decision
    return apply_policy(decision, config.on_ai_generated)
