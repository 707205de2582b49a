"""What one audited decision yields (docs/cli.md, docs/purposes.md): options in, a `RecordResult` out.

Not pure only in that it is front-end code; it reads no files. A result renders its replayed decision as a
`consentry.decision/1` record once, however many consumers (comparison, tally, `--json`) read it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, cast

from consentry.crawler.audit.records import Capture
from consentry.policies.config import PolicyConfig
from consentry.policies.gather import Need
from consentry.policies.model import AssetResponse
from consentry.policies.record import Decision
from consentry.policies.vocabulary import Tag

__all__ = ["NOT_ARCHIVED", "UNVERIFIED", "AuditOptions", "Pending", "RecordResult", "seconds", "tagged"]

UNVERIFIED = "unverified"  # the record's `access` when robots.txt was not archived (audit replays only)
NOT_ARCHIVED = "not-archived"  # the tag of a replay some site file of which a foreign crawler never fetched


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """How to replay: a policy override, trust anchors, the body cap (None: the policy's C2PA cap + 1), and
    the works registry the crawl used (a path: each worker process opens it once)."""

    config: PolicyConfig | None = None
    trust_anchors_pem: str | None = None
    body_cap: int | None = None
    fetch_missing: bool = False
    registry_path: str | None = None


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
    undecided: bool = False  # a response of ours with no decision archived for it
    denied_fetched: bool = False  # fetched although the archived robots.txt denied access
    unverified_access: bool = False  # a foreign archive without robots.txt: access is `unverified`
    not_archived: tuple[str, ...] = ()  # site files a foreign crawler never fetched (robots, ai_txt, tdmrep)
    _record: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    _rendered: Decision | None = field(default=None, repr=False, compare=False)

    @property
    def match(self) -> bool | None:
        """Whether the archived decision equals the replay; None when nothing was archived."""
        return None if self.archived is None else not self.differences

    def replayed_record(self) -> dict[str, Any] | None:
        """`replayed.to_record()`, rendered once per decision (callers must not modify it)."""
        if self.replayed is None:
            return None
        if self._record is None or self._rendered is not self.replayed:
            self._record, self._rendered = self.replayed.to_record(), self.replayed
            if self.unverified_access:
                self._record["access"] = UNVERIFIED
            if self.not_archived:
                tags = cast("list[str]", self._record["tags"])
                self._record["tags"] = sorted({*tags, NOT_ARCHIVED})
        return self._record

    def to_json(self, warc: str) -> dict[str, Any]:
        """The `--json` element."""
        return {
            "url": self.url,
            "warc": warc,
            "warc_record_id": self.warc_record_id,
            "date": self.date,
            "archived": self.archived,
            "replayed": self.replayed_record(),
            "match": self.match,
            "differences": self.differences,
            "unverifiable": self.unverifiable,
            "notes": self.notes,
        }


@dataclass(slots=True)
class Pending:
    """A response waiting for its decision record: the capture, when it was read, its referrer, damage."""

    capture: Capture
    seen: int
    referer: str | None = None
    damaged: list[str] = field(default_factory=list)
    wanted: tuple[int, tuple[Need, ...]] | None = None
    asset: AssetResponse | None = None  # the response as the core saw it for `wanted` (its parses are reused)


def seconds(date: str) -> str:
    """A WARC-Date to whole seconds (the crawl's `fetched_at`)."""
    return date[:19] + "Z" if len(date) >= 19 else date


def tagged(result: RecordResult) -> RecordResult:
    """A replay with no archived decision to compare carries `unverifiable` when its inputs were not all archived."""
    decision = result.replayed
    if result.unverifiable and decision is not None and Tag.UNVERIFIABLE not in decision.tags:
        tags = tuple(sorted({*decision.tags, Tag.UNVERIFIABLE}, key=lambda t: t.value))
        result.replayed = dataclasses.replace(decision, tags=tags)
    return result
