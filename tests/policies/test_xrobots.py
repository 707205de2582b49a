"""X-Robots-Tag and meta robots: noai, noimageai and related directives (docs/signals/x-robots-tag.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.combine import combine
from consentry.policies.html import HtmlHead, parse_head
from consentry.policies.model import AssetResponse, Signal
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict
from consentry.policies.xrobots import header_signals, meta_signals, page_media_signals, parse_directives

AGENT = "ExampleAIBot"
PAGE = "https://ex.com/page.html"
IMAGE = "https://ex.com/img/cat.jpg"
A, D, U = Verdict.ALLOW, Verdict.DENY, Verdict.UNKNOWN
NOAI = {Purpose.AI_TRAIN: D, Purpose.AI_INPUT: D}
SEARCH_DENY = {Purpose.SEARCH: D}
SHOWN = (Purpose.GENAI_TRAIN, Purpose.ML_TRAIN, Purpose.AI_INPUT, Purpose.SEARCH)


def xrt(*values: str, content_type: str = "image/jpeg", url: str = IMAGE) -> AssetResponse:
    headers = [("X-Robots-Tag", v) for v in values]
    if content_type:
        headers.append(("Content-Type", content_type))
    return AssetResponse(url, 200, tuple(headers))


def head(*metas: str) -> HtmlHead:
    return parse_head(f"<html><head>{''.join(metas)}</head><body></body></html>".encode(), PAGE)


def verdicts(signals: list[Signal] | tuple[Signal, ...]) -> tuple[Verdict, ...]:
    """genai-train / ml-train / ai-input / search, as in docs/purposes.md."""
    combined = combine(signals).verdicts
    return tuple(combined[p] for p in SHOWN)


def plain(signals: list[Signal]) -> list[Signal]:
    """Signals without inferred/vendor-specific/lenient qualifiers."""
    return [s for s in signals if not s.tags]


# --- parsing (docs/signals/x-robots-tag.md) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("noai", [(None, "noai")]),
        ("NOAI , NoImageAI", [(None, "noai"), (None, "noimageai")]),
        ("GPTBot: noai", [("GPTBot", "noai")]),
        ("googlebot: nofollow, noindex", [("googlebot", "nofollow"), ("googlebot", "noindex")]),
        ("noindex, otherbot: noai", [(None, "noindex"), ("otherbot", "noai")]),
        (
            "unavailable_after: 25 Jun 2030 15:00:00 PST",
            [(None, "unavailable_after:25 jun 2030 15:00:00 pst")],
        ),
        ("max-snippet: 0", [(None, "max-snippet:0")]),
        ("MAX-IMAGE-PREVIEW:large", [(None, "max-image-preview:large")]),
        ("googlebot: max-snippet : -1", [("googlebot", "max-snippet:-1")]),
        ("bot:", []),
        ("bot: , noai", [("bot", "noai")]),
        ("", []),
        (",,, ,", []),
        ("some bot: noai", [(None, "some bot: noai")]),  # not a product token: not an agent prefix
        ("a.b-c_d: noai", [("a.b-c_d", "noai")]),
    ],
)
def test_parse_directives(value: str, expected: list[tuple[str | None, str]]) -> None:
    assert parse_directives(value) == expected


# --- examples (agent ExampleAIBot) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected", "inferred"),
    [
        # ex 1: noai → ai-train, ai-input DENY (genai-train, ml-train inherit)
        (["noai"], (D, D, D, U), None),
        # ex 2: addressed to GPTBot → no statement for us; an inferred record
        (["GPTBot: noai"], (U, U, U, U), "GPTBot"),
        # ex 3: noindex, nofollow → search DENY, AI purposes UNKNOWN
        (["noindex, nofollow"], (U, U, U, D), None),
        # ex 5: a date directive is not an agent; the second line addresses us
        (["unavailable_after: 25 Jun 2030 15:00:00 PST", "exampleaibot: noai"], (D, D, D, U), None),
        # agent resets at each line
        (["GPTBot: noindex", "noai"], (D, D, D, U), None),
        (["EXAMPLEAIBOT: none"], (U, U, U, D), None),
        (["otherbot: noindex"], (U, U, U, U), None),
        (["noimageai"], (D, D, D, U), None),  # the response is an image
        (["noimageindex"], (U, U, U, D), None),
        (["nofollow, foo, noai-please"], (U, U, U, U), None),
    ],
)
def test_section_8_4_header_examples(
    lines: list[str], expected: tuple[Verdict, ...], inferred: str | None
) -> None:
    signals = header_signals(xrt(*lines), AGENT)
    assert verdicts(plain(signals)) == expected
    for signal in signals:
        assert (signal.mechanism, signal.scope, signal.source) == (
            Mechanism.X_ROBOTS_TAG,
            Scope.RESPONSE,
            IMAGE,
        )
    others = [s for s in signals if Tag.INFERRED in s.tags]
    if inferred is None:
        assert others == []
    else:
        (signal,) = others
        assert signal.statement == NOAI
        assert f"addressed to {inferred}" in signal.evidence


def test_evidence_is_the_raw_header_line() -> None:
    (signal,) = header_signals(xrt("unavailable_after: 1 Jan 2030", "noai"), AGENT)
    assert signal.evidence == "X-Robots-Tag: noai"
    assert signal.statement == NOAI
    assert signal.tags == ()


def test_directives_of_one_response_combine_into_one_statement() -> None:
    (signal,) = header_signals(xrt("noindex", "noai, nofollow"), AGENT)
    assert signal.statement == {**NOAI, **SEARCH_DENY}
    assert signal.evidence == "X-Robots-Tag: noindex; X-Robots-Tag: noai, nofollow"


@pytest.mark.parametrize(
    ("value", "statement", "tag"),
    [
        ("nosnippet", {Purpose.AI_INPUT: D}, Tag.VENDOR_SPECIFIC),
        ("max-snippet:0", {Purpose.AI_INPUT: D}, Tag.VENDOR_SPECIFIC),
        ("max-snippet: -0", {Purpose.AI_INPUT: D}, Tag.VENDOR_SPECIFIC),
        ("max-snippet:00", {Purpose.AI_INPUT: D}, Tag.VENDOR_SPECIFIC),
        ("noarchive", {Purpose.GENAI_TRAIN: D, Purpose.AI_INPUT: D}, Tag.VENDOR_SPECIFIC),
        ("nocache", {}, Tag.VENDOR_SPECIFIC),
        ("noml", NOAI, Tag.LENIENT),
    ],
)
def test_qualified_directives_get_their_own_signal(
    value: str, statement: dict[Purpose, Verdict], tag: Tag
) -> None:
    signals = header_signals(xrt(f"noai, {value}"), AGENT)
    assert [s.tags for s in signals] == [(), (tag,)]
    assert signals[0].statement == NOAI
    assert signals[1].statement == statement


@pytest.mark.parametrize("value", ["max-snippet:-1", "max-snippet:10", "max-snippet:", "max-snippet:0x0"])
def test_nonzero_max_snippet_says_nothing(value: str) -> None:
    assert header_signals(xrt(value), AGENT) == []


@pytest.mark.parametrize(
    ("content_type", "url", "statement"),
    [
        ("image/png", IMAGE, NOAI),
        ("IMAGE/WEBP; charset=x", IMAGE, NOAI),
        ("text/html; charset=utf-8", PAGE, {}),
        ("application/pdf", "https://ex.com/a.pdf", {}),
        ("", "https://ex.com/a.PNG?x=1", NOAI),  # no Content-Type: the extension decides (conservative)
        ("application/octet-stream", "https://ex.com/a.jpeg", NOAI),
        ("", PAGE, {}),
    ],
)
def test_noimageai_applies_only_to_images(
    content_type: str, url: str, statement: dict[Purpose, Verdict]
) -> None:
    (signal,) = header_signals(xrt("noimageai", content_type=content_type, url=url), AGENT)
    assert signal.statement == statement
    if not statement:
        assert "images only" in signal.evidence


def test_other_agents_non_ai_directives_are_ignored() -> None:
    assert header_signals(xrt("GPTBot: noindex, nosnippet, noarchive"), AGENT) == []


def test_inferred_signals_per_other_agent() -> None:
    signals = header_signals(xrt("GPTBot: noai", "CCBot: noimageai", "noindex"), AGENT)
    assert [(s.tags, s.statement) for s in signals] == [
        ((), SEARCH_DENY),
        ((Tag.INFERRED,), NOAI),
        ((Tag.INFERRED,), NOAI),
    ]
    assert "CCBot" in signals[2].evidence


def test_no_header_no_signal() -> None:
    assert header_signals(AssetResponse(IMAGE, 200, (("Content-Type", "image/jpeg"),)), AGENT) == []


# --- meta robots and page inheritance ----------------------------------------------------------------------


def test_example4_page_noimageai_does_not_cover_the_page_but_its_images() -> None:
    page = head('<meta name="robots" content="noimageai">')
    signals = meta_signals(page, PAGE, AGENT)
    assert verdicts(signals) == (U, U, U, U)
    inherited = page_media_signals(page, PAGE, AGENT)
    assert verdicts(inherited) == (D, D, D, U)
    (signal,) = inherited
    assert (signal.mechanism, signal.scope, signal.source) == (Mechanism.PAGE_INHERITED, Scope.DOCUMENT, PAGE)
    assert signal.evidence == f'<meta name="robots" content="noimageai"> on {PAGE}'


@pytest.mark.parametrize(
    ("metas", "page", "media"),
    [
        (['<meta name="robots" content="noai">'], (D, D, D, U), (D, D, D, U)),
        (['<meta name="ROBOTS" content="NoAI, NoIndex">'], (D, D, D, D), (D, D, D, U)),
        (['<meta name="ExampleAIBot" content="noai">'], (D, D, D, U), (D, D, D, U)),
        (['<meta name="robots" content="noimageindex">'], (U, U, U, U), (U, U, U, D)),
        (['<meta name="robots" content="noindex">'], (U, U, U, D), (U, U, U, U)),
        (
            ['<meta name="robots" content="noindex">', '<meta name="robots" content="noai">'],
            (D, D, D, D),
            (D, D, D, U),
        ),
        (['<meta name="GPTBot" content="noai">'], (U, U, U, U), (U, U, U, U)),
        (
            ['<meta name="keywords" content="noai">', '<meta name="description" content="noai">'],
            (U, U, U, U),
            None,
        ),
        (['<meta property="robots" content="noai">'], (U, U, U, U), (U, U, U, U)),
        (['<meta name="robots" content="nosnippet">'], (U, U, U, U), (U, U, U, U)),
    ],
)
def test_meta_robots(metas: list[str], page: tuple[Verdict, ...], media: tuple[Verdict, ...] | None) -> None:
    document = head(*metas)
    signals = meta_signals(document, PAGE, AGENT)
    assert verdicts(plain(signals)) == page
    for signal in signals:
        assert (signal.mechanism, signal.scope, signal.source) == (
            Mechanism.META_ROBOTS,
            Scope.DOCUMENT,
            PAGE,
        )
    if media is not None:
        assert verdicts(page_media_signals(document, PAGE, AGENT)) == media
    if page == (U, U, U, U) and media is None:
        assert signals == []


def test_meta_for_another_crawler_is_inferred() -> None:
    (signal,) = meta_signals(head('<meta name="GPTBot" content="noai, noindex">'), PAGE, AGENT)
    assert signal.tags == (Tag.INFERRED,)
    assert signal.statement == NOAI
    assert "addressed to gptbot" in signal.evidence


def test_meta_nosnippet_is_vendor_specific() -> None:
    (signal,) = meta_signals(head('<meta name="robots" content="nosnippet">'), PAGE, AGENT)
    assert signal.tags == (Tag.VENDOR_SPECIFIC,)
    assert signal.statement == {Purpose.AI_INPUT: D}


# --- combination examples (docs/purposes.md) ----------------------------------------------------------------------------------


def test_worked_example_14_3_3_noai_beats_creator_allow() -> None:
    c2pa = Signal(
        Mechanism.C2PA,
        Scope.EMBEDDED,
        IMAGE,
        "cawg.ai_generative_training: allowed",
        {Purpose.GENAI_TRAIN: A},
    )
    assert verdicts([*header_signals(xrt("noai"), AGENT), c2pa]) == (D, D, D, U)


def test_worked_example_14_3_6_noindex_denies_search_iptc_allowed() -> None:
    iptc = Signal(
        Mechanism.IPTC_XMP,
        Scope.EMBEDDED,
        IMAGE,
        "plus:DataMining DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        {Purpose.AI_TRAIN: D, Purpose.AI_INPUT: D, Purpose.SEARCH: A},
    )
    assert verdicts([*header_signals(xrt("noindex"), AGENT), iptc]) == (D, D, D, D)


# --- hostile inputs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "," * 10_000,
        "no\x00ai",
        "\x00noai\x00",
        "nöai, ノーエーアイ, \ufffd\ufffd",
        "x" * 1_000_000,
        "a" * 500_000 + ": " + "b" * 500_000,
        "unavailable_after: " + ":" * 100_000,
        ": noai",
        "noai:",
    ],
    ids=[
        "commas",
        "nul-inside",
        "nul-around",
        "non-latin-1",
        "1mb-token",
        "1mb-agent",
        "colons",
        "no-agent",
        "colon",
    ],
)
def test_hostile_values_say_nothing(value: str) -> None:
    assert header_signals(xrt(value), AGENT) == []


def test_hostile_values_are_bounded_in_evidence() -> None:
    (signal,) = header_signals(xrt("noai" + " " * 1_000_000, *["noai, " * 10_000] * 50), AGENT)
    assert signal.statement == NOAI
    assert len(signal.evidence) < 5000
    agent_flood = header_signals(xrt(",".join(f"bot{i}: noai" for i in range(10_000))), AGENT)
    assert all(Tag.INFERRED in s.tags for s in agent_flood)
    assert len(parse_directives("noai," * 10_000)) == 10_000


# --- properties --------------------------------------------------------------------------------------------------


_TOKENS = st.sampled_from(
    ["noai", "noimageai", "noindex", "GPTBot:", "ExampleAIBot:", ":", ",", " ", "max-snippet:0"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(max_size=40) | st.lists(_TOKENS, max_size=8).map("".join), max_size=4),
    st.text(max_size=20),
)
def test_headers_never_raise_and_never_grant(values: list[str], content_type: str) -> None:
    for agent, directive in [pair for v in values for pair in parse_directives(v)]:
        assert directive == directive.strip() or directive.startswith(("unavailable_after", "max-"))
        assert agent is None or agent == agent.strip()
    response = AssetResponse(
        IMAGE, 200, (*[("X-Robots-Tag", v) for v in values], ("Content-Type", content_type))
    )
    for signal in header_signals(response, AGENT):
        assert A not in signal.statement.values()


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=600)
    | st.lists(_TOKENS, max_size=10).map(lambda t: f'<meta name="robots" content="{"".join(t)}">'.encode())
)
def test_pages_never_raise_and_never_grant(body: bytes) -> None:
    document = parse_head(body, PAGE)
    for signal in (*meta_signals(document, PAGE, AGENT), *page_media_signals(document, PAGE, AGENT)):
        assert A not in signal.statement.values()
