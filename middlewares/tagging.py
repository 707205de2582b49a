"""Consent on items, and page-level `noai`/`noimageai` carried to the media a page links (docs/signals/x-robots-tag.md).

Spider middleware. Every item produced from a response that carries a decision (`response.meta["consent"]`)
gets a `consent` field: {action, purposes, reason, mechanisms}; items from a dropped page that is only
followed for its links (`CONSENT_FOLLOW_DROPPED_PAGES`) are withheld. A `scrapy.Item` needs a `consent` field
(a dict item always works). Requests the spider marks with `meta["consent_media"] = True` inherit the
page's `noai`/`noimageai` signals (`meta["consent_inherited"]`), which the asset middleware evaluates.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import Request

from consentry.middlewares._config import consent_settings
from consentry.middlewares._scrapyio import INHERITED_META, page_asset
from consentry.policies.evaluate import page_inheritance
from consentry.policies.model import Action
from consentry.policies.record import Decision

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from consentry.policies.model import Signal

__all__ = ["ConsentTagMiddleware", "consent_summary"]

logger = logging.getLogger(__name__)

_PAGE_SIGNALS_META = "_consent_page_signals"


def consent_summary(decision: Decision) -> dict[str, object]:
    """The `consent` field of an item: action, verdict per purpose, reason, mechanisms that spoke, and the
    asset's AI-generated label (`provenance`, as in the decision record; None for a decision without one)."""
    mechanisms = sorted({s.mechanism.value for s in decision.signals if s.statement})
    return {
        "action": decision.action.value,
        "purposes": decision.purpose_verdicts(),
        "reason": decision.reason,
        "mechanisms": mechanisms,
        "provenance": decision.provenance.to_record() if decision.provenance is not None else None,
    }


class ConsentTagMiddleware:
    """Tags items with their response's decision; passes page signals on to media requests."""

    def __init__(self, *, agent: str) -> None:
        self.agent = agent
        self._warned: set[type] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Validate `CONSENT_*` at start-up; `NotConfigured` when `CONSENT_ENABLED` is false."""
        return cls(agent=consent_settings(crawler.settings).config.agent)

    def _page_signals(self, response: Response) -> tuple[Signal, ...]:
        cached = response.meta.get(_PAGE_SIGNALS_META)
        if cached is None:
            cached = (
                page_inheritance(page_asset(response), self.agent) if hasattr(response, "text") else ()
            )
            response.meta[_PAGE_SIGNALS_META] = cached
        return cached

    def _tag_item(self, item: Any, decision: Decision) -> Any:
        adapter = ItemAdapter(item)
        try:
            adapter["consent"] = consent_summary(decision)
        except KeyError:
            if type(item) not in self._warned:
                self._warned.add(type(item))
                logger.warning("%s has no 'consent' field: items are not tagged", type(item).__name__)
        return item

    def _process(self, output: Any, response: Response) -> Any:
        if isinstance(output, Request):
            if output.meta.get("consent_media"):
                inherited = self._page_signals(response)
                if inherited:
                    output.meta[INHERITED_META] = (*output.meta.get(INHERITED_META, ()), *inherited)
            return output
        decision = response.meta.get("consent")
        if isinstance(decision, Decision) and (type(output) is dict or ItemAdapter.is_item(output)):
            if decision.action is not Action.KEEP:
                return None  # a dropped page followed for its links: its own items are withheld
            return self._tag_item(output, decision)
        return output

    def process_spider_output(self, response: Response, result: Any) -> Any:
        """Sync spider output."""
        for output in result:
            if (processed := self._process(output, response)) is not None:
                yield processed

    async def process_spider_output_async(self, response: Response, result: Any) -> Any:
        """Async spider output."""
        async for output in result:
            if (processed := self._process(output, response)) is not None:
                yield processed
