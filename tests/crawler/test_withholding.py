"""Nothing withheld is downloaded: the real Scrapy engine against a loopback site that counts what it served.

Site-level denials (robots.txt Content-Usage, ai.txt) decide a URL without requesting it; header-level denials
(X-Robots-Tag noai, Content-Usage) stop the transfer after the headers; TDMRep alone never does (a later layer
may supersede it); pages whose links the spider follows are still read. `consentry audit` replays all of it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from consentry.policies.withhold import WITHHELD_BEFORE_DOWNLOAD
from tests.crawler._audit import results, run_audit
from tests.crawler._helpers import html, run_crawl

pytestmark = pytest.mark.e2e

_BODY = b"\xff\xd8\xff\xe0" + b"j" * 200_000  # a body big enough that reading it shows in the byte count
_HOLD = 0.5  # the server waits this long after the headers: a client that stopped there gets no body

ROBOTS = (
    "User-agent: *\nAllow: /\n"
    "Content-Usage: /reserved/ train-ai=n\n"
)
AI_TXT = "User-Agent: *\nDisallow: /aitxt/\n"


def _image(*headers: tuple[str, str]) -> Route:
    return Route(200, (("Content-Type", "image/jpeg"), *headers), _BODY, body_after=_HOLD)


def _site() -> dict[str, Route]:
    images = ["/reserved/a.jpg", "/aitxt/b.jpg", "/header/noai.jpg", "/header/usage.jpg", "/header/gzip.jpg",
              "/tdm/c.jpg", "/free/d.jpg"]
    tags = "".join(f'<img src="{src}">' for src in images)
    return {
        "/robots.txt": Route.text(ROBOTS),
        "/ai.txt": Route.text(AI_TXT),
        "/.well-known/tdmrep.json": Route.text('[{"location": "/tdm/*", "tdm-reservation": 1}]',
                                               "application/json"),
        "/": html(f'<html><body>{tags}<a href="/reserved/page.html">p</a></body></html>'),
        "/reserved/page.html": html('<html><body><a href="/free/next.html">n</a></body></html>'),
        "/free/next.html": html("<html><body>next</body></html>"),
        "/reserved/a.jpg": _image(),
        "/aitxt/b.jpg": _image(),
        "/header/noai.jpg": _image(("X-Robots-Tag", "noai")),
        "/header/usage.jpg": _image(("Content-Usage", "train-ai=n")),
        "/header/gzip.jpg": Route(200, (("Content-Type", "image/jpeg"), ("Content-Encoding", "gzip"),
                                        ("X-Robots-Tag", "noai")), gzip.compress(_BODY), body_after=_HOLD),
        "/tdm/c.jpg": _image(),
        "/free/d.jpg": _image(),
    }


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> tuple[SiteServer, Path, object]:
    out = tmp_path_factory.mktemp("withhold")
    with SiteServer(_site()) as site:
        result = run_crawl([site.url("/")], out)
        assert result.returncode == 0, result.stderr[-3000:]
        return site, out, result


def test_site_level_denials_are_never_requested(crawled) -> None:  # type: ignore[no-untyped-def]
    site, _, result = crawled
    for path in ("/reserved/a.jpg", "/aitxt/b.jpg"):
        assert path not in site.requested
        record = result.decision(site.url(path))
        assert record["action"] == "drop"
        assert record["response"] is None
        assert record["access"] == "allow"
        assert record["reason"].startswith(WITHHELD_BEFORE_DOWNLOAD)
        assert record["fetched_at"]  # the decision time (nothing was fetched)
    assert site.url("/reserved/a.jpg") not in result.item_urls()


def test_header_denials_stop_after_the_headers(crawled) -> None:  # type: ignore[no-untyped-def]
    site, _, result = crawled
    for path in ("/header/noai.jpg", "/header/usage.jpg", "/header/gzip.jpg"):
        assert site.requested.count(path) == 1
        assert site.header_bytes[path] > 0
        assert site.body_bytes[path] == 0  # the client hung up after the headers
        record = result.decision(site.url(path))
        assert record["action"] == "drop"
        assert record["response"]["status"] == 200
        assert record["response"]["length"] == 0  # what was received
        assert site.url(path) not in result.item_urls()


def test_what_must_be_read_is_read(crawled) -> None:  # type: ignore[no-untyped-def]
    site, _, result = crawled
    # TDMRep's tdmrep.json can be superseded by the asset's own header or metadata: fetched in full, then dropped.
    assert site.body_bytes["/tdm/c.jpg"] == len(_BODY)
    assert result.decision(site.url("/tdm/c.jpg"))["action"] == "drop"
    assert site.body_bytes["/free/d.jpg"] == len(_BODY)
    assert result.decision(site.url("/free/d.jpg"))["action"] == "keep"
    # a page dropped for use is still read for its links (CONSENT_FOLLOW_DROPPED_PAGES)
    assert "/reserved/page.html" in site.requested
    assert result.decision(site.url("/reserved/page.html"))["action"] == "drop"
    assert "/free/next.html" in site.requested


def test_warc_marks_headers_only_responses(crawled) -> None:  # type: ignore[no-untyped-def]
    site, _, result = crawled
    responses = {uri: (headers, raw) for kind, uri, headers, raw, _ in result.warc_records() if kind == "response"}
    headers, _ = responses[site.url("/header/noai.jpg")]
    assert headers.get("WARC-Truncated") == "length"
    assert site.url("/reserved/a.jpg") not in responses
    assert "WARC-Truncated" not in responses[site.url("/free/d.jpg")][0]


def test_audit_replays_withholding(crawled, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    site, out, _ = crawled
    code, text, _ = run_audit(capsys, str(out / "crawl.warc.gz"), "--json")
    found = {r["url"]: r for r in results(text)}
    assert code == 0, [r for r in found.values() if not r["match"]]
    for path in ("/reserved/a.jpg", "/aitxt/b.jpg", "/header/noai.jpg", "/header/usage.jpg", "/header/gzip.jpg"):
        replay = found[site.url(path)]
        assert replay["match"] is True, replay
        assert replay["replayed"]["action"] == "drop"
    assert found[site.url("/reserved/a.jpg")]["replayed"]["reason"].startswith(WITHHELD_BEFORE_DOWNLOAD)


def test_tag_mode_downloads_everything(tmp_path: Path) -> None:
    with SiteServer(_site()) as site:
        result = run_crawl([site.url("/")], tmp_path, "--on-deny", "tag")
        assert result.returncode == 0, result.stderr[-3000:]
        for path in ("/reserved/a.jpg", "/aitxt/b.jpg", "/header/noai.jpg"):
            assert site.body_bytes[path] == len(_BODY)  # nothing is dropped, so everything is read
            assert result.decision(site.url(path))["action"] == "keep"


def test_tdmrep_header_supersedes_tdmrep_json(tmp_path: Path) -> None:
    """Why TDMRep never withholds early: the response's own header lifts the file's reservation."""
    routes = _site()
    routes["/tdm/c.jpg"] = _image(("tdm-reservation", "0"))
    with SiteServer(routes) as site:
        result = run_crawl([site.url("/")], tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.decision(site.url("/tdm/c.jpg"))["action"] == "keep"
        assert site.body_bytes["/tdm/c.jpg"] == len(_BODY)
