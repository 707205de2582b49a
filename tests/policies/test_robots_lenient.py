"""Lenient robots.txt lines (missing colon, mangled byte-order marks) and site-file encodings
(UTF-16/UTF-32 with a BOM; undecodable = unreadable, never empty) for robots.txt, ai.txt and tdmrep.json."""

from __future__ import annotations

import codecs
import json

import pytest

from consentry.policies.aitxt import AiTxtPolicy
from consentry.policies.model import FetchStatus, SiteFile
from consentry.policies.robots.policy import RobotsPolicy
from consentry.policies.tdmrep import TdmrepFile
from consentry.policies.vocabulary import Purpose, Tag, Verdict

ORIGIN = "https://example.com"
ROBOTS = "User-agent: FooBot\nDisallow: /private/\n"


def _robots(body: bytes, agent: str = "FooBot") -> RobotsPolicy:
    return RobotsPolicy.parse(SiteFile.from_http(ORIGIN + "/robots.txt", 200, body), agent)


def _verdict(policy: RobotsPolicy, path: str) -> Verdict:
    return policy.access(ORIGIN + path)[0]


@pytest.mark.parametrize(("text", "line"), [
    ("User-agent: FooBot\ndisallow /private/\n", 2),
    ("user-agent FooBot\nDisallow: /private/\n", 1),
    ("User-agent: FooBot\nAllow: /private/ok\nDISALLOW\t/private/\n", 3),
])
def test_missing_colon_is_read_leniently_with_a_warning(text: str, line: int) -> None:
    policy = _robots(text.encode())
    verdict, signal = policy.access(ORIGIN + "/private/x")
    assert verdict is Verdict.DENY
    assert Tag.LENIENT in signal.tags
    assert any(w.startswith(f"line {line}:") and "no ':'" in w for w in policy.warnings), policy.warnings


def test_missing_colon_allow_line() -> None:
    policy = _robots(b"User-agent: *\nDisallow: /\nallow /x\n")
    assert _verdict(policy, "/x/y") is Verdict.ALLOW
    assert _verdict(policy, "/y") is Verdict.DENY


def test_more_than_two_words_without_colon_is_not_a_rule() -> None:
    policy = _robots(b"User-agent: FooBot\nDisallow /private/ now\n")
    assert _verdict(policy, "/private/x") is Verdict.ALLOW
    assert any("parse to nothing" in w for w in policy.warnings)


def test_well_formed_file_is_not_lenient() -> None:
    _, signal = _robots(ROBOTS.encode()).access(ORIGIN + "/private/x")
    assert Tag.LENIENT not in signal.tags


@pytest.mark.parametrize("prefix", [
    b"\xef\xbb",                      # truncated UTF-8 BOM
    b"\xef",                          # ... to one byte
    b"\xef\xbb\xbf\xef\xbb\xbf",      # BOM twice (U+FEFF left after the first is stripped)
    "\ufeff".encode("utf-8").decode("latin-1").encode("utf-8"),  # BOM read as Latin-1 and saved again
])
def test_mangled_bom_does_not_lose_the_group(prefix: bytes) -> None:
    policy = _robots(prefix + ROBOTS.encode())
    verdict, signal = policy.access(ORIGIN + "/private/x")
    assert verdict is Verdict.DENY
    assert Tag.LENIENT in signal.tags
    assert any(w.startswith("line 1:") and "byte-order-mark" in w for w in policy.warnings)


def test_a_proper_bom_is_silent() -> None:
    policy = _robots(codecs.BOM_UTF8 + ROBOTS.encode())
    assert _verdict(policy, "/private/x") is Verdict.DENY
    assert not policy.warnings


ENCODINGS = ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
BOMS = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}


def _encoded(text: str, codec: str) -> bytes:
    return BOMS[codec] + text.encode(codec)


