"""The replay behind `consentry audit`: archived documents → the one evaluation core → compared decisions.

Transport for DESIGN.md "Rule of one path" (SPECS §14.2, §8.3): site files, licences and manifests come from
the WARC as archived at decision time (`crawler.auditstore`), the page-inherited `noai`/`noimageai` from the
archived referring page (the request record's Referer), and `policies.evaluate` / `middlewares.embedded`
decide. A response waits for its decision record (or, in a foreign WARC, for a window of later records).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag

from crawler.auditcompare import differences, policy_from_decision, policy_from_warcinfo
from crawler.auditstore import DocumentStore, Resolved
from crawler.warcreplay import Capture, Damage, DecisionEntry, Info, RequestEntry
from middlewares.embedded import evaluate_asset, manifest_urls
from middlewares.warc import POLICY_FIELD
from policies.config import PolicyConfig
from policies.evaluate import SitePolicy, evaluate_access, is_html, licence_urls, origin_of, page_inheritance
from policies.model import AssetResponse, Signal
from policies.record import Decision, ResponseSummary
from policies.vocabulary import Tag

__all__ = ["AuditOptions", "RecordResult", "Replayer"]

_WINDOW = 256
_PAGES = 4096


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """How to replay: a policy override, trust anchors, and the body cap (None: the policy's C2PA cap + 1)."""

    config: PolicyConfig | None = None
    trust_anchors_pem: str | None = None
    body_cap: int | None = None
    fetch_missing: bool = False


@dataclass(slots=True)
class RecordResult:
    """One audited decision: the archived record (if any), the replay (None: access allowed, nothing to judge)."""

    url: str
    warc_record_id: str
    date: str
    archived: dict[str, Any] | None
    replayed: Decision | None
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unverifiable: bool = False

    @property
    def match(self) -> bool | None:
        """Whether the archived decision equals the replay; None when nothing was archived."""
        return None if self.archived is None else not self.differences

    def to_json(self, warc: str) -> dict[str, Any]:
        """The `--json` element."""
        return {
            "url": self.url,
            "warc": warc,
            "warc_record_id": self.warc_record_id,
            "date": self.date,
            "archived": self.archived,
            "replayed": self.replayed.to_record() if self.replayed else None,
            "match": self.match,
            "differences": self.differences,
            "unverifiable": self.unverifiable,
            "notes": self.notes,
        }


@dataclass(slots=True)
class _Pending:
    capture: Capture
    seen: int
    referer: str | None = None
    damaged: list[str] = field(default_factory=list)


def _seconds(date: str) -> str:
    return date[:19] + "Z" if len(date) >= 19 else date


class Replayer:
    """Feeds on `crawler.warcreplay` values; calls `emit` with a `RecordResult` per decision."""

    def __init__(
        self, options: AuditOptions, emit: Callable[[RecordResult], None], fetcher: Any = None
    ) -> None:
        self.options = options
        self.emit = emit
        self.fetcher = fetcher
        self.override = options.config
        self.crawl_config: PolicyConfig | None = None
        self.ours = False
        self.notes: list[str] = []
        default = options.config or PolicyConfig()
        self.store = DocumentStore(default.max_sitefile_bytes, default.agent)
        self.pending: OrderedDict[str, _Pending] = OrderedDict()
        self.orphans: OrderedDict[str, RecordResult] = OrderedDict()
        self.pages: OrderedDict[str, tuple[str, tuple[Signal, ...], frozenset[str]]] = OrderedDict()
        self.redirected_from: OrderedDict[str, str] = OrderedDict()
        self.sites: OrderedDict[tuple[Any, ...], SitePolicy] = OrderedDict()
        self.count = 0
        self.stats = {"responses": 0, "documents": 0, "redirect hops": 0, "damaged": 0}

    # -- feeding ---------------------------------------------------------------------------------
    def feed(self, item: Info | Capture | RequestEntry | DecisionEntry | Damage) -> None:
        """Take the next value read from the WARC."""
        self.count += 1
        handler = {
            Info: self._info,
            Capture: self._capture,
            RequestEntry: self._request,
            DecisionEntry: self._decision,
            Damage: self._damage,
        }[type(item)]
        handler(item)
        while self.pending and self.count - next(iter(self.pending.values())).seen > _WINDOW:
            self._expire(self.pending.popitem(last=False)[1])

    def finish(self) -> None:
        """End of file: judge whatever still waits."""
        while self.pending:
            self._expire(self.pending.popitem(last=False)[1])
        while self.orphans:
            self._orphan(self.orphans.popitem(last=False)[1])

    def _info(self, info: Info) -> None:
        self.ours = self.ours or info.fields.get("software", "").startswith("consentry")
        text = info.fields.get(POLICY_FIELD)
        if text:
            config, problem = policy_from_warcinfo(text)
            self.crawl_config = config or self.crawl_config
            if problem:
                self.notes.append(problem)

    def _capture(self, capture: Capture) -> None:
        self.stats["responses"] += 1
        if self.store.add(capture):
            self.stats["documents"] += 1
            return
        if capture.location:
            self.stats["redirect hops"] += 1
            self.redirected_from[capture.location] = self.redirected_from.get(capture.url, capture.url)
            _trim(self.redirected_from, _PAGES)
            return
        if capture.record_id in self.pending:  # a duplicate WARC-Record-ID: judge the first one now
            self._expire(self.pending.pop(capture.record_id))
        self.pending[capture.record_id] = _Pending(capture, self.count)
        self._want(capture, self._config(None))

    def _want(self, capture: Capture, config: PolicyConfig) -> None:
        asset = AssetResponse(capture.url, capture.status, capture.headers, capture.body)
        self.store.want([*licence_urls(asset), *manifest_urls(asset, max_bytes=config.c2pa_max_bytes)])

    def _request(self, entry: RequestEntry) -> None:
        pending = self.pending.get(entry.concurrent_to or "")
        if pending is not None:
            pending.referer = entry.referer

    def _damage(self, damage: Damage) -> None:
        self.stats["damaged"] += 1
        pending = self.pending.get(damage.previous_record_id or "")
        if pending is not None:
            pending.damaged.append(damage.message)
        else:
            self.notes.append(damage.message)

    def _decision(self, entry: DecisionEntry) -> None:
        self.ours = True
        record = entry.record
        config = self._config(record)
        if entry.problem or record is None:
            result = RecordResult(
                entry.url,
                entry.record_id,
                entry.date,
                {},
                None,
                [entry.problem or "no record"],
                unverifiable=True,
            )
            self.emit(result)
            return
        target = entry.concurrent_to
        if target is None:
            self.emit(self._compare(self._skip(entry, config), record))
        elif (pending := self.pending.pop(target, None)) is not None:
            self.emit(self._compare(self._judge(pending, entry.date, config), record))
        elif (orphan := self.orphans.pop(target, None)) is not None:
            self.emit(self._compare(orphan, record))
        else:
            note = f"the response {target} this decision judged is not in the archive (or was unreadable)"
            self.emit(
                RecordResult(entry.url, target, entry.date, record, None, [], [note], unverifiable=True)
            )

    def _expire(self, pending: _Pending) -> None:
        result = self._judge(pending, pending.capture.date, self._config(None))
        if not self.ours:
            self.emit(_tagged(result))
            return
        self.orphans[pending.capture.record_id] = result
        while len(self.orphans) > _PAGES:
            self._orphan(self.orphans.popitem(last=False)[1])

    def _orphan(self, result: RecordResult) -> None:
        result.notes.append("no decision archived for this response")
        self.emit(_tagged(result))

    # -- evaluation ------------------------------------------------------------------------------
    def _config(self, record: dict[str, Any] | None) -> PolicyConfig:
        if self.override is not None:
            return self.override
        if self.crawl_config is not None:
            return self.crawl_config
        inferred = policy_from_decision(record) if record else None
        return inferred or PolicyConfig()

    def _resolve(self, url: str, anchor: str) -> Resolved:
        resolved = self.store.resolve(url, anchor)
        if resolved.archived or self.fetcher is None:
            return resolved
        fetched = self.fetcher.site_file(url, self.store.max_bytes)
        note = f"{url} not archived: today's copy fetched (NOT as of crawl time: {fetched.describe()})"
        return Resolved(fetched, (url, "fetched"), False, (note,), True)

    def _site(self, url: str, anchor: str, config: PolicyConfig) -> tuple[SitePolicy, list[str], bool, bool]:
        from policies.evaluate import SiteDocuments, site_file_urls

        origin = origin_of(url)
        files = {kind: self._resolve(u, anchor) for kind, u in site_file_urls(origin).items()}
        key: tuple[Any, ...] = (origin, config.agent, *(f.key for f in files.values()))
        site = self.sites.get(key)
        if site is None:
            docs = SiteDocuments(origin, *(files[k].site_file for k in ("robots", "ai_txt", "tdmrep")))
            site = self.sites[key] = SitePolicy.build(docs, config.agent)
            _trim(self.sites, 256)
        notes = [n for f in files.values() for n in f.notes]
        unverifiable = not files["robots"].archived or any(f.unverifiable for f in files.values())
        if site.licence_urls:
            licences = {u: self._resolve(u, anchor) for u in site.licence_urls}
            site = site.with_licences({u: r.site_file for u, r in licences.items()}, config.agent)
            notes += [n for r in licences.values() for n in r.notes]
        return site, notes, unverifiable, files["robots"].archived

    def _skip(self, entry: DecisionEntry, config: PolicyConfig) -> RecordResult:
        site, notes, unverifiable, _ = self._site(entry.url, entry.date, config)
        decision = evaluate_access(site, entry.url, config, fetched_at=_seconds(entry.date))
        return RecordResult(
            entry.url, entry.record_id, entry.date, None, decision, notes=notes, unverifiable=unverifiable
        )

    def _inherited(self, pending: _Pending, agent: str) -> tuple[Signal, ...]:
        page = self.pages.get(pending.referer or "")
        url = pending.capture.url
        if page is None or page[0] != agent:
            return ()
        return page[1] if url in page[2] or self.redirected_from.get(url) in page[2] else ()

    def _judge(self, pending: _Pending, anchor: str, config: PolicyConfig) -> RecordResult:
        capture = pending.capture
        site, notes, unverifiable, robots_archived = self._site(capture.url, anchor, config)
        fetched_at = _seconds(capture.date)
        decision = evaluate_access(site, capture.url, config, fetched_at=fetched_at)
        if decision is not None:
            notes.append(
                "access denied by the archived robots.txt, yet the response was fetched"
                if robots_archived
                else "robots.txt not archived: access cannot be verified (counted as a would-be skip)"
            )
        else:
            asset = AssetResponse(
                capture.url,
                capture.status,
                capture.headers,
                capture.body,
                self._inherited(pending, config.agent),
            )
            decision, more = self._evaluate(site, asset, anchor, config, fetched_at)
            notes += more
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
            notes=[*problems, *notes],
            unverifiable=unverifiable or bool(problems),
        )

    def _evaluate(
        self, site: SitePolicy, asset: AssetResponse, anchor: str, config: PolicyConfig, fetched_at: str
    ) -> tuple[Decision, list[str]]:
        cap = config.c2pa_max_bytes
        linked = {u: self._resolve(u, anchor) for u in licence_urls(asset)}
        manifests = {u: self._resolve(u, anchor) for u in manifest_urls(asset, max_bytes=cap)}
        decision = evaluate_asset(
            site,
            asset,
            config,
            fetched_at=fetched_at,
            linked={u: r.site_file for u, r in linked.items()},
            manifests={u: r.site_file for u, r in manifests.items()},
            trust_anchors_pem=self.options.trust_anchors_pem,
        )
        return decision, [n for r in (*linked.values(), *manifests.values()) for n in r.notes]

    def _remember_page(self, asset: AssetResponse, agent: str) -> None:
        if not is_html(asset):
            return
        signals = page_inheritance(asset, agent)
        if signals:
            self.pages[asset.url] = (agent, signals, _media_urls(asset))
            _trim(self.pages, _PAGES)

    def _compare(self, result: RecordResult, archived: dict[str, Any]) -> RecordResult:
        result.archived = archived
        if result.replayed is None:
            result.differences = [
                f"access: archived {archived.get('access')}, replay allow (robots.txt as "
                "archived lets this URL be fetched; no response to judge)"
            ]
            return result
        found, notes = differences(archived, result.replayed.to_record())
        result.differences, result.notes = found, [*result.notes, *notes]
        return result


