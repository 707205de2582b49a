"""RSL 1.0 (docs/signals/rsl.md): discovery, hardened parsing, per-URL resolution, the documented examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.combine import combine, resolve
from consentry.policies.html import parse_head
from consentry.policies.model import AssetResponse, FetchStatus, Signal, SiteFile
from consentry.policies.rsl import RSL_NAMESPACE, RslDocument, discover
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rsl"
LICENCE_URL = "https://ex.com/license.xml"

A, D = Verdict.ALLOW, Verdict.DENY
TDM, TRAIN, GENAI, ML, INPUT, SEARCH = (
    Purpose.TDM,
    Purpose.AI_TRAIN,
    Purpose.GENAI_TRAIN,
    Purpose.ML_TRAIN,
    Purpose.AI_INPUT,
    Purpose.SEARCH,
)
ALL_DENY = dict.fromkeys((TDM, TRAIN, GENAI, ML, INPUT, SEARCH), D)
ALL_ALLOW = dict.fromkeys((TDM, TRAIN, GENAI, ML, INPUT, SEARCH), A)
TRAIN_DENY = {TRAIN: D, GENAI: D, ML: D}


def _site_file(body: bytes, status: FetchStatus = FetchStatus.OK) -> SiteFile:
    return SiteFile(url=LICENCE_URL, status=status, http_status=200, body=body)


def _doc(name: str) -> RslDocument:
    return RslDocument.parse(_site_file((FIXTURES / name).read_bytes()))


def _signal(doc: RslDocument, url: str, *, mechanism: Mechanism = Mechanism.ROBOTS_LICENSE) -> Signal:
    scope = Scope.SITE if mechanism is Mechanism.ROBOTS_LICENSE else Scope.RESPONSE
    signals = doc.signals(url, mechanism=mechanism, scope=scope)
    assert len(signals) == 1
    assert signals[0].mechanism is mechanism
    assert signals[0].scope is scope
    assert signals[0].source == LICENCE_URL
    return signals[0]


def _known(signal: Signal) -> dict[Purpose, Verdict]:
    """The signal's full resolved assignment (docs/purposes.md), UNKNOWN purposes left out."""
    resolved = resolve(signal.statement, hierarchical=signal.hierarchical)
    return {p: v for p, v in resolved.items() if v is not Verdict.UNKNOWN}


