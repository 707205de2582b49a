"""robots.txt pacing (Crawl-delay, Request-rate) and Sitemap lines of our group; the withholding decisions taken
before the body (deny > allow across mechanisms; TDMRep never final)."""

from __future__ import annotations

import pytest

from consentry.policies.config import OnDeny, PolicyConfig
from consentry.policies.evaluate import SiteDocuments, SitePolicy, evaluate_response
from consentry.policies.model import AssetResponse, SiteFile
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.vocabulary import Purpose
from consentry.policies.withhold import WITHHELD_BEFORE_DOWNLOAD, final_denial, withheld_before_download

ORIGIN = "https://example.com"


def _robots(text: str, agent: str = "consentry") -> RobotsPolicy:
    return RobotsPolicy.parse(SiteFile.from_http(ORIGIN + "/robots.txt", 200, text.encode()), agent)


@pytest.mark.parametrize(("text", "delay"), [
    ("User-agent: *\nCrawl-delay: 2\n", 2.0),
    ("User-agent: *\nCrawl-delay: 0.5\n", 0.5),
    ("User-agent: *\nRequest-rate: 1/5\n", 5.0),
    ("User-agent: *\nRequest-rate: 1/10s\n", 10.0),
    ("User-agent: *\nRequest-rate: 3/1m 0600-0845\n", 20.0),
    ("User-agent: *\nRequest-rate: 1/2h\n", 7200.0),
    ("User-agent: *\nCrawl-delay: 1\nRequest-rate: 1/4\n", 4.0),  # the slowest wins
    ("User-agent: *\nCrawl-delay: 9\n\nUser-agent: consentry\nCrawl-delay: 1\n", 1.0),  # our group only
    ("User-agent: other\nCrawl-delay: 9\n", None),
    ("User-agent: *\nDisallow:\n", None),
])  # fmt: skip
def test_pacing(text: str, delay: float | None) -> None:
    assert _robots(text).pacing.delay == delay


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "0/5", "1/x"])
def test_malformed_pacing_is_a_warning(value: str) -> None:
    field = "Request-rate" if "/" in value else "Crawl-delay"
    policy = _robots(f"User-agent: *\n{field}: {value}\nDisallow: /x\n")
    assert policy.pacing.delay is None
    assert any("not a valid" in w for w in policy.warnings)
    assert policy.access(ORIGIN + "/x")[0].value == "deny"  # the rest of the file still reads


def test_sitemap_lines_anywhere() -> None:
    policy = _robots("Sitemap: https://example.com/a.xml\nUser-agent: *\nDisallow:\nSitemap: /relative.xml\n"
                     "Sitemap: https://cdn.example.net/b.xml.gz\n")
    assert policy.sitemap_urls == ("https://example.com/a.xml", "https://cdn.example.net/b.xml.gz")


def _site(robots: str = "User-agent: *\nAllow: /\n", ai_txt: str = "", tdmrep: str = "") -> SitePolicy:
    def file(path: str, text: str) -> SiteFile:
        url = ORIGIN + path
        return SiteFile.from_http(url, 200, text.encode()) if text else SiteFile.from_http(url, 404, b"")

    documents = SiteDocuments(ORIGIN, file("/robots.txt", robots), file("/ai.txt", ai_txt),
                              file("/.well-known/tdmrep.json", tdmrep))
    return SitePolicy.build(documents, "consentry")


def test_withheld_before_download_when_the_site_denies_every_declared_purpose() -> None:
    site = _site("User-agent: *\nAllow: /\nContent-Usage: /r/ train-ai=n\n")
    config = PolicyConfig()
    decision = withheld_before_download(site, ORIGIN + "/r/x.jpg", config, fetched_at="t")
    assert decision is not None
    assert decision.action.value == "drop"
    assert decision.response is None
    assert decision.reason.startswith(WITHHELD_BEFORE_DOWNLOAD)
    assert withheld_before_download(site, ORIGIN + "/free.jpg", config, fetched_at="t") is None
    tag = PolicyConfig(on_deny=OnDeny.TAG)
    assert withheld_before_download(site, ORIGIN + "/r/x.jpg", tag, fetched_at="t") is None


def test_not_withheld_when_one_declared_purpose_is_not_denied() -> None:
    site = _site("User-agent: *\nAllow: /\nContent-Usage: train-ai=n\n")
    config = PolicyConfig(purposes=(Purpose.AI_TRAIN, Purpose.SEARCH))
    assert withheld_before_download(site, ORIGIN + "/x.jpg", config, fetched_at=None) is None


def test_robots_denied_access_is_a_skip_not_a_withholding() -> None:
    site = _site("User-agent: *\nDisallow: /\nContent-Usage: train-ai=n\n")
    assert withheld_before_download(site, ORIGIN + "/x.jpg", PolicyConfig(), fetched_at=None) is None


def test_tdmrep_json_alone_never_withholds() -> None:
    site = _site(tdmrep='[{"location": "/*", "tdm-reservation": 1}]')
    config = PolicyConfig(purposes=(Purpose.TDM,))
    assert withheld_before_download(site, ORIGIN + "/x.pdf", config, fetched_at=None) is None
    headers_only = AssetResponse(ORIGIN + "/x.pdf", 200, (("Content-Type", "application/pdf"),), b"")
    decision = evaluate_response(site, headers_only, config, fetched_at=None)
    assert decision.action.value == "drop"  # denied so far …
    assert not final_denial(decision, config)  # … but a PDF's own TDMRep metadata could lift it


def test_an_embedded_allow_never_lifts_a_header_deny() -> None:
    site = _site()
    config = PolicyConfig()
    headers = (("Content-Type", "image/jpeg"), ("X-Robots-Tag", "noai"))
    decision = evaluate_response(site, AssetResponse(ORIGIN + "/a.jpg", 200, headers, b""), config, fetched_at=None)
    assert final_denial(decision, config)
    allow = AssetResponse(ORIGIN + "/a.jpg", 200, (*headers, ("Content-Usage", "train-ai=y")), b"")
    assert final_denial(evaluate_response(site, allow, config, fetched_at=None), config)
