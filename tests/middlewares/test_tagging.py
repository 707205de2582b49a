"""ConsentTagMiddleware: `consent` on items, page noai/noimageai carried to media requests (docs/signals/x-robots-tag.md)."""

from __future__ import annotations

import logging

import pytest
import scrapy
from scrapy.http import HtmlResponse, Request

from consentry.middlewares._scrapyio import INHERITED_META
from consentry.middlewares.tagging import ConsentTagMiddleware, consent_summary
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import SiteDocuments, SitePolicy, evaluate_response
from consentry.policies.model import AssetResponse, SiteFile

_ORIGIN = "http://example.test"


def _decision(*headers: tuple[str, str]):  # type: ignore[no-untyped-def]
    absent = {k: SiteFile.from_http(f"{_ORIGIN}/{k}", 404, b"") for k in ("robots", "ai_txt", "tdmrep")}
    site = SitePolicy.build(SiteDocuments(_ORIGIN, **absent), "consentry")
    asset = AssetResponse(f"{_ORIGIN}/page", 200, (("Content-Type", "text/html"), *headers), b"<html></html>")
    return evaluate_response(
        site, asset, PolicyConfig.from_settings({"CONSENT_ON_DENY": "tag"}), fetched_at=None
    )


def _response(body: str, decision: object | None = None) -> HtmlResponse:
    request = Request(f"{_ORIGIN}/page")
    if decision is not None:
        request.meta["consent"] = decision
    return HtmlResponse(
        request.url,
        body=body.encode(),
        encoding="utf-8",
        request=request,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )


class _Item(scrapy.Item):
    url = scrapy.Field()
    consent = scrapy.Field()


class _BareItem(scrapy.Item):
    url = scrapy.Field()


def test_dict_and_item_get_consent() -> None:
    decision = _decision(("X-Robots-Tag", "noai"))
    mw = ConsentTagMiddleware(agent="consentry")
    out = list(mw.process_spider_output(_response("<html></html>", decision), [{"url": "u"}, _Item(url="u")]))
    assert out[0]["consent"] == consent_summary(decision)
    assert out[1]["consent"]["purposes"]["genai-train"] == "deny"
    assert out[1]["consent"]["mechanisms"] == ["x-robots-tag"]
    assert set(out[0]["consent"]) == {"action", "purposes", "reason", "mechanisms", "provenance"}


def test_item_without_field_is_passed_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    mw = ConsentTagMiddleware(agent="consentry")
    with caplog.at_level(logging.WARNING):
        (out,) = mw.process_spider_output(_response("<html></html>", _decision()), [_BareItem(url="u")])
    assert "consent" not in out
    assert "no 'consent' field" in caplog.text


def test_no_decision_no_tag() -> None:
    mw = ConsentTagMiddleware(agent="consentry")
    (out,) = mw.process_spider_output(_response("<html></html>"), [{"url": "u"}])
    assert out == {"url": "u"}


@pytest.mark.parametrize(
    ("meta", "inherits"),
    [
        ('<meta name="robots" content="noimageai">', True),
        ('<meta name="robots" content="noai">', True),
        ('<meta name="robots" content="noindex">', False),
        ("", False),
    ],
)
def test_page_signals_reach_media_requests_only(meta: str, inherits: bool) -> None:
    mw = ConsentTagMiddleware(agent="consentry")
    page = _response(f"<html><head>{meta}</head><body></body></html>")
    media = Request(f"{_ORIGIN}/a.jpg", meta={"consent_media": True})
    link = Request(f"{_ORIGIN}/next.html")
    out = list(mw.process_spider_output(page, [media, link]))
    inherited = out[0].meta.get(INHERITED_META, ())
    assert bool(inherited) is inherits
    assert all(s.mechanism.value == "page-inherited" for s in inherited)
    assert INHERITED_META not in out[1].meta
