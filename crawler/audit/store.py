"""Archived documents for `consentry audit`: site files, licences and manifests as captured, chosen by time.

Not pure (it holds state while a WARC streams). Keeps only small captures: every capture of a site file
(robots.txt, /ai.txt, /.well-known/tdmrep.json — RFC 9309 §2.3, Spawning ai.txt, W3C TDMRep), of a document some asset
or robots.txt named (RSL 1.0 licences, remote C2PA manifests — C2PA 2.2 §15.5.3), of their redirect hops, and a
short window of recent small responses (a document may be archived before anything names it). With the
first pass's index (`consentry.crawler.audit.index`), site files and the documents they name come from every
input file and are not held in memory.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from consentry.crawler.audit.readers.archive import Capture, sortable_date
from consentry.crawler.audit.records import FetchFailure
from consentry.policies.evaluate import SITE_FILE_PATHS
from consentry.policies.model import MAX_REDIRECTS, SiteFile
from consentry.policies.robots.policy import RobotsPolicy

__all__ = ["DocCapture", "DocumentStore", "Resolved", "is_site_file"]

_RECENT = 128
_MEMO = 4096
_SITE_PATHS = frozenset(SITE_FILE_PATHS.values())


def is_site_file(url: str) -> bool:
    """Whether `url` is one of an origin's site files (by path, no query)."""
    if not any(path in url for path in _SITE_PATHS):  # the common case, without parsing the URL
        return False
    parts = urlsplit(url)
    return parts.path in _SITE_PATHS and not parts.query


@dataclass(frozen=True, slots=True)
class DocCapture:
    """One archived capture of a document, body already capped."""

    date: str
    record_id: str
    status: int
    location: str | None
    body: bytes
    content_type: str
    problems: tuple[str, ...]
    failure: str | None = None  # the fetch failed (no response): the detail the crawl's evidence used


@dataclass(frozen=True, slots=True)
class Resolved:
    """A document as archived at a moment: the `SiteFile`, a cache key, and notes for the auditor."""

    site_file: SiteFile
    key: tuple[str, ...]
    archived: bool
    notes: tuple[str, ...] = ()
    unverifiable: bool = False