# docs/signals/rsl.md examples, and the resolution rules around them.
@pytest.mark.parametrize(
    ("fixture", "url", "expected", "tags"),
    [
        # ex 1: prohibits ai-all at "/" -> ai-train, ai-input DENY everywhere; search UNKNOWN.
        ("prohibits-ai-all.xml", "https://ex.com/", {**TRAIN_DENY, INPUT: D}, set()),
        ("prohibits-ai-all.xml", "https://ex.com/deep/page?q=1", {**TRAIN_DENY, INPUT: D}, set()),
        # ex 2: /articles/x -> ai-train DENY (narrow), search ALLOW (from "/"); /about -> search only.
        ("free-search-articles-deny.xml", "https://ex.com/articles/x", {**TRAIN_DENY, SEARCH: A}, set()),
        ("free-search-articles-deny.xml", "https://ex.com/about", {SEARCH: A}, set()),
        # ex 3: pay-per-crawl ai-input -> conditional DENY; ai-train UNKNOWN.
        ("pay-per-crawl.xml", "https://ex.com/news/1", {INPUT: D}, {Tag.CONDITIONAL}),
        # ex 4: free but a licence server is named -> conditional for everything `all` covers.
        ("server-free.xml", "https://ex.com/x", ALL_DENY, {Tag.CONDITIONAL}),
        # a free licence: permits ai-train, payment free, no server -> ALLOW, down to the leaves.
        ("free-ai-train.xml", "https://ex.com/x", {TRAIN: A, GENAI: A, ML: A}, set()),
        ("free-all.xml", "https://ex.com/x", ALL_ALLOW, set()),
        # Within one scope <prohibits> beats <permits>, umbrellas included.
        ("permits-and-prohibits-same-scope.xml", "https://ex.com/x", ALL_DENY, set()),
        # No <payment> element: not "free" -> conditional (conservative reading, docs/readings.md).
        ("no-payment-element.xml", "https://ex.com/x", {SEARCH: D}, {Tag.CONDITIONAL}),
        # user/geo restrictions make a free permission conditional unless commercial use is permitted.
        ("user-non-commercial.xml", "https://ex.com/x", TRAIN_DENY, {Tag.CONDITIONAL}),
        ("user-commercial.xml", "https://ex.com/x", {SEARCH: A}, set()),
        ("geo-restricted.xml", "https://ex.com/x", {SEARCH: D}, {Tag.CONDITIONAL}),
        # AIPREF label inside RSL (docs/signals/content-usage.md): train-ai prohibited -> ai-train DENY.
        ("aipref-label-train-ai.xml", "https://ex.com/x", {**TRAIN_DENY, SEARCH: A}, {Tag.LEGACY_LABEL}),
        # Unknown tokens (incl. the pre-1.0 `ai-search`) are ignored: nothing said.
        ("unknown-usage-token.xml", "https://ex.com/x", {}, set()),
        # Several licences: a free one for search, a subscription one for ai-index (read as ai-input).
        ("ai-index-multi-licence.xml", "https://ex.com/docs/a", {INPUT: D, SEARCH: A}, {Tag.CONDITIONAL}),
        ("ai-index-multi-licence.xml", "https://ex.com/blog/a", {}, set()),
        # A narrower scope overrides a broader one only for the usages it mentions (`all` mentions all).
        ("narrow-permits-all.xml", "https://ex.com/open/x", ALL_ALLOW, set()),
        ("narrow-permits-all.xml", "https://ex.com/closed", TRAIN_DENY, set()),
        ("narrow-permits-all.xml", "https://ex.com/pdf", {**TRAIN_DENY, SEARCH: D}, set()),
        ("narrow-permits-all.xml", "https://ex.com/pdfs", TRAIN_DENY, set()),
        # Equal specificity: the later <content> wins.
        ("tie-later-wins.xml", "https://ex.com/a/x", {SEARCH: A}, set()),
        # Full-URL patterns apply to their own host only (case-insensitive, default port ignored).
        ("full-url-content.xml", "https://news.example.com/archive/1", ALL_DENY, set()),
        ("full-url-content.xml", "http://NEWS.example.com:80/archive/1", ALL_DENY, set()),
        ("full-url-content.xml", "https://other.example.com/archive/1", {}, set()),
        ("full-url-content.xml", "https://news.example.com/today", {}, set()),
        ("full-url-content.xml", "https://eu.cdn.example.com/img/cat.jpg", TRAIN_DENY, set()),
        # An un-namespaced <rsl> root is read, tagged lenient.
        ("no-namespace.xml", "https://ex.com/x", TRAIN_DENY, {Tag.LENIENT}),
    ],
)
def test_resolution(fixture: str, url: str, expected: dict[Purpose, Verdict], tags: set[Tag]) -> None:
    signal = _signal(_doc(fixture), url)
    assert _known(signal) == expected
    assert set(signal.tags) == tags
    assert signal.counted


def test_example_2_evidence_names_each_scope_used() -> None:
    signal = _signal(_doc("free-search-articles-deny.xml"), "https://ex.com/articles/x")
    assert signal.evidence == (
        '<content url="/articles/*">: prohibits usage ai-train; '
        '<content url="/">: permits usage search (payment free)'
    )


@pytest.mark.parametrize(
    ("fixture", "needle"),
    [
        ("pay-per-crawl.xml", "payment crawl"),
        ("server-free.xml", "licence server https://ls.ex.com"),
        ("user-non-commercial.xml", "permits user non-commercial,education"),
        ("geo-restricted.xml", "permits geo us,ca"),
        ("ai-index-multi-licence.xml", "permits usage ai-index (payment subscription -> conditional)"),
        ("no-payment-element.xml", "no <payment> element"),
    ],
)
def test_evidence_names_the_condition(fixture: str, needle: str) -> None:
    signal = _signal(_doc(fixture), "https://ex.com/docs/a")
    assert needle in signal.evidence


def test_umbrella_allow_is_hierarchical_and_compact() -> None:
    signal = _signal(_doc("free-all.xml"), "https://ex.com/x")
    assert signal.hierarchical
    assert dict(signal.statement) == {TDM: A}


def test_deny_statement_is_compact() -> None:
    signal = _signal(_doc("prohibits-ai-all.xml"), "https://ex.com/x")
    assert dict(signal.statement) == {TRAIN: D, INPUT: D}


