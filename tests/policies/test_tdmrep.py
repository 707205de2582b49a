"""W3C TDMRep (docs/signals/tdmrep.md): tdmrep.json rules, header and HTML layers, layering into signals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.combine import combine
from consentry.policies.html import HtmlHead, parse_head
from consentry.policies.model import AssetResponse, FetchStatus, Signal, SiteFile
from consentry.policies.tdmrep import (
    TdmLayer,
    TdmrepFile,
    header_layer,
    header_warnings,
    html_layer,
    html_warnings,
    signals,
)
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tdmrep"
ORIGIN = "https://ex.com"
FILE_URL = f"{ORIGIN}/.well-known/tdmrep.json"
A, D, U = Verdict.ALLOW, Verdict.DENY, Verdict.UNKNOWN
RESERVED = {Purpose.AI_TRAIN: D, Purpose.AI_INPUT: D}
NOT_RESERVED = {Purpose.TDM: A}


def site_file(body: bytes, status: int = 200) -> SiteFile:
    return SiteFile.from_http(FILE_URL, status, body)


def fixture_file(name: str) -> TdmrepFile:
    return TdmrepFile.parse(site_file((FIXTURES / name).read_bytes()))


def file_layer(reservation: int) -> TdmLayer | None:
    body = json.dumps([{"location": "/", "tdm-reservation": reservation}]).encode()
    return TdmrepFile.parse(site_file(body)).layer(f"{ORIGIN}/page.html")


def response(*headers: tuple[str, str], url: str = f"{ORIGIN}/page.html") -> AssetResponse:
    return AssetResponse(url, 200, headers)


def page(meta: str) -> HtmlHead:
    return parse_head(f"<html><head>{meta}</head><body></body></html>".encode(), f"{ORIGIN}/page.html")


def counted(sigs: list[Signal]) -> list[Signal]:
    return [s for s in sigs if s.counted]


# --- examples 1 and 2 (docs/signals/tdmrep.md): tdmrep.json rules ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/a/b/c.jpg", "/index.html?q=1", "/%7Euser/"])
def test_example1_root_rule_reserves_every_path(path: str) -> None:
    layer = fixture_file("root-reserved.json").layer(ORIGIN + path)
    assert layer is not None
    assert layer.reservation == 1
    (signal,) = signals([layer])
    assert signal.statement == RESERVED
    assert signal.counted
    verdicts = combine([signal]).verdicts
    assert verdicts[Purpose.GENAI_TRAIN] is D
    assert verdicts[Purpose.ML_TRAIN] is D
    assert verdicts[Purpose.AI_INPUT] is D
    assert verdicts[Purpose.SEARCH] is U
    assert "search not covered (TDMRep CG position)" in signal.evidence


@pytest.mark.parametrize(
    ("path", "reservation", "policy"),
    [
        ("/directory-a/report.pdf", 1, None),
        ("/directory-b/images/cat.jpg", 0, None),
        ("/directory-b/images/cat.png", None, None),
        ("/directory-b/html/x.html", 1, "https://provider.com/policies/policy.json"),
        ("/Directory-A/report.pdf", None, None),  # matching is case-sensitive
        ("/other/", None, None),
    ],
)
def test_example2_three_rule_file(path: str, reservation: int | None, policy: str | None) -> None:
    layer = fixture_file("three-rules.json").layer(ORIGIN + path)
    if reservation is None:
        assert layer is None
        return
    assert layer is not None
    assert (layer.reservation, layer.policy) == (reservation, policy)
    assert (layer.mechanism, layer.scope, layer.source) == (Mechanism.TDMREP_FILE, Scope.SITE, FILE_URL)


def test_example2_policy_is_evidence_not_consent() -> None:
    (signal,) = signals([fixture_file("three-rules.json").layer(f"{ORIGIN}/directory-b/html/x.html")])
    assert signal.statement == RESERVED
    assert "https://provider.com/policies/policy.json" in signal.evidence
    assert "not consent" in signal.evidence


def test_example2_reservation_zero_is_hierarchical_tdm_allow() -> None:
    (signal,) = signals([fixture_file("three-rules.json").layer(f"{ORIGIN}/directory-b/images/cat.jpg")])
    assert signal.statement == NOT_RESERVED
    assert signal.hierarchical
    assert combine([signal]).verdicts == dict.fromkeys(Purpose, A)


def test_evidence_names_the_rule_by_index_as_compact_json() -> None:
    body = b'[{"location": "/a/", "tdm-reservation": 0}, {"location": "/img/", "tdm-reservation": 1}]'
    layer = TdmrepFile.parse(site_file(body)).layer(f"{ORIGIN}/img/cat.jpg")
    assert layer is not None
    assert layer.evidence == 'rule 2: {"location": "/img/", "tdm-reservation": 1}'


def test_first_matching_rule_wins_in_array_order() -> None:
    body = b'[{"location": "/", "tdm-reservation": 1}, {"location": "/open/", "tdm-reservation": 0}]'
    layer = TdmrepFile.parse(site_file(body)).layer(f"{ORIGIN}/open/x")
    assert layer is not None
    assert (layer.reservation, layer.tags) == (1, ())
    assert layer.evidence.startswith("rule 1:")


# --- example 3 (docs/readings.md): the ordering trap --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reservation", "tags"),
    [("/premium/a", 1, (Tag.CONFLICT,)), ("/free/a", 0, ()), ("/", 0, ())],
)
def test_example3_ordering_trap(path: str, reservation: int, tags: tuple[Tag, ...]) -> None:
    layer = fixture_file("ordering-trap.json").layer(ORIGIN + path)
    assert layer is not None
    assert (layer.reservation, layer.tags) == (reservation, tags)
    if tags:
        assert "rule 1: " in layer.evidence
        assert "rule 2: " in layer.evidence
        assert signals([layer])[0].statement == RESERVED


# --- examples 4 and 5: layering (TDMRep "Processing priority") ------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "headers", "meta", "effective", "statement"),
    [
        # ex 4 step 2: the header supersedes the file
        (1, [("tdm-reservation", "0")], "", Mechanism.TDMREP_HEADER, NOT_RESERVED),
        # ex 4 step 3: the page's meta supersedes the header
        (
            1,
            [("tdm-reservation", "0")],
            '<meta name="tdm-reservation" content="1">',
            Mechanism.TDMREP_HTML,
            RESERVED,
        ),
        # ex 4: a later response without TDM headers keeps the file's 1 (absence never resets)
        (1, [], "", Mechanism.TDMREP_FILE, RESERVED),
        # ex 5: `yes` is a protocol error, unset at that step; the file's value stands
        (1, [("tdm-reservation", "yes")], "", Mechanism.TDMREP_FILE, RESERVED),
        (0, [("TDM-Reservation", "1")], "", Mechanism.TDMREP_HEADER, RESERVED),
        (0, [], '<meta name="tdm-reservation" content="maybe">', Mechanism.TDMREP_FILE, NOT_RESERVED),
    ],
)
def test_layering(
    file: int,
    headers: list[tuple[str, str]],
    meta: str,
    effective: Mechanism,
    statement: dict[Purpose, Verdict],
) -> None:
    layers = [
        file_layer(file),
        header_layer(response(*headers)),
        html_layer(page(meta), f"{ORIGIN}/page.html"),
    ]
    sigs = signals(layers)
    (final,) = counted(sigs)
    assert final.mechanism is effective
    assert final.statement == statement
    for signal in sigs:
        if signal is not final:
            assert not signal.counted
            assert signal.evidence.endswith(f"(superseded by {effective.value})")


def test_example5_header_yes_is_unset_and_reported() -> None:
    bad = response(("tdm-reservation", "yes"))
    assert header_layer(bad) is None
    (warning,) = header_warnings(bad)
    assert "'yes'" in warning
    assert "protocol error" in warning


def test_worked_example_14_3_2() -> None:
    layers = [file_layer(1), header_layer(response(("tdm-reservation", "0")))]
    content_signal = Signal(
        Mechanism.ROBOTS_CONTENT_SIGNAL,
        Scope.SITE,
        f"{ORIGIN}/robots.txt",
        "ai-train=no",
        {Purpose.AI_TRAIN: D},
    )
    verdicts = combine([*signals(layers), content_signal]).verdicts
    expected = {Purpose.GENAI_TRAIN: D, Purpose.ML_TRAIN: D, Purpose.AI_INPUT: A, Purpose.SEARCH: A}
    assert {p: verdicts[p] for p in expected} == expected


def test_embedded_layer_supersedes_and_unset_embedded_layer_does_not_reset() -> None:
    pdf = TdmLayer(Mechanism.TDMREP_PDF, Scope.EMBEDDED, f"{ORIGIN}/a.pdf", 0, None, "xmp tdm:reservation 0")
    unset = TdmLayer(
        Mechanism.TDMREP_EPUB, Scope.EMBEDDED, f"{ORIGIN}/a.epub", None, "https://p", "tdm:policy only"
    )
    sigs = signals([file_layer(1), None, pdf, unset])
    assert [(s.mechanism, s.counted) for s in sigs] == [
        (Mechanism.TDMREP_FILE, False),
        (Mechanism.TDMREP_PDF, True),
        (Mechanism.TDMREP_EPUB, False),
    ]
    assert sigs[0].evidence.endswith("(superseded by tdmrep-pdf)")
    assert sigs[2].statement == {}
    assert "earlier layers stand" in sigs[2].evidence


def test_no_layers_no_signals() -> None:
    assert signals([None, None, None]) == []


# --- site-file fetch status --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 403])
def test_unavailable_file_means_not_implemented(status: int) -> None:
    parsed = TdmrepFile.parse(site_file(b'[{"location": "/", "tdm-reservation": 1}]', status))
    assert parsed.status is FetchStatus.UNAVAILABLE
    assert parsed.layer(f"{ORIGIN}/x") is None
    assert parsed.unreachable_signal() is None


@pytest.mark.parametrize(
    ("fetched", "detail"),
    [
        (SiteFile.from_http(FILE_URL, 503, b"busy"), "HTTP 503"),
        (SiteFile.from_http(FILE_URL, 429, b""), "HTTP 429"),
        (SiteFile.from_error(FILE_URL, "connection refused"), "connection refused"),
    ],
)
def test_unreachable_file_is_unverifiable(fetched: SiteFile, detail: str) -> None:
    parsed = TdmrepFile.parse(fetched)
    assert parsed.layer(f"{ORIGIN}/x") is None
    signal = parsed.unreachable_signal()
    assert signal is not None
    assert (signal.mechanism, signal.scope, signal.source) == (Mechanism.TDMREP_FILE, Scope.SITE, FILE_URL)
    assert signal.statement == {}
    assert signal.tags == (Tag.UNVERIFIABLE,)
    assert detail in signal.evidence


def test_ok_file_has_no_unreachable_signal() -> None:
    assert fixture_file("three-rules.json").unreachable_signal() is None


# --- malformed files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        ("not-an-array.json", "not an array"),
        ("truncated-json.json", "not valid JSON"),
        ("html-error-page.json", "not valid JSON"),
    ],
)
def test_malformed_file_is_ignored_with_a_warning(name: str, warning: str) -> None:
    parsed = fixture_file(name)
    assert parsed.rules == ()
    assert parsed.layer(f"{ORIGIN}/") is None
    (found,) = parsed.warnings
    assert warning in found


def test_bad_rules_are_skipped_with_one_warning_each() -> None:
    parsed = fixture_file("bad-rules.json")
    assert [rule.index for rule in parsed.rules] == [9]
    assert [w.split(":", 1)[0] for w in parsed.warnings] == [f"rule {i}" for i in range(1, 9)]
    assert "not 0 or 1" in parsed.warnings[3]
    for path in ("/no-value/", "/yes/", "/two/", "/float/"):
        assert parsed.layer(ORIGIN + path) is None
    layer = parsed.layer(f"{ORIGIN}/img/a.png")
    assert layer is not None
    assert layer.evidence.startswith("rule 9: ")


@pytest.mark.parametrize(
    ("path", "reservation", "tags"),
    [
        ("/string-one/x", 1, (Tag.LENIENT,)),
        ("/true/x", 1, (Tag.LENIENT,)),
        ("/string-zero/x", 0, (Tag.LENIENT,)),
        ("/false/x", 0, (Tag.LENIENT,)),
        ("/no-slash/x", 1, (Tag.LENIENT,)),
    ],
)
def test_lenient_values_are_tagged(path: str, reservation: int, tags: tuple[Tag, ...]) -> None:
    layer = fixture_file("lenient-values.json").layer(ORIGIN + path)
    assert layer is not None
    assert (layer.reservation, layer.tags) == (reservation, tags)
    assert "lenient" in layer.evidence


def test_bom_is_stripped() -> None:
    layer = fixture_file("bom-utf8.json").layer(f"{ORIGIN}/x")
    assert layer is not None
    assert (layer.reservation, layer.policy) == (1, "https://ex.com/policy.json")


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000,
        b'[{"location": "/", "tdm-reservation": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]",
        b"\x00" * 1000,
        b"\xff\xfe[\x00{\x00",
        b"[" + b'{"location": "/", "tdm-reservation": 1e99999},' * 2000 + b"{}]",
        b'[{"location": "/", "tdm-reservation": 1' + b"0" * 5000 + b"}]",
        b"[]",
        b"null",
        b'"[]"',
    ],
    ids=["deep-array", "deep-value", "nul", "utf16", "huge-floats", "huge-int", "empty", "null", "string"],
)
def test_hostile_bodies_never_raise_and_never_grant(body: bytes) -> None:
    parsed = TdmrepFile.parse(site_file(body))
    assert parsed.layer(f"{ORIGIN}/x") is None
    assert all(len(w) < 1000 for w in parsed.warnings)


def test_rule_with_a_deeply_nested_extra_key_still_counts() -> None:
    nested = "[" * 500 + "]" * 500
    body = f'[{{"location": "/", "tdm-reservation": 1, "x": {nested}}}]'.encode()
    layer = TdmrepFile.parse(site_file(body)).layer(f"{ORIGIN}/x")
    assert layer is not None
    assert layer.reservation == 1


def test_huge_location_is_truncated_in_evidence() -> None:
    body = json.dumps([{"location": "/" + "a" * 100_000, "tdm-reservation": 1}]).encode()
    layer = TdmrepFile.parse(site_file(body)).layer(f"{ORIGIN}/" + "a" * 100_000)
    assert layer is not None
    assert len(layer.evidence) < 500


# --- header and HTML layers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reservation", "tags"),
    [
        ([("tdm-reservation", "1")], 1, ()),
        ([("TDM-Reservation", " 0 ")], 0, ()),
        ([("tdm-reservation", "1"), ("tdm-reservation", "0")], 1, (Tag.CONFLICT,)),
        ([("tdm-reservation", "0, 1")], 1, (Tag.CONFLICT,)),
        ([("tdm-reservation", "0"), ("tdm-reservation", "0")], 0, ()),
        ([("tdm-reservation", "yes"), ("tdm-reservation", "1")], 1, ()),
        ([("tdm-reservation", "")], None, ()),
        ([("tdm-reservation", "true")], None, ()),
        ([("tdm-policy", "https://p")], None, ()),
        ([], None, ()),
    ],
)
def test_header_layer(headers: list[tuple[str, str]], reservation: int | None, tags: tuple[Tag, ...]) -> None:
    layer = header_layer(response(*headers))
    if reservation is None:
        assert layer is None
        return
    assert layer is not None
    assert (layer.reservation, layer.tags) == (reservation, tags)
    assert (layer.mechanism, layer.scope, layer.source) == (
        Mechanism.TDMREP_HEADER,
        Scope.RESPONSE,
        f"{ORIGIN}/page.html",
    )


def test_header_policy_goes_to_evidence() -> None:
    layer = header_layer(response(("tdm-reservation", "1"), ("TDM-Policy", " https://ex.com/p.json ")))
    assert layer is not None
    assert layer.policy == "https://ex.com/p.json"
    assert layer.evidence == "tdm-reservation: 1; tdm-policy: https://ex.com/p.json"


@pytest.mark.parametrize(
    ("meta", "reservation", "tags"),
    [
        ('<meta name="tdm-reservation" content="1">', 1, ()),
        ('<META NAME="TDM-Reservation" CONTENT="0">', 0, ()),
        ('<meta http-equiv="tdm-reservation" content="1">', 1, (Tag.LENIENT,)),
        (
            '<meta name="tdm-reservation" content="1"><meta name="tdm-reservation" content="0">',
            1,
            (Tag.CONFLICT,),
        ),
        ('<meta name="tdm-reservation" content="on">', None, ()),
        ('<meta name="tdm-policy" content="https://p">', None, ()),
        ('<meta property="tdm-reservation" content="1">', None, ()),
    ],
)
def test_html_layer(meta: str, reservation: int | None, tags: tuple[Tag, ...]) -> None:
    layer = html_layer(page(meta), f"{ORIGIN}/page.html")
    if reservation is None:
        assert layer is None
        return
    assert layer is not None
    assert (layer.reservation, layer.tags) == (reservation, tags)
    assert (layer.mechanism, layer.scope) == (Mechanism.TDMREP_HTML, Scope.DOCUMENT)


def test_html_policy_and_warnings() -> None:
    head = page(
        '<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://ex.com/p">'
    )
    layer = html_layer(head, f"{ORIGIN}/page.html")
    assert layer is not None
    assert layer.policy == "https://ex.com/p"
    assert "protocol error" in html_warnings(page('<meta name="tdm-reservation" content="on">'))[0]


def test_hostile_header_values() -> None:
    hostile = response(
        ("tdm-reservation", "," * 10_000),
        ("tdm-reservation", "x" * 1_000_000),
        ("tdm-reservation", "\x00"),
        ("tdm-reservation", "ÿ\u202e1"),
    )
    assert header_layer(hostile) is None
    assert all(len(w) < 1000 for w in header_warnings(hostile))
    many = response(*[("tdm-reservation", "1,0")] * 5000)
    layer = header_layer(many)
    assert layer is not None
    assert layer.reservation == 1
    assert len(layer.evidence) < 1000


# --- properties ------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_never_raise(body: bytes) -> None:
    parsed = TdmrepFile.parse(site_file(body))
    layer = parsed.layer(f"{ORIGIN}/a/b")
    if parsed.rules:  # pure garbage yields no rule, so no ALLOW
        assert b"tdm-reservation" in body
    assert layer is None or layer.reservation in (0, 1)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.floats()
    | st.sampled_from(["/", "0", "1", "/a*", "$"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["location", "tdm-reservation", "tdm-policy", "x"]), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_JSON, max_size=6))
def test_any_json_rules_never_raise(rules: list[object]) -> None:
    parsed = TdmrepFile.parse(site_file(json.dumps(rules).encode()))
    for rule in parsed.rules:
        assert rule.reservation in (0, 1)
    for layer in (parsed.layer(f"{ORIGIN}/a"), parsed.layer(f"{ORIGIN}/")):
        for signal in signals([layer]):
            assert signal.statement in (RESERVED, NOT_RESERVED)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=5), st.text(max_size=200))
def test_any_header_or_meta_never_raises(values: list[str], html: str) -> None:
    layer = header_layer(response(*[("tdm-reservation", v) for v in values]))
    if layer is not None and layer.reservation == 0:
        assert any(part.strip() == "0" for v in values for part in v.split(","))
    header_warnings(response(*[("tdm-reservation", v) for v in values]))
    head = parse_head(html.encode("utf-8", "surrogatepass"), f"{ORIGIN}/p")
    html_layer(head, f"{ORIGIN}/p")
    html_warnings(head)
