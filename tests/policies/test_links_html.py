"""RFC 8288 `Link` parsing, HTML head extraction, RFC 9309 path normalisation and origins."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.policies.evaluate import origin_of, site_file_urls
from consentry.policies.html import looks_like_html, parse_head
from consentry.policies.links import parse_links
from consentry.policies.robots.urlpattern import compile_pattern, normalize_path, request_path

BASE = "https://ex.com/img/a.jpg"


@pytest.mark.parametrize(("values", "expected"), [
    (['<https://ex.com/l.xml>; rel="license"; type="application/rsl+xml"'],
     [("https://ex.com/l.xml", {"license"}, "application/rsl+xml")]),
    (['</a.c2pa>; rel=c2pa-manifest, <b>; rel="next prev"'],
     [("https://ex.com/a.c2pa", {"c2pa-manifest"}, ""), ("https://ex.com/img/b", {"next", "prev"}, "")]),
    (['<x>; title="a,b;c"; rel=LICENSE'], [("https://ex.com/img/x", {"license"}, "")]),
    (["garbage, <y>;rel=next", "<broken"], [("https://ex.com/img/y", {"next"}, "")]),
    (["", ";;;", "<>"], [("https://ex.com/img/a.jpg", set(), "")]),
    # RFC 8288 §3.3: occurrences of rel after the first are ignored
    (['<m.c2pa>; rel="next"; rel="c2pa-manifest"'], [("https://ex.com/img/m.c2pa", {"next"}, "")]),
    (['<m.c2pa>; REL="c2pa-manifest next"; rel=license'], [("https://ex.com/img/m.c2pa", {"c2pa-manifest", "next"}, "")]),
])
def test_parse_links(values: list[str], expected: list[tuple[str, set[str], str]]) -> None:
    links = parse_links(values, BASE)
    assert [(link.target, set(link.rels), link.param("type")) for link in links] == expected


@given(st.lists(st.text(max_size=200), max_size=5))
def test_parse_links_never_raises(values: list[str]) -> None:
    for link in parse_links(values, BASE):
        assert isinstance(link.target, str)


def test_parse_head_collects_meta_and_links_anywhere() -> None:
    body = (b'<html><head><base href="/root/"><meta name="Robots" content=" noai, noimageai ">'
            b'<meta http-equiv="tdm-reservation" content="1"><link rel="License" type="application/rsl+xml" '
            b'href="lic.xml"></head><body><meta name="robots" content="noindex"></body></html>')
    head = parse_head(body, "https://ex.com/page.html")
    assert head.meta("robots") == ["noai, noimageai", "noindex"]
    assert head.meta("tdm-reservation", attribute="http-equiv") == ["1"]
    assert head.links == (("license", "application/rsl+xml", "https://ex.com/root/lic.xml"),)


def test_parse_head_honours_declared_charset() -> None:
    body = '<meta charset="iso-8859-1"><meta name="robots" content="noaï">'.encode("latin-1")
    assert parse_head(body, BASE).meta("robots") == ["noaï"]


@given(st.binary(max_size=2000))
def test_parse_head_never_raises(body: bytes) -> None:
    head = parse_head(body, BASE)
    assert all(isinstance(k, str) for _, k, _ in head.metas)


@pytest.mark.parametrize(("body", "html"), [
    (b"<!DOCTYPE html><html>", True), (b"\xef\xbb\xbf  <html lang=en>", True), (b"<!-- x --><head>", True),
    (b"User-agent: *\nDisallow: /", False), (b"", False), (b"# <html> in a comment", False),
])
def test_looks_like_html(body: bytes, html: bool) -> None:
    assert looks_like_html(body) is html


@pytest.mark.parametrize(("url", "path"), [
    ("https://ex.com/a/b?q=1#frag", "/a/b?q=1"),
    ("https://ex.com", "/"),
    ("https://ex.com?q", "/?q"),
    ("https://user@ex.com:8443/%7Ejoe/%2F", "/~joe/%2F"),   # unreserved decoded, reserved kept (RFC 9309 §2.2.2)
    ("http://ex.com/ü", "/%C3%BC"),
    ("http://ex.com/a b", "/a%20b"),
    ("http://ex.com/100%", "/100%25"),
    ("/relative?x", "/relative?x"),
])
def test_request_path(url: str, path: str) -> None:
    assert request_path(url) == path


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/fish", "/fish.html", True), ("/fish", "/Fish", False), ("/fish$", "/fish", True),
    ("/fish$", "/fish/", False), ("/*.php", "/folder/a.php?x", True), ("*.gif$", "/a.gif", True),
    ("*.gif$", "/a.gif?x=1", False), ("/%7ejoe/", "/~joe/a", True), ("fish", "/fish", True),
])
def test_compile_pattern(pattern: str, path: str, matches: bool) -> None:
    compiled = compile_pattern(pattern)
    assert compiled is not None
    assert compiled.matches(normalize_path(path)) is matches


def test_empty_pattern_matches_nothing_and_lenient_prefix_is_recorded() -> None:
    assert compile_pattern("   ") is None
    lenient = compile_pattern("fish")
    assert lenient is not None
    assert lenient.lenient
    assert lenient.length == 5


@given(st.text(max_size=100), st.text(max_size=100))
def test_patterns_never_raise(pattern: str, path: str) -> None:
    compiled = compile_pattern(pattern)
    if compiled is not None:
        assert isinstance(compiled.matches(request_path("/" + path)), bool)


@pytest.mark.parametrize(("url", "origin"), [
    ("https://Example.COM/a", "https://example.com"), ("http://ex.com:80/", "http://ex.com"),
    ("https://ex.com:8443/x", "https://ex.com:8443"), ("http://[::1]:8080/", "http://[::1]:8080"),
])
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin
    assert site_file_urls(origin)["robots"] == origin + "/robots.txt"