def test_section_14_3_example_5_header_deny_wins_with_conflict() -> None:
    rsl = _signal(_doc("free-ai-train.xml"), "https://ex.com/a", mechanism=Mechanism.RSL)
    header = Signal(
        Mechanism.CONTENT_USAGE_HEADER,
        Scope.RESPONSE,
        "https://ex.com/a",
        "Content-Usage: train-ai=n",
        {TRAIN: D},
    )
    result = combine([header, rsl])
    assert result.verdicts[GENAI] is D
    assert result.verdicts[ML] is D
    assert {GENAI, ML} <= result.conflicts
    assert combine([rsl]).verdicts[GENAI] is A


def test_unknown_tokens_and_labels_are_warned() -> None:
    warnings = " ".join(_doc("unknown-usage-token.xml").warnings)
    assert "'ai-search'" in warnings
    assert "'teleport'" in warnings
    assert "legacy-label" in " ".join(_doc("aipref-label-train-ai.xml").warnings)


def test_bom_is_accepted() -> None:
    doc = RslDocument.parse(_site_file(b"\xef\xbb\xbf" + (FIXTURES / "free-all.xml").read_bytes()))
    assert _known(_signal(doc, "https://ex.com/x")) == ALL_ALLOW


def _nested(size: int) -> bytes:
    depth = size // 20
    return (
        f'<rsl xmlns="{RSL_NAMESPACE}">'.encode()
        + b"<content url='/'>" * depth
        + b"</content>" * depth
        + b"</rsl>"
    )


def _many_contents(count: int) -> bytes:
    item = b"<content url='/'><license><permits type='usage'>all</permits><payment type='free'/></license></content>"
    return f'<rsl xmlns="{RSL_NAMESPACE}">'.encode() + item * count + b"</rsl>"


def _utf16_entity_doc() -> bytes:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE rsl [<!ENTITY t "all">]>'
        f'<rsl xmlns="{RSL_NAMESPACE}"><content url="/"><license><permits type="usage">&t;</permits>'
        '<payment type="free"/></license></content></rsl>'
    )
    return text.encode("utf-16")


# Declared-but-broken licences: one UNVERIFIABLE signal with an empty statement (docs/signals/rsl.md "Failures").
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ((FIXTURES / "billion-laughs.xml").read_bytes(), "entities"),
        ((FIXTURES / "external-entity.xml").read_bytes(), "entities"),
        (_utf16_entity_doc(), "entities"),
        ((FIXTURES / "wrong-namespace.xml").read_bytes(), "not-rsl"),
        ((FIXTURES / "not-xml.html").read_bytes(), "unreadable"),
        ((FIXTURES / "no-content.xml").read_bytes(), "no usable <content>"),
        (b"", "not well-formed"),
        (b"\xff\xfe\x00\x01garbage\x00", "not well-formed"),
        (
            f'<rsl xmlns="{RSL_NAMESPACE}"><content url="/caf\xe9">'.encode("latin-1") + b"</content></rsl>",
            "XML",
        ),
        (_nested(5_000_000), "not well-formed"),
        (_many_contents(10_001), "more than 10000"),
        (f'<rsl xmlns="{RSL_NAMESPACE}"><content url="/"><license>'.encode(), "not well-formed"),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "utf16-entity",
        "wrong-namespace",
        "html-page",
        "no-content",
        "empty",
        "binary",
        "latin1-bytes",
        "5mb-nested",
        "too-many-contents",
        "truncated",
    ],
)
def test_unreadable_licence_is_unverifiable(body: bytes, needle: str) -> None:
    doc = RslDocument.parse(_site_file(body))
    signal = _signal(doc, "https://ex.com/x")
    assert signal.statement == {}
    assert signal.tags == (Tag.UNVERIFIABLE,)
    assert needle in signal.evidence
    assert "root:" not in signal.evidence  # /etc/passwd was never read
    assert doc.warnings


@pytest.mark.parametrize("status", [FetchStatus.UNAVAILABLE, FetchStatus.UNREACHABLE])
def test_unfetchable_licence_is_unverifiable(status: FetchStatus) -> None:
    doc = RslDocument.parse(SiteFile(url=LICENCE_URL, status=status, http_status=503, detail="HTTP 503"))
    signal = _signal(doc, "https://ex.com/x", mechanism=Mechanism.RSL)
    assert signal.statement == {}
    assert signal.tags == (Tag.UNVERIFIABLE,)
    assert status.value in signal.evidence


