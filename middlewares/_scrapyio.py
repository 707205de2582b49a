"""Scrapy ↔ policies value conversions and the decision emitter shared by the consent components.

Not pure (it knows Scrapy types); it never decides anything — `consentry.policies.evaluate` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest
from twisted.python.failure import Failure

from consentry.middlewares._appendfile import OutputWriteError
from consentry.middlewares.adapters.warcformat import decision_payload
from consentry.middlewares.cluster import run_fields
from consentry.middlewares.signals import consent_decision
from consentry.policies.model import AssetResponse, Signal

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

    from consentry.policies.record import Decision

__all__ = [
    "FOLLOW_LINKS_META",
    "INHERITED_META",
    "SITE_FILE_META",
    "DecisionNotLogged",
    "asset_response",
    "body_needed",
    "emit_decision",
    "evaluated_asset",
    "field_lines",
    "page_asset",
    "wants_check",
]

#: request.meta key: signals inherited from the page that linked the request (tuple of `Signal`).
INHERITED_META = "consent_inherited"
#: request.meta key: the spider follows the links of this request's HTML response (its body is needed even when
#: the asset is dropped, with `CONSENT_FOLLOW_DROPPED_PAGES`); unset, a dropped asset's body is never needed.
FOLLOW_LINKS_META = "consent_follow_links"
#: request.meta key set on our own site-file / linked-document fetches (value: the document kind).
SITE_FILE_META = "consent_site_file"
#: request.meta key: the `AssetResponse` the response was evaluated as, so that what reads the page later (the
#: tagging middleware's page signals) shares its parsed head instead of parsing it again.
_ASSET_META = "_consent_asset"


class DecisionNotLogged(IgnoreRequest):
    """A `consent_decision` listener failed (the decision log or the WARC could not take the decision): the
    decision is not applied and the request's response is withheld (no item)."""


def wants_check(request: Request) -> bool:
    """Whether a request is subject to consent checks (http(s), not a bypass or our own fetch)."""
    meta = request.meta
    if meta.get("dont_check_consent") or SITE_FILE_META in meta:
        return False
    return request.url.startswith(("http://", "https://"))


def body_needed(request: Request, *, follow_dropped_pages: bool) -> bool:
    """Whether the spider needs this request's body even if the asset is dropped: a page whose links it follows
    (`FOLLOW_LINKS_META`) while `CONSENT_FOLLOW_DROPPED_PAGES` is true. Such a request is never withheld before
    download nor cut after its headers (docs/decision-record.md "Withheld before download")."""
    return follow_dropped_pages and bool(request.meta.get(FOLLOW_LINKS_META))


def header_pairs(response: Response) -> tuple[tuple[str, str], ...]:
    """Every header field line as (name, value), decoded latin-1."""
    return field_lines(response.headers)


def field_lines(headers: Headers) -> tuple[tuple[str, str], ...]:
    """Every field line of Scrapy `Headers` as (name, value), decoded latin-1. `Headers` is a dict of normalised
    names to lists of values; its own `items()` normalises every name again, so the dict's are read."""
    pairs = dict.items(headers) if isinstance(headers, dict) else headers.items()
    return tuple([(name.decode("latin-1"), value.decode("latin-1")) for name, values in pairs for value in values])


def asset_response(response: Response, inherited: tuple[Signal, ...] = ()) -> AssetResponse:
    """The policies view of a Scrapy response (after decompression and redirects)."""
    return AssetResponse(
        url=response.url,
        status=response.status,
        headers=header_pairs(response),
        body=response.body,
        inherited=tuple(s for s in inherited if isinstance(s, Signal)),
    )


def evaluated_asset(request: Request, response: Response, inherited: tuple[Signal, ...] = ()) -> AssetResponse:
    """`asset_response` of `response`, kept on the request for `page_asset`."""
    asset = asset_response(response, inherited)
    request.meta[_ASSET_META] = asset
    return asset


def page_asset(response: Response) -> AssetResponse:
    """The `AssetResponse` this very response was evaluated as (same URL, same body object), or a new one."""
    asset = response.meta.get(_ASSET_META)
    if isinstance(asset, AssetResponse) and asset.body is response.body and asset.url == response.url:
        return asset
    return asset_response(response)


def emit_decision(crawler: Crawler, decision: Decision, request: Request, response: Response | None) -> None:
    """Send `consent_decision` synchronously: every listener has logged it when this returns, or
    `DecisionNotLogged` is raised (a listener failed: the caller must not apply the decision). The record's
    JSON (`payload`) is serialised once, with a distributed crawl's `run` object
    (`consentry.middlewares.cluster.run_fields`)."""
    results = crawler.signals.send_catch_log(
        consent_decision,
        decision=decision,
        payload=decision_payload(decision, run_fields(crawler, request, decision.url)),
        request=request,
        response=response,
        spider=crawler.spider,
        dont_log=OutputWriteError,
    )
    failures = [result for _, result in results if isinstance(result, Failure)]
    if failures:
        raise DecisionNotLogged(f"decision for {decision.url} not logged: {failures[0].getErrorMessage()}")
