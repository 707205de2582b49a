"""What a decision needs, step by step: the one gathering path of every transport (docs/architecture.md).

Pure, in h11's "bring your own I/O" style: the core says which documents it needs, a transport (the Scrapy
engine, httpx for `check`, the WARC archive for `audit`) answers with `SiteFile` values, and the core asks again
until nothing is missing. The steps are fixed:

1. an origin's site files — robots.txt (RFC 9309 §2.3), /ai.txt (Spawning ai.txt), /.well-known/tdmrep.json
   (W3C TDMRep §3.2);
2. the RSL licences that robots.txt names with `License:` lines (RSL 1.0, robots.txt discovery);
3. for a fetched response, the licences it links (`Link: rel="license"` — RFC 8288 — and HTML
   `<link rel="license">`) and its remote C2PA manifests (`Link: rel="c2pa-manifest"`, XMP `dcterms:provenance`;
   C2PA 2.2 §15.5.3 "External manifests").

Transports never decide what to fetch themselves: three transports over the same inputs ask for exactly the
same documents (a test holds them to it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from consentry.policies.assets.embedded import manifest_urls
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import SiteDocuments, SitePolicy, licence_urls, site_file_urls
from consentry.policies.model import AssetResponse, SiteFile

__all__ = [
    "Answer",
    "DocumentKind",
    "Need",
    "asset_needs",
    "gather_site",
    "licence_needs",
    "site_from_files",
    "site_needs",
]


class DocumentKind(enum.StrEnum):
    """What a needed document is (transports label fetches, statistics and archive records with it)."""

    ROBOTS = "robots"
    AI_TXT = "ai_txt"
    TDMREP = "tdmrep"
    LICENCE = "licence"
    MANIFEST = "manifest"


@dataclass(frozen=True, slots=True)
class Need:
    """One document the core needs before it can decide: fetch (or look up) `url` and answer a `SiteFile`."""

    url: str
    kind: DocumentKind


#: An answer to needs: every needed URL mapped to its `SiteFile` (an unreachable fetch is a value too).
Answer = Callable[[Sequence[Need]], Mapping[str, SiteFile]]


def site_needs(origin: str) -> tuple[Need, ...]:
    """Step 1: the site files of `origin`."""
    return tuple(Need(url, DocumentKind(kind)) for kind, url in site_file_urls(origin).items())


def site_from_files(origin: str, files: Mapping[str, SiteFile], agent: str) -> SitePolicy:
    """The origin's policy from the answers to `site_needs(origin)` (keyed by URL); licences still needed.

    The returned policy's `needs` lists the licences robots.txt names (step 2); answer them with
    `SitePolicy.receive`.
    """
    urls = site_file_urls(origin)
    found = {kind: files.get(url) or SiteFile.absent(url) for kind, url in urls.items()}
    documents = SiteDocuments(origin, found["robots"], found["ai_txt"], found["tdmrep"])
    return SitePolicy.build(documents, agent)


def licence_needs(policy: SitePolicy) -> tuple[Need, ...]:
    """Step 2: the licences robots.txt names that the policy has not received yet."""
    have = policy.documents.licences
    return tuple(Need(url, DocumentKind.LICENCE) for url in policy.licence_urls if url not in have)


def gather_site(origin: str, agent: str, answer: Answer) -> SitePolicy:
    """Drive steps 1 and 2 with a synchronous transport's `answer`; the complete policy of `origin`."""
    policy = site_from_files(origin, answer(site_needs(origin)), agent)
    needs = licence_needs(policy)
    if needs:
        policy = policy.with_licences(answer(needs), agent)
    return policy


def asset_needs(asset: AssetResponse, config: PolicyConfig) -> tuple[Need, ...]:
    """Step 3: the licences and remote manifests a fetched response names, each URL once; none on an excluded
    domain (`evaluate_asset` answers those itself: never fetched)."""
    needs = [Need(url, DocumentKind.LICENCE) for url in licence_urls(asset)]
    seen = {need.url for need in needs}
    needs += [Need(url, DocumentKind.MANIFEST) for url in manifest_urls(asset, max_bytes=config.c2pa_max_bytes)
              if url not in seen]
    return tuple(need for need in needs if config.excluded.match(need.url) is None)