def test_external_dtd_subset_is_not_loaded(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ELEMENT rsl ANY><!ATTLIST payment type CDATA "free">')
    body = (
        f'<!DOCTYPE rsl SYSTEM "{dtd.as_uri()}"><rsl xmlns="{RSL_NAMESPACE}"><content url="/"><license>'
        '<permits type="usage">all</permits><payment/></license></content></rsl>'
    ).encode()
    signal = _signal(RslDocument.parse(_site_file(body)), "https://ex.com/x")
    assert A not in _known(signal).values()  # a DTD default `type="free"` would have made this ALLOW
    assert Tag.CONDITIONAL in signal.tags


# Discovery (RSL 1.0 guides; RFC 8288).
def _response(*headers: tuple[str, str], body: bytes = b"") -> AssetResponse:
    return AssetResponse(url="https://ex.com/dir/page.html", status=200, headers=headers, body=body)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            '<https://ex.com/l.xml>; rel="license"; type="application/rsl+xml"',
            [("https://ex.com/l.xml", Scope.RESPONSE)],
        ),
        (
            '</l.xml>; rel="License alternate"; type="Application/RSL+XML"',
            [("https://ex.com/l.xml", Scope.RESPONSE)],
        ),
        ('<l.xml>; type="application/rsl+xml"; rel=license', [("https://ex.com/dir/l.xml", Scope.RESPONSE)]),
        ('<https://creativecommons.org/licenses/by/4.0/>; rel="license"', []),
        ('<https://ex.com/l.xml>; rel="license"; type="text/html"', []),
        ('<https://ex.com/l.xml>; rel="describedby"; type="application/rsl+xml"', []),
        ('<file:///etc/passwd>; rel="license"; type="application/rsl+xml"', []),
        (
            '<https://cc.org/x>; rel="license", <https://ex.com/a.xml>; rel="license"; type="application/rsl+xml", '
            '<https://ex.com/a.xml>; rel="license"; type="application/rsl+xml"',
            [("https://ex.com/a.xml", Scope.RESPONSE)],
        ),
        ("garbage <<>>;;; rel", []),
    ],
)
def test_discover_link_header(link: str, expected: list[tuple[str, Scope]]) -> None:
    assert list(discover(_response(("Link", link)), None)) == expected


def test_discover_html_link_and_dedup() -> None:
    body = (
        b'<html><head><link rel="license" href="https://creativecommons.org/licenses/by/4.0/">'
        b'<link rel="LICENSE" type="application/rsl+xml" href="/rsl.xml">'
        b'<link rel="license" type="application/rsl+xml" href="https://ex.com/h.xml"></head></html>'
    )
    response = _response(
        ("Content-Type", "text/html"),
        ("Link", '<https://ex.com/h.xml>; rel=license; type="application/rsl+xml"'),
        body=body,
    )
    head = parse_head(body, response.url)
    assert discover(response, head) == (
        ("https://ex.com/h.xml", Scope.RESPONSE),
        ("https://ex.com/rsl.xml", Scope.DOCUMENT),
    )
    assert discover(_response(), parse_head(b"<html></html>", response.url)) == ()


# Never raises; garbage never becomes consent.
@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=2048))
def test_any_bytes_never_raise_or_allow(body: bytes) -> None:
    doc = RslDocument.parse(_site_file(body))
    signal = _signal(doc, "https://ex.com/x")
    assert A not in signal.statement.values()


_TOKENS = st.sampled_from(
    ["all", "ai-all", "ai-train", "ai-input", "ai-index", "search", "train-ai", "x", ""]
)
_PATHS = st.sampled_from(["/", "/a/", "/a*", "*", "/a$", "", "https://ex.com/a", "https://*.ex.com/", "é"])


@st.composite
def _documents(draw: st.DrawFn) -> tuple[bytes, bool]:
    """An RSL-shaped document and whether any licence could grant consent (payment free, no server)."""
    parts, may_allow = [], False
    for _ in range(draw(st.integers(0, 4))):
        server = draw(st.sampled_from(["", ' server="https://ls.ex.com"']))
        payment = draw(st.sampled_from(["free", "crawl", "", "FREE"]))
        kind = draw(st.sampled_from(["permits", "prohibits"]))
        tokens = ",".join(draw(st.lists(_TOKENS, max_size=3)))
        may_allow |= not server and payment == "free" and kind == "permits"
        parts.append(
            f'<content url="{draw(_PATHS)}"{server}><license><{kind} type="usage">{tokens}</{kind}>'
            f'<payment type="{payment}"/></license></content>'
        )
    return f'<rsl xmlns="{RSL_NAMESPACE}">{"".join(parts)}</rsl>'.encode(), may_allow