@pytest.mark.parametrize("codec", ENCODINGS)
def test_robots_in_utf16_and_utf32_is_decoded(codec: str) -> None:
    policy = _robots(_encoded(ROBOTS, codec))
    assert _verdict(policy, "/private/x") is Verdict.DENY
    assert _verdict(policy, "/public") is Verdict.ALLOW


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_truncated_utf16_body_cut_mid_unit_is_still_read(codec: str) -> None:
    body = _encoded(ROBOTS + "# " + "x" * 100, codec)
    site = SiteFile.from_http(ORIGIN + "/robots.txt", 200, body, max_bytes=len(body) - 1)
    assert site.truncated
    assert not site.unreadable
    assert _verdict(RobotsPolicy.parse(site, "FooBot"), "/private/x") is Verdict.DENY


UNDECODABLE = {
    "utf-16-le": codecs.BOM_UTF16_LE + b"U\x00\x00\xdcs\x00",        # lone low surrogate
    "utf-16-be": codecs.BOM_UTF16_BE + b"\xdc\x00\x00U",
    "utf-32-le": codecs.BOM_UTF32_LE + b"\xff\xff\xff\xff",           # beyond U+10FFFF
    "utf-32-be": codecs.BOM_UTF32_BE + b"\x00\x00\x00",               # not a whole code unit
}


@pytest.mark.parametrize("codec", ENCODINGS)
def test_undecodable_robots_is_unreadable_and_disallows_everything(codec: str) -> None:
    policy = _robots(UNDECODABLE[codec])
    verdict, signal = policy.access(ORIGIN + "/anything")
    assert verdict is Verdict.DENY
    assert "cannot be read" in signal.evidence
    assert "RFC 9309 §2.3.1.4" in signal.evidence
    assert policy.warnings
    assert "cannot be read" in policy.warnings[0]
    assert policy.signals(ORIGIN + "/anything") == []


@pytest.mark.parametrize("codec", ENCODINGS)
def test_aitxt_encodings(codec: str) -> None:
    text = "User-agent: *\nDisallow: *.jpg\nAllow: /\n"
    site = SiteFile.from_http(ORIGIN + "/ai.txt", 200, _encoded(text, codec))
    [signal] = AiTxtPolicy.parse(site, "FooBot").signals(ORIGIN + "/a.jpg")
    assert signal.statement == {Purpose.AI_TRAIN: Verdict.DENY}
    bad = SiteFile.from_http(ORIGIN + "/ai.txt", 200, UNDECODABLE[codec])
    [unknown] = AiTxtPolicy.parse(bad, "FooBot").signals(ORIGIN + "/a.jpg")
    assert unknown.statement == {}
    assert Tag.UNVERIFIABLE in unknown.tags
    assert "cannot be read" in unknown.evidence


@pytest.mark.parametrize("codec", ENCODINGS)
def test_tdmrep_encodings(codec: str) -> None:
    text = json.dumps([{"location": "/", "tdm-reservation": 1}])
    site = SiteFile.from_http(ORIGIN + "/.well-known/tdmrep.json", 200, _encoded(text, codec))
    parsed = TdmrepFile.parse(site)
    assert parsed.status is FetchStatus.OK
    layer = parsed.layer(ORIGIN + "/a")
    assert layer is not None
    assert layer.reservation == 1
    bad = TdmrepFile.parse(SiteFile.from_http(ORIGIN + "/.well-known/tdmrep.json", 200, UNDECODABLE[codec]))
    assert bad.status is FetchStatus.UNREACHABLE
    assert "cannot be read" in bad.detail
    assert bad.rules == ()


def test_utf8_without_bom_is_unchanged() -> None:
    site = SiteFile.from_http(ORIGIN + "/robots.txt", 200, b"User-agent: *\nDisallow: /\xff\n")
    assert site.readable() is site
    assert site.text.endswith("/\ufffd\n")


def test_broken_bom_keeps_the_group_unlike_google() -> None:
    # google/robotstxt ID_UTF8ByteOrderMarkIsSkipped drops this line; we keep it (docs/robots-conformance.md).
    policy = _robots(b"\xef\x11\xbf" + ROBOTS.encode())
    verdict, signal = policy.access(ORIGIN + "/private/x")
    assert verdict is Verdict.DENY
    assert Tag.LENIENT in signal.tags