def _tagged(result: RecordResult) -> RecordResult:
    """A replay with no archived decision to compare carries `unverifiable` when its inputs were not all archived."""
    decision = result.replayed
    if result.unverifiable and decision is not None and Tag.UNVERIFIABLE not in decision.tags:
        tags = tuple(sorted({*decision.tags, Tag.UNVERIFIABLE}, key=lambda t: t.value))
        result.replayed = dataclasses.replace(decision, tags=tags)
    return result


def _trim(mapping: OrderedDict[Any, Any], size: int) -> None:
    while len(mapping) > size:
        mapping.popitem(last=False)


def _media_urls(asset: AssetResponse) -> frozenset[str]:
    """The media a page references, found the way the crawl's spider finds them (SPECS §8.3)."""
    from scrapy.http import HtmlResponse

    from crawler.spiders.assets import _MEDIA_XPATH, _SRCSET_XPATH, _is_media, _srcset_urls

    response = HtmlResponse(url=asset.url, body=asset.body, headers=dict(asset.headers))
    found = [*response.xpath(_MEDIA_XPATH).getall(), *_srcset_urls(response.xpath(_SRCSET_XPATH).getall())]
    urls = {urldefrag(response.urljoin(s.strip()))[0] for s in found}
    hrefs = (urldefrag(response.urljoin(h.strip()))[0] for h in response.xpath("//a/@href").getall())
    return frozenset(urls | {h for h in hrefs if _is_media(h)})
