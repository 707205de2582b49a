"""The evaluation half of `consentry audit`: archived documents answer the core's needs, the core decides.

The WARC transport of the one gathering path (docs/architecture.md): `consentry.policies.gather` says which
documents a decision needs; `consentry.crawler.audit.store` answers with the capture archived at decision
time; page-inherited `noai`/`noimageai` come from the archived referring page; `consentry.policies.evaluate`
decides and `consentry.crawler.audit.compare` compares. Holds state (memos), so not pure.

A foreign archive (one consentry did not write) is judged on what it shows: a site file its crawler never
fetched is "not archived" — read as absent (RFC 9309 §2.3.1.3: no restrictions), the replay tagged
`not-archived`, and when it is robots.txt the record's access is `unverified` (docs/decision-record.md) — so
every response-level and embedded signal is still evaluated. A damaged capture stays unverifiable, and
consentry's own archives keep the strict reading: a missing site file makes the replay unverifiable.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any
from urllib.parse import urldefrag, urlsplit

from consentry.crawler.audit.compare import differences, policy_from_decision
from consentry.crawler.audit.records import authority, sortable_date
from consentry.crawler.audit.result import AuditOptions, Pending, RecordResult, seconds
from consentry.crawler.audit.store import DocumentStore, Resolved
from consentry.middlewares.adapters.addresses import REFUSAL_PREFIX
from consentry.middlewares.adapters.manifestreader import C2paReader
from consentry.middlewares.adapters.registry import Registry
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import (
    SITE_FILE_PATHS,
    SitePolicy,
    evaluate_access,
    evaluate_asset,
    evaluate_refused,
    is_html,
    origin_of,
    page_inheritance,
)
from consentry.policies.gather import Need, asset_needs, licence_needs, site_from_files, site_needs
from consentry.policies.model import AssetResponse, FetchStatus, Signal, SiteFile
from consentry.policies.record import Decision, ResponseSummary
from consentry.policies.withhold import withheld_before_download

__all__ = ["PAGES", "Judge", "trim"]

PAGES = 4096
_SITE_FILE_NAMES = {path: name for name, path in SITE_FILE_PATHS.items()}
_Site = tuple[SitePolicy, list[str], bool, bool, tuple[str, ...]]


def trim(mapping: OrderedDict[Any, Any], size: int) -> None:
    """Drop the oldest entries of `mapping` beyond `size`."""
    while len(mapping) > size:
        mapping.popitem(last=False)


class Judge:
    """Replays one response or skip against the archived documents; compares with the archived record."""

    def __init__(self, options: AuditOptions, fetcher: Any = None) -> None:
        self.options = options
        self.fetcher = fetcher
        self.registry = Registry.open(options.registry_path) if options.registry_path else None
        self.reader = C2paReader(options.trust_anchors_pem)
        self.override = options.config
        self.crawl_config: PolicyConfig | None = None
        self.default = options.config or PolicyConfig()
        self.store = DocumentStore(self.default.max_sitefile_bytes, self.default.agent)
        self.pages: OrderedDict[str, tuple[str, tuple[Signal, ...], frozenset[str]]] = OrderedDict()
        self.redirected_from: OrderedDict[str, str] = OrderedDict()
        self.sites: OrderedDict[tuple[Any, ...], SitePolicy] = OrderedDict()
        self.latest: OrderedDict[tuple[str, str, int, bool], tuple[str, _Site]] = OrderedDict()
        self.origins: dict[str, str] = {}
        self.foreign = False  # the archive being replayed was not written by consentry

    def close(self) -> None:
        """Close the works registry opened for this file's audit."""
        if self.registry is not None:
            self.registry.close()

    def config(self, record: dict[str, Any] | None) -> PolicyConfig:
        """The policy to replay `record` under: `--agent`/`--purpose` override, the crawl's, or the record's."""
        if self.override is not None:
            return self.override
        if self.crawl_config is not None:
            return self.crawl_config
        inferred = policy_from_decision(record) if record else None
        return inferred or self.default

    def _resolve(self, url: str, anchor: str) -> Resolved:
        resolved = self.store.resolve(url, anchor)
        if resolved.archived:
            return resolved
        if self.fetcher is None:
            return self._not_archived(resolved) if self.foreign else resolved
        fetched = self.fetcher.site_file(url, self.store.max_bytes)
        note = f"{url} not archived: today's copy fetched (NOT as of crawl time: {fetched.describe()})"
        return Resolved(fetched, (url, "fetched"), False, (note,), True)

    @staticmethod
    def _not_archived(resolved: Resolved) -> Resolved:
        """A document a foreign crawler never fetched: absent (no statement), tagged, not unverifiable."""
        if resolved.site_file.detail != "not fetched":
            return resolved
        url = resolved.site_file.url
        site_file = SiteFile(url=url, status=FetchStatus.UNAVAILABLE, detail="not archived")
        return Resolved(site_file, (*resolved.key, "foreign"), False, resolved.notes, False)

    def _site(self, url: str, anchor: str, config: PolicyConfig) -> _Site:
        """The site's policy as archived at `anchor`; memoised while no document arrives, for anchors that
        read the latest captures of every site file and licence (the usual case: they were fetched first)."""
        where = authority(url)
        origin = self.origins.get(where)
        if origin is None:
            if len(self.origins) > PAGES:
                self.origins.clear()
            origin = self.origins[where] = origin_of(url)
        key = (origin, config.agent, self.store.generation, self.foreign)
        when = sortable_date(anchor)
        memo = self.latest.get(key) if self.fetcher is None else None
        if memo is not None and when >= memo[0]:
            site, notes, unverifiable, robots, missing = memo[1]
            return site, list(notes), unverifiable, robots, missing
        found = self._site_at(origin, anchor, config)
        if self.fetcher is None:
            floor = self.store.floor([*(n.url for n in site_needs(origin)), *found[0].licence_urls])
            if when >= floor:
                self.latest[key] = (floor, found)
                trim(self.latest, 256)
        return found[0], list(found[1]), found[2], found[3], found[4]

    def _site_at(self, origin: str, anchor: str, config: PolicyConfig) -> _Site:
        needs = site_needs(origin)
        files = self._answer(needs, anchor)
        key: tuple[Any, ...] = (origin, config.agent, *(f.key for f in files.values()))
        site = self.sites.get(key)
        if site is None:
            site = site_from_files(origin, {u: r.site_file for u, r in files.items()}, config.agent)
            self.sites[key] = site
            trim(self.sites, 256)
        notes = [n for f in files.values() for n in f.notes]
        robots = files[needs[0].url]
        missing = tuple(
            _SITE_FILE_NAMES.get(urlsplit(u).path, u) for u, f in files.items() if f.key[-1] == "foreign"
        )
        unverifiable = (not robots.archived and not missing) or any(f.unverifiable for f in files.values())
        more = licence_needs(site)
        if more:
            licences = self._answer(more, anchor)
            site = site.with_licences({u: r.site_file for u, r in licences.items()}, config.agent)
            notes += [n for r in licences.values() for n in r.notes]
        return site, notes, unverifiable, robots.archived, missing

    def _answer(self, needs: tuple[Need, ...], anchor: str) -> dict[str, Resolved]:
        """The core's needs answered with the captures archived at `anchor` (or fetched with --fetch-missing)."""
        return {need.url: self._resolve(need.url, anchor) for need in needs}

    def skip(self, url: str, record_id: str, date: str, config: PolicyConfig) -> RecordResult:
        """Replay a decision taken without a response: the crawl's archived refusal to dial the URL (fetch
        policy), else a `skip` (access as robots.txt was archived at `date`) or a `drop` withheld before
        download (the site files as archived at `date` deny every declared purpose: `consentry.policies.withhold`)."""
        own = self.store.resolve(url, date)
        if own.archived and own.site_file.detail.startswith(REFUSAL_PREFIX):
            refused = evaluate_refused(url, own.site_file.detail, config, fetched_at=seconds(date))
            note = "not dialled by the crawl's fetch policy (archived refusal; the address it resolved to is not"
            return RecordResult(url, record_id, date, None, refused, notes=[f"{note} archived)"])
        site, notes, unverifiable, _, _ = self._site(url, date, config)
        when = seconds(date)
        decision = evaluate_access(site, url, config, fetched_at=when) or withheld_before_download(
            site, url, config, fetched_at=when)
        return RecordResult(url, record_id, date, None, decision, notes=notes, unverifiable=unverifiable)

    def _inherited(self, pending: Pending, agent: str) -> tuple[Signal, ...]:
        page = self.pages.get(pending.referer or "")
        url = pending.capture.url
        if page is None or page[0] != agent:
            return ()
        return page[1] if url in page[2] or self.redirected_from.get(url) in page[2] else ()

    def judge(self, pending: Pending, anchor: str, config: PolicyConfig) -> RecordResult:
        """Replay the decision for an archived response, with the documents archived at `anchor`."""
        capture = pending.capture
        site, notes, unverifiable, robots_archived, missing = self._site(capture.url, anchor, config)
        fetched_at = seconds(capture.date)
        decision = evaluate_access(site, capture.url, config, fetched_at=fetched_at)
        denied_fetched = decision is not None and robots_archived
        if decision is not None:
            notes.append(
                "access denied by the archived robots.txt, yet the response was fetched"
                if robots_archived
                else "robots.txt not archived: access cannot be verified (counted as a would-be skip)"
            )
        else:
            inherited = self._inherited(pending, config.agent)
            asset = pending.asset
            if asset is None or inherited:
                asset = AssetResponse(capture.url, capture.status, capture.headers, capture.body, inherited)
            decision, more = self._evaluate(site, asset, pending, anchor, config)
            notes += more
            if "robots" in missing:
                notes.append("robots.txt not archived (foreign archive): access unverified; response-level "
                             "and embedded signals evaluated")
            self._remember_page(asset, config.agent)
        if capture.full_sha256 and decision.response is not None:
            summary = ResponseSummary(
                capture.status, decision.response.content_type, capture.full_length or 0, capture.full_sha256
            )
            decision = dataclasses.replace(decision, response=summary)
        problems = [*capture.problems, *pending.damaged]
        return RecordResult(
            capture.url,
            capture.record_id,
            capture.date,
            None,
            decision,
            notes=[*problems, *capture.remarks, *notes],
            unverifiable=unverifiable or bool(problems),
            denied_fetched=denied_fetched,
            unverified_access="robots" in missing,
            not_archived=missing,
        )

    def needs(self, asset: AssetResponse, config: PolicyConfig) -> tuple[int, tuple[Need, ...]]:
        """What the core will need to judge `asset` under `config` (licences, remote manifests), with the cap
        it depends on, so the store keeps those documents while the WARC streams."""
        return config.c2pa_max_bytes, asset_needs(asset, config)

    def _evaluate(
        self, site: SitePolicy, asset: AssetResponse, pending: Pending, anchor: str, config: PolicyConfig
    ) -> tuple[Decision, list[str]]:
        wanted = pending.wanted
        if wanted is None or wanted[0] != config.c2pa_max_bytes:
            wanted = self.needs(asset, config)
        documents = self._answer(wanted[1], anchor) if wanted[1] else {}
        decision = evaluate_asset(
            site,
            asset,
            config,
            fetched_at=seconds(pending.capture.date),
            documents={u: r.site_file for u, r in documents.items()},
            reader=self.reader,
            registry=self.registry,
        )
        return decision, [n for r in documents.values() for n in r.notes]

    def _remember_page(self, asset: AssetResponse, agent: str) -> None:
        if not is_html(asset):
            return
        signals = page_inheritance(asset, agent)
        if signals:
            self.pages[asset.url] = (agent, signals, _media_urls(asset))
            trim(self.pages, PAGES)

    def compare(self, result: RecordResult, archived: dict[str, Any]) -> RecordResult:
        """`result` with the archived record, its differences from the replay and the comparison's notes."""
        result.archived = archived
        replayed = result.replayed_record()
        if replayed is None:
            result.differences = [
                f"access: archived {archived.get('access')}, replay allow (robots.txt as "
                "archived lets this URL be fetched; no response to judge)"
            ]
            return result
        found, notes = differences(archived, replayed)
        result.differences = found
        if notes:
            result.notes = [*result.notes, *notes]
        return result


def _media_urls(asset: AssetResponse) -> frozenset[str]:
    """The media a page references, found the way the crawl's spider finds them (docs/signals/x-robots-tag.md
    "Page to media")."""
    from scrapy.http import HtmlResponse

    from consentry.crawler.spiders.assets import page_links

    response = HtmlResponse(url=asset.url, body=asset.body, headers=dict(asset.headers))
    return frozenset(urldefrag(url)[0] for url, media in page_links(response) if media)
