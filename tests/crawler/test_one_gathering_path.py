"""The one gathering path: the crawl (Scrapy), `check` (httpx) and `audit` (WARC) ask for the same documents.

One loopback site whose robots.txt names an RSL licence, whose page links another licence, and whose image
points to a remote C2PA manifest. The crawl and `check` are observed from the server's request log; the audit
from the archive lookups it makes (a spy on the store's lookup, which calls through). All three must ask for
exactly the documents `consentry.policies.gather` lists for those inputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consentry.crawler.audit.store import DocumentStore
from consentry.crawler.cli import main
from consentry.crawler.demo.server import Route, SiteServer
from consentry.policies.config import PolicyConfig
from consentry.policies.gather import DocumentKind, asset_needs, site_needs
from consentry.policies.model import AssetResponse
from tests.crawler._audit import run_audit
from tests.crawler._helpers import html, jpeg, run_crawl

pytestmark = pytest.mark.e2e

_LICENCE = """<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>
<permits type="usage">search</permits></license></content></rsl>"""
_PAGE = '<html><head><link rel="license" type="application/rsl+xml" href="/licences/page.xml"></head><body><img src="/img/a.jpg"></body></html>'
_IMAGE_LINK = ("Link", '</manifests/a.c2pa>; rel="c2pa-manifest"')
_ASSETS = {"/page.html", "/img/a.jpg"}


def _routes() -> dict[str, Route]:
    return {
        "/licences/site.xml": Route.text(_LICENCE, "application/rsl+xml"),
        "/licences/page.xml": Route.text(_LICENCE, "application/rsl+xml"),
        "/page.html": html(_PAGE),
        "/img/a.jpg": jpeg(_IMAGE_LINK),
        # /ai.txt, /.well-known/tdmrep.json and the manifest are 404s: asked for all the same
    }


def _serve() -> SiteServer:
    server = SiteServer(_routes())
    robots = f"User-agent: *\nAllow: /\nLicense: {server.url('/licences/site.xml')}\n"
    server.set_route("/robots.txt", Route.text(robots))
    return server


def _expected(server: SiteServer) -> set[str]:
    """What the core says the decisions need, computed from the same inputs without any transport."""
    config = PolicyConfig()
    page = AssetResponse(server.url("/page.html"), 200, (("Content-Type", "text/html"),), _PAGE.encode())
    image = AssetResponse(server.url("/img/a.jpg"), 200, (("Content-Type", "image/jpeg"), _IMAGE_LINK), b"\xff\xd8")
    needs = [*site_needs(server.origin), *asset_needs(page, config), *asset_needs(image, config)]
    paths = {need.url.removeprefix(server.origin) for need in needs}
    kinds = {need.kind for need in needs}
    assert kinds == {DocumentKind.ROBOTS, DocumentKind.AI_TXT, DocumentKind.TDMREP, DocumentKind.LICENCE,
                     DocumentKind.MANIFEST}
    return paths | {"/licences/site.xml"}  # robots.txt's License: line, asked once robots.txt is read


def _documents(requested: list[str]) -> set[str]:
    return {path for path in requested if path not in _ASSETS}


def test_crawl_check_and_audit_ask_for_the_same_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with _serve() as crawled, _serve() as checked:
        expected_crawl = _expected(crawled)
        assert expected_crawl == {"/robots.txt", "/ai.txt", "/.well-known/tdmrep.json", "/licences/site.xml",
                                  "/licences/page.xml", "/manifests/a.c2pa"}
        result = run_crawl([crawled.url("/page.html")], tmp_path / "crawl", "--on-unknown", "keep")
        assert result.returncode == 0, result.stderr
        assert _documents(crawled.requested) == expected_crawl
        assert {"/page.html", "/img/a.jpg"} <= set(crawled.requested)

        assert main(["check", "--json", checked.url("/page.html"), checked.url("/img/a.jpg")]) == 0
        capsys.readouterr()
        assert _documents(checked.requested) == _expected(checked)

    asked: list[str] = []
    resolve = DocumentStore.resolve

    def spy(store: DocumentStore, url: str, anchor: str) -> object:
        asked.append(url)
        return resolve(store, url, anchor)

    monkeypatch.setattr(DocumentStore, "resolve", spy)
    code, _, err = run_audit(capsys, str(tmp_path / "crawl" / "crawl.warc.gz"), "--jobs", "1")
    assert code == 0, err
    assert {url.removeprefix(crawled.origin) for url in asked} == expected_crawl
