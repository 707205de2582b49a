"""The replay behind `consentry audit`: WARC values in, one `RecordResult` per archived or replayed decision out.

Pairs what the archive holds: a response waits for its decision record (or, in a foreign WARC, for a window of
later records), and a decision record is compared with the replay of the response it judged. Documents go to
the store; the judging itself is `consentry.crawler.audit.judge.Judge`'s. A revisit record (WARC 1.1 §6.7) is
replayed with the payload of the capture it refers to when an input holds it (the first pass's index), else
reported as a revisit whose original is absent.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from consentry.crawler.audit.judge import PAGES, Judge, trim
from consentry.crawler.audit.readers.archive import Capture, Damage, DecisionEntry, Info, RequestEntry
from consentry.crawler.audit.records import FetchFailure, Item, Revisit, Seen
from consentry.crawler.audit.result import AuditOptions, Pending, RecordResult, tagged
from consentry.middlewares.adapters.warcformat import POLICY_FIELD, policy_from_warcinfo, written_by_consentry
from consentry.policies.model import AssetResponse

__all__ = ["AuditOptions", "RecordResult", "Replayer"]

_WINDOW = 256


class Replayer:
    """Feeds on `consentry.crawler.audit.readers.archive` values; calls `emit` with a `RecordResult` per decision."""

    def __init__(
        self,
        options: AuditOptions,
        emit: Callable[[RecordResult], None],
        fetcher: Any = None,
        *,
        index: Any = None,
        ours: bool | None = None,
    ) -> None:
        self.judge = Judge(options, fetcher)
        self.store = self.judge.store
        self.store.index = self.index = index
        self.emit = emit
        self.known = ours is not None  # the first pass said whether consentry wrote this file
        self.ours = bool(ours)
        self.judge.foreign = not self.ours
        self.notes: list[str] = []
        self.pending: OrderedDict[str, Pending] = OrderedDict()
        self.orphans: OrderedDict[str, RecordResult] = OrderedDict()
        self.count = 0
        self.stats = {"responses": 0, "documents": 0, "redirect hops": 0, "damaged": 0, "revisits": 0,
                      "revisits without original": 0}
        self._handlers: dict[type, Callable[[Any], None]] = {
            Info: self._info,
            Capture: self._capture,
            Revisit: self._revisit,
            Seen: lambda _: None,  # only a reader given `keep` yields these; the replay's reads everything
            RequestEntry: self._request,
            DecisionEntry: self._decision,
            FetchFailure: self.store.add_failure,
            Damage: self._damage,
        }

    # -- feeding ---------------------------------------------------------------------------------
    def feed(self, item: Item) -> None:
        """Take the next value read from the WARC."""
        self.count += 1
        self._handlers[type(item)](item)
        pending = self.pending
        while pending and self.count - next(iter(pending.values())).seen > _WINDOW:
            self._expire(pending.popitem(last=False)[1])

    def close(self) -> None:
        """Release what the replay holds open (the works registry)."""
        self.judge.close()

    def finish(self) -> None:
        """End of file: judge whatever still waits."""
        while self.pending:
            self._expire(self.pending.popitem(last=False)[1])
        while self.orphans:
            self._orphan(self.orphans.popitem(last=False)[1])

    def _mark_ours(self) -> None:
        self.ours = True
        self.judge.foreign = False

    def _info(self, info: Info) -> None:
        if written_by_consentry(info.fields):
            self._mark_ours()
        text = info.fields.get(POLICY_FIELD)
        if text:
            config, problem = policy_from_warcinfo(text)
            self.judge.crawl_config = config or self.judge.crawl_config
            if problem:
                self.notes.append(problem)

    def _capture(self, capture: Capture) -> None:
        self.stats["responses"] += 1
        if self.store.add(capture):
            self.stats["documents"] += 1
            return
        if capture.location:
            self.stats["redirect hops"] += 1
            redirected_from = self.judge.redirected_from
            redirected_from[capture.location] = redirected_from.get(capture.url, capture.url)
            trim(redirected_from, PAGES)
            return
        if capture.record_id in self.pending:  # a duplicate WARC-Record-ID: judge the first one now
            self._expire(self.pending.pop(capture.record_id))
        pending = self.pending[capture.record_id] = Pending(capture, self.count)
        self._want(pending)

    def _revisit(self, revisit: Revisit) -> None:
        self.stats["revisits"] += 1
        original = self.index.original(revisit.refers_to, revisit.payload_digest) if self.index else None
        if original is None:
            self.stats["revisits without original"] += 1
            note = (f"revisit of {revisit.refers_to or revisit.payload_digest or 'an unnamed capture'}: "
                    "the original capture is not in the audit's inputs")
            self.emit(RecordResult(revisit.url, revisit.record_id, revisit.date, None, None, notes=[note],
                                   unverifiable=True))
            return
        drop = ("content-encoding", "transfer-encoding", "content-length")
        headers = tuple((k, v) for k, v in revisit.headers if k.lower() not in drop) or original.headers
        capture = Capture(
            revisit.url, revisit.record_id, revisit.date, revisit.status or original.status, headers,
            original.body, list(original.problems), original.full_length, original.full_sha256,
            [*original.remarks, f"revisit: payload of {revisit.refers_to or revisit.payload_digest}"],
        )
        self._capture(capture)

    def _want(self, pending: Pending) -> None:
        """Tell the store which documents the core will need for this response, so it keeps their captures."""
        capture = pending.capture
        asset = pending.asset = AssetResponse(capture.url, capture.status, capture.headers, capture.body)
        pending.wanted = wanted = self.judge.needs(asset, self.judge.config(None))
        if wanted[1]:
            self.store.want([need.url for need in wanted[1]])

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
        self._mark_ours()
        record = entry.record
        config = self.judge.config(record)
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
            self.emit(self.judge.compare(self.judge.skip(entry.url, entry.record_id, entry.date, config), record))
        elif (pending := self.pending.pop(target, None)) is not None:
            self.emit(self.judge.compare(self.judge.judge(pending, entry.date, config), record))
        elif (orphan := self.orphans.pop(target, None)) is not None:
            self.emit(self.judge.compare(orphan, record))
        else:
            note = f"the response {target} this decision judged is not in the archive (or was unreadable)"
            self.emit(
                RecordResult(entry.url, target, entry.date, record, None, [], [note], unverifiable=True)
            )

    def _expire(self, pending: Pending) -> None:
        result = self.judge.judge(pending, pending.capture.date, self.judge.config(None))
        if not self.ours:
            self.emit(tagged(result))
            return
        self.orphans[pending.capture.record_id] = result
        while len(self.orphans) > PAGES:
            self._orphan(self.orphans.popitem(last=False)[1])

    def _orphan(self, result: RecordResult) -> None:
        result.notes.append("no decision archived for this response")
        result.undecided = True
        self.emit(tagged(result))