@settings(max_examples=300, deadline=None)
@given(document=_documents(), path=st.sampled_from(["/", "/a/b", "/a", "/b?x=1"]))
def test_structured_documents_never_raise_and_allow_only_when_free(
    document: tuple[bytes, bool], path: str
) -> None:
    body, may_allow = document
    signal = _signal(RslDocument.parse(_site_file(body)), "https://ex.com" + path)
    known = _known(signal)
    if not may_allow:
        assert A not in known.values()
    if Tag.UNVERIFIABLE in signal.tags:
        assert known == {}


def _inline(licence: str, *, url: str = "/", server: str = "") -> RslDocument:
    attrs = f' url="{url}"' + (f' server="{server}"' if server else "")
    body = f'<rsl xmlns="{RSL_NAMESPACE}"><content{attrs}><license>{licence}</license></content></rsl>'
    return RslDocument.parse(_site_file(body.encode()))


@pytest.mark.parametrize(
    ("licence", "expected", "tags"),
    [
        # AIPREF labels inside RSL go through consentry.policies.aipref (docs/signals/content-usage.md), tagged legacy-label.
        (
            '<permits type="usage">ai-output</permits><payment type="free"/>',
            {INPUT: A, SEARCH: A},
            {Tag.LEGACY_LABEL},
        ),
        ('<permits type="usage">train-ai</permits><payment type="free"/>', {GENAI: A}, {Tag.LEGACY_LABEL}),
        ('<prohibits type="usage">bots</prohibits>', ALL_DENY, {Tag.LEGACY_LABEL}),
        # Tokens are comma/space separated and case-insensitive; payment `free` is exact.
        (
            '<permits type="usage"> Search ,AI-Input </permits><payment type="free"/>',
            {SEARCH: A, INPUT: A},
            set(),
        ),
        ('<permits type="usage">search</permits><payment type="FREE"/>', {SEARCH: D}, {Tag.CONDITIONAL}),
        # Any non-free payment alongside `free` keeps it conditional (attribution is a condition).
        (
            '<permits type="usage">search</permits><payment type="free"/><payment type="attribution"/>',
            {SEARCH: D},
            {Tag.CONDITIONAL},
        ),
        # A prohibition without a type is read as a usage prohibition; a permission without one is ignored.
        ("<prohibits>ai-train</prohibits>", TRAIN_DENY, set()),
        ('<permits>all</permits><payment type="free"/>', {}, set()),
        # A user prohibition on commercial use makes the offer conditional.
        (
            '<permits type="usage">search</permits><prohibits type="user">commercial</prohibits><payment type="free"/>',
            {SEARCH: D},
            {Tag.CONDITIONAL},
        ),
        # Free for search, priced for everything else: the free offer answers search.
        (
            '<permits type="usage">all</permits><payment type="crawl"/></license><license>'
            '<permits type="usage">search</permits><payment type="free"/>',
            {TDM: D, TRAIN: D, GENAI: D, ML: D, INPUT: D, SEARCH: A},
            {Tag.CONDITIONAL},
        ),
    ],
)
def test_inline_licences(licence: str, expected: dict[Purpose, Verdict], tags: set[Tag]) -> None:
    signal = _signal(_inline(licence), "https://ex.com/x")
    assert _known(signal) == expected
    assert set(signal.tags) == tags


def test_permits_without_type_is_warned() -> None:
    assert any("ignored" in w for w in _inline('<permits>all</permits><payment type="free"/>').warnings)


def test_content_without_url_is_skipped_and_warned() -> None:
    doc = _inline("<prohibits type='usage'>all</prohibits>", url="")
    signal = _signal(doc, "https://ex.com/x")
    assert Tag.UNVERIFIABLE in signal.tags  # the only <content> was unusable
    assert any("without a url" in w for w in doc.warnings)


def test_tokens_after_a_comment_are_read() -> None:
    signal = _signal(
        _inline('<prohibits type="usage">search<!-- and -->,ai-train</prohibits>'), "https://ex.com/x"
    )
    assert _known(signal) == {**TRAIN_DENY, SEARCH: D}
