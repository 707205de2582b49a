"""`consentry crawl --sitemaps`: start pages from robots.txt `Sitemap:` lines — an index, a gzip sitemap, a
disallowed one, a malformed one and a decompression bomb — against a real loopback site."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from consentry.crawler.demo.server import Route, SiteServer
from consentry.crawler.spiders.sitemaps import MAX_BYTES, SitemapError, read_sitemap
from tests.crawler._audit import results, run_audit
from tests.crawler._helpers import html, run_crawl

pytestmark = pytest.mark.e2e


def _urlset(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()


def _index(*urls: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}'
            "</sitemapindex>").encode()


def _bomb() -> bytes:
    return gzip.compress(b"<" + b" " * (MAX_BYTES + 1024), compresslevel=9)


def _serve() -> SiteServer:
    site = SiteServer({"/": html("<html><body>no links</body></html>")}).start()
    o = site.origin
    routes = {
        "/robots.txt": Route.text(f"Sitemap: {o}/index.xml\nUser-agent: *\nDisallow: /private/\n"
                                  f"Sitemap: {o}/private/hidden.xml\nSitemap: {o}/broken.xml\n"),
        "/index.xml": Route(200, (("Content-Type", "application/xml"),),
                            _index(f"{o}/one.xml", f"{o}/two.xml.gz", f"{o}/bomb.xml.gz")),
        "/one.xml": Route(200, (("Content-Type", "application/xml"),),
                          _urlset(f"{o}/p1.html", f"{o}/p2.html", "https://elsewhere.example/x.html")),
        "/two.xml.gz": Route(200, (("Content-Type", "application/gzip"),), gzip.compress(_urlset(f"{o}/p3.html"))),
        "/bomb.xml.gz": Route(200, (("Content-Type", "application/gzip"),), _bomb()),
        "/private/hidden.xml": Route(200, (("Content-Type", "application/xml"),), _urlset(f"{o}/secret.html")),
        "/broken.xml": Route.text("this is not XML <<<", "application/xml"),
        **{f"/p{i}.html": html(f"<html><body>{i}</body></html>") for i in (1, 2, 3)},
        "/secret.html": html("secret"),
    }
    for path, route in routes.items():
        site.set_route(path, route)
    return site


def _stat(stderr: str, name: str) -> int:
    found = re.search(rf"'consent/sitemaps/{name}': (\d+)", stderr)
    return int(found.group(1)) if found else 0


def test_sitemaps_add_start_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = _serve()
    try:
        result = run_crawl([site.url("/")], tmp_path, "--sitemaps", settings={"LOG_LEVEL": "INFO"})
    finally:
        site.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert {"/index.xml", "/one.xml", "/two.xml.gz", "/p1.html", "/p2.html", "/p3.html"} <= set(site.requested)
    assert "/private/hidden.xml" not in site.requested  # robots.txt disallows the sitemap itself
    assert "/secret.html" not in site.requested
    assert {site.url(f"/p{i}.html") for i in (1, 2, 3)} <= result.item_urls()
    assert _stat(result.stderr, "malformed") == 2  # broken.xml and the bomb: counted, the crawl goes on
    assert _stat(result.stderr, "refused") == 1
    assert _stat(result.stderr, "urls") == 4
    code, out, _ = run_audit(capsys, str(tmp_path / "crawl.warc.gz"), "--json")
    found = results(out)
    assert code == 0
    assert all(r["match"] is not False for r in found)
    sitemaps = {r["url"] for r in found if r["archived"] is None}  # archived, but no decision: not assets
    assert sitemaps == {site.url(p) for p in ("/index.xml", "/one.xml", "/two.xml.gz", "/bomb.xml.gz", "/broken.xml")}


def test_without_the_flag_no_sitemap_is_read(tmp_path: Path) -> None:
    site = _serve()
    try:
        result = run_crawl([site.url("/")], tmp_path)
    finally:
        site.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/index.xml" not in site.requested
    assert "/p1.html" not in site.requested


@pytest.mark.parametrize("body", [b"", b"<html><body>not a sitemap</body></html>", b"\x1f\x8bnot gzip",
                                  b"<?xml version='1.0'?><urlset><url><loc>ftp://x/</loc></url>"])
def test_read_sitemap_refuses_or_reads_nothing(body: bytes) -> None:
    try:
        kind, urls = read_sitemap(body)
    except SitemapError:
        return
    assert kind == "urlset"
    assert urls == []


def test_read_sitemap_caps() -> None:
    with pytest.raises(SitemapError):
        read_sitemap(_bomb())
    kind, urls = read_sitemap(_urlset(*(f"https://e.example/{i}" for i in range(10))), max_urls=3)
    assert (kind, len(urls)) == ("urlset", 3)