@dataclass
class DocumentStore:
    """Every small archived document that a decision may depend on, per URL, sorted by WARC-Date."""

    max_bytes: int
    agent: str
    captures: dict[str, list[DocCapture]] = field(default_factory=dict)
    wanted: set[str] = field(default_factory=set)
    recent: OrderedDict[str, list[Capture]] = field(default_factory=OrderedDict)
    memo: OrderedDict[tuple[object, ...], Resolved] = field(default_factory=OrderedDict)
    generation: int = 0  # bumped whenever a document capture is kept
    index: Any = None  # an `ArchiveIndex`: the captures of every input, read on demand

    def _list(self, url: str) -> list[DocCapture] | None:
        """Every capture of `url`: kept while streaming and, with an index, indexed from every input."""
        own = self.captures.get(url)
        if self.index is None:
            return own
        indexed: list[DocCapture] = self.index.captures(url)
        if not own:
            return indexed
        ids = {d.record_id for d in indexed}
        extra = [d for d in own if d.record_id not in ids]
        return sorted([*indexed, *extra], key=lambda d: (d.date, d.record_id)) if extra else indexed

    def _doc(self, capture: Capture) -> DocCapture:
        return DocCapture(
            sortable_date(capture.date),
            capture.record_id,
            capture.status,
            capture.location,
            capture.body[: self.max_bytes + 1],
            capture.content_type,
            tuple(capture.problems),
        )

    def add(self, capture: Capture) -> bool:
        """Keep `capture` if it is (or may become) a document; True when it is a known document."""
        url = capture.url
        if self.index is not None and (is_site_file(url) or self.index.is_document(url)):
            return True  # indexed by the first pass
        if is_site_file(url) or url in self.wanted:
            self._keep(url, self._doc(capture))
            return True
        if len(capture.body) <= self.max_bytes:  # made a `DocCapture` only if it becomes a document
            self.recent.setdefault(url, []).append(capture)
            self.recent.move_to_end(url)
            while len(self.recent) > _RECENT:
                self.recent.popitem(last=False)
        return False

    def add_failure(self, failure: FetchFailure) -> None:
        """Keep a document fetch that failed outright: it resolves, like at crawl time, to unreachable."""
        if self.index is not None and is_site_file(failure.url):
            return
        self._keep(failure.url, DocCapture(sortable_date(failure.date), failure.record_id, 0, None, b"", "", (),
                                           failure.detail))

    def _keep(self, url: str, doc: DocCapture) -> None:
        self.generation += 1
        found = self.captures.setdefault(url, [])
        bisect.insort(found, doc, key=lambda d: (d.date, d.record_id))
        if doc.location:
            self.want([urljoin(url, doc.location)])
        if urlsplit(url).path == SITE_FILE_PATHS["robots"] and doc.status == 200:
            site_file = SiteFile.from_http(url, 200, doc.body, max_bytes=self.max_bytes)
            self.want(RobotsPolicy.parse(site_file, self.agent).license_urls)

    def want(self, urls: tuple[str, ...] | list[str]) -> None:
        """Remember that `urls` are documents (licences, manifests): keep their captures from now on."""
        for url in urls:
            if url in self.wanted:
                continue
            self.wanted.add(url)
            for capture in self.recent.pop(url, []):
                self._keep(url, self._doc(capture))

    def _pick(self, url: str, anchor: str) -> tuple[DocCapture | None, bool]:
        found = self._list(url)
        if not found:
            return None, False
        before = bisect.bisect_right(found, anchor, key=lambda d: d.date)
        return (found[before - 1], False) if before else (found[0], True)

    def floor(self, urls: list[str]) -> str:
        """The (sortable) date from which resolving any of `urls` reads the latest captures, so the same ones."""
        dates = [""]
        for url in urls:
            target = url
            for _ in range(MAX_REDIRECTS + 1):
                found = self._list(target)
                if not found:
                    break
                dates.append(found[-1].date)
                if found[-1].location is None:
                    break
                target = urljoin(target, found[-1].location)
        return max(dates)

    def resolve(self, url: str, anchor: str) -> Resolved:
        """`url` as archived at `anchor`: the latest capture at or before it, redirect hops followed (≤ 5)."""
        anchor = sortable_date(anchor)
        chain: list[tuple[str, DocCapture, bool]] = []
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            doc, later = self._pick(target, anchor)
            if doc is None:
                break
            chain.append((target, doc, later))
            if doc.location is None:
                break
            target = urljoin(target, doc.location)
        # A capture's record id and date name the document this resolution reads.
        memo_key = (url, target, *((d.record_id, d.date, d.status, later) for _, d, later in chain))
        resolved = self.memo.get(memo_key)
        if resolved is None:
            resolved = self.memo[memo_key] = self._resolved(url, target, chain)
            while len(self.memo) > _MEMO:
                self.memo.popitem(last=False)
        return resolved

    def _resolved(self, url: str, target: str, chain: list[tuple[str, DocCapture, bool]]) -> Resolved:
        key, notes = [url], []
        for hop, doc, later in chain:
            key.append(doc.record_id)
            if later:
                notes.append(f"{hop}: only a capture made after the decision is archived ({doc.date})")
            notes.extend(f"{hop}: {p}" for p in doc.problems)
        last = chain[-1][1] if chain else None
        if last is None or (last.location is not None and len(chain) <= MAX_REDIRECTS):
            note = f"{target} not archived" + (f" (redirected from {url})" if target != url else "")
            return Resolved(SiteFile.absent(url), (*key, "absent"), False, (note,), True)
        if last.failure is not None:
            return Resolved(SiteFile.from_error(url, last.failure), tuple(key), True, tuple(notes), bool(notes))
        if last.location is None:
            site_file = SiteFile.from_http(
                url, last.status, last.body, content_type=last.content_type, max_bytes=self.max_bytes
            )
            return Resolved(site_file, tuple(key), True, tuple(notes), bool(notes))
        site_file = SiteFile.from_error(url, f"more than {MAX_REDIRECTS} redirects")
        return Resolved(site_file, tuple(key), True, tuple(notes), bool(notes))
