"""`AssetResponse` indexes its headers once and keeps what the core derives from it (head, pre-scan) for the
response's lifetime: every signal family reads one parse, and a changed response never sees a stale one."""

from __future__ import annotations

import dataclasses

from consentry.policies.assets.embedded import StoreResult
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import (
    SiteDocuments,
    SitePolicy,
    evaluate_asset,
    licence_urls,
    page_inheritance,
)
from consentry.policies.gather import asset_needs
from consentry.policies.model import AssetResponse, SiteFile, header_values

HEADERS = (
    ("Content-Type", "text/plain"),
    ("X-Robots-Tag", "noai"),
    ("content-type", "TEXT/HTML; charset=utf-8"),
    ("x-robots-tag", "consentbot: noimageai"),
    ("Link", '</l.xml>; rel="license"; type="application/rsl+xml"'),
)
PAGE = b"<html><head><meta name='robots' content='noai'><link rel='license' type='application/rsl+xml' href='/h.xml'>"
URL = "https://site.example/p.html"


class _Reader:
    def __call__(self, body: bytes, content_type: str, *, manifest_data: bytes | None = None) -> StoreResult:
        raise AssertionError("no C2PA marker: the reader is never called")


def test_header_lookup_is_case_insensitive_in_order_like_header_values() -> None:
    asset = AssetResponse(URL, 200, HEADERS, PAGE)
    for name in ("x-robots-tag", "X-ROBOTS-TAG", "Content-Type", "link", "absent"):
        assert asset.header(name) == header_values(HEADERS, name)
    assert asset.content_type == "text/html"  # the last Content-Type line, parameters dropped, lower-cased


def test_header_result_is_a_copy() -> None:
    asset = AssetResponse(URL, 200, HEADERS, PAGE)
    asset.header("x-robots-tag").append("index")
    assert asset.header("x-robots-tag") == ["noai", "consentbot: noimageai"]


def test_derived_values_are_computed_once_per_response() -> None:
    asset = AssetResponse(URL, 200, HEADERS, PAGE)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert asset.derived("k", compute) == 1
    assert asset.derived("k", compute) == 1
    assert asset.derived(("k", 2), compute) == 2
    assert len(calls) == 2


def test_a_replaced_response_derives_afresh() -> None:
    asset = AssetResponse(URL, 200, HEADERS, PAGE)
    assert licence_urls(asset) == ("https://site.example/l.xml", "https://site.example/h.xml")
    other = dataclasses.replace(asset, body=b"<html><head></head></html>", headers=HEADERS[:1])
    assert other.content_type == "text/plain"
    assert licence_urls(other) == ()
    assert licence_urls(dataclasses.replace(other, headers=HEADERS)) == ("https://site.example/l.xml",)


def test_one_response_evaluated_after_its_needs_gives_the_same_decision_as_a_fresh_one() -> None:
    config = PolicyConfig()
    origin = "https://site.example"
    site = SitePolicy.build(
        SiteDocuments(origin, SiteFile.from_http(origin + "/robots.txt", 200, b"User-agent: *\nAllow: /\n"),
                      SiteFile.from_http(origin + "/ai.txt", 404, b""),
                      SiteFile.from_http(origin + "/.well-known/tdmrep.json", 404, b"")),
        config.agent,
    )
    used = AssetResponse(URL, 200, HEADERS, PAGE)
    needs = asset_needs(used, config)
    assert page_inheritance(used, config.agent)  # the page's noai passes to its media
    documents = {n.url: SiteFile.from_http(n.url, 404, b"") for n in needs}

    def decide(asset: AssetResponse) -> dict[str, object]:
        return evaluate_asset(site, asset, config, fetched_at=None, documents=documents,
                              reader=_Reader()).to_record()

    record = decide(used)
    assert record == decide(AssetResponse(URL, 200, HEADERS, PAGE))
    signals = record["signals"]
    assert isinstance(signals, list)
    assert {s["mechanism"] for s in signals} >= {"x-robots-tag", "meta-robots", "rsl"}
