"""Never raises, never consents: every fixture file and a set of hostile bodies, fed to every parser slot.

Each body is served as robots.txt, as ai.txt, as tdmrep.json, as an RSL licence, and as the asset itself
(HTML, image and PDF media types), through the one evaluation core. The run must not raise, every record
must follow `consentry.decision/1`, and a body that is pure junk must never yield an ALLOW.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentry.policies.assets.prescan import scan
from consentry.policies.assets.xmp import iptc_signals
from consentry.policies.config import PolicyConfig
from consentry.policies.evaluate import SiteDocuments, SitePolicy, evaluate_access, evaluate_response
from consentry.policies.model import AssetResponse, SiteFile
from consentry.policies.record import record_problems

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = sorted(p for p in FIXTURES.rglob("*") if p.is_file())
ORIGIN = "https://corpus.example"
CONFIG = PolicyConfig()


def _hostile() -> dict[str, bytes]:
    nested = b"[" * 100_000 + b"]" * 100_000
    return {
        "megabytes-of-junk": bytes(range(256)) * 8192,
        "nul-bytes": b"User-agent: *\x00\nDisallow: /\x00\n" * 1000,
        "deeply-nested-json": nested,
        "deeply-nested-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "utf16-robots": "User-agent: *\nContent-Usage: train-ai=n\n".encode("utf-16"),
        "html-error-page": b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>",
        "bom-only": b"\xef\xbb\xbf",
        "empty": b"",
        "long-line": b"Disallow: /" + b"a" * 600_000,
        "billion-laughs": (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                           b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rsl>&b;</rsl>'),
        "colon-flood": b":" * 200_000,
        "comma-flood-json": b"[" + b"," * 200_000 + b"]",
    }


def _corpus() -> list[tuple[str, bytes]]:
    files = [(str(p.relative_to(FIXTURES)), p.read_bytes()) for p in CORPUS]
    return files + sorted(_hostile().items())


def _site(body: bytes) -> SitePolicy:
    def ok(path: str) -> SiteFile:
        return SiteFile.from_http(ORIGIN + path, 200, body, max_bytes=CONFIG.max_sitefile_bytes)

    licence = ORIGIN + "/license.xml"
    robots_body = body + f"\nLicense: {licence}\n".encode()
    robots = SiteFile.from_http(ORIGIN + "/robots.txt", 200, robots_body, max_bytes=CONFIG.max_sitefile_bytes)
    documents = SiteDocuments(ORIGIN, robots, ok("/ai.txt"), ok("/.well-known/tdmrep.json"), {licence: ok("/license.xml")})
    return SitePolicy.build(documents, CONFIG.agent)


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize(("name", "body"), _corpus(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_parser_slot_survives_the_body(name: str, body: bytes) -> None:
    site = _site(body)
    assert isinstance(site.warnings, tuple)
    for path, kind in (("/a.html", "text/html"), ("/a.jpg", "image/jpeg"), ("/a.pdf", "application/pdf")):
        url = ORIGIN + path
        skipped = evaluate_access(site, url, CONFIG, fetched_at=None)
        if skipped is not None:
            assert record_problems(skipped.to_record()) == []
            continue
        headers = (("Content-Type", kind), ("X-Robots-Tag", body[:2000].decode("latin-1")),
                   ("Content-Usage", body[:2000].decode("latin-1")), ("tdm-reservation", body[:100].decode("latin-1")))
        response = AssetResponse(url, 200, headers, body)
        decision = evaluate_response(site, response, CONFIG, fetched_at=None,
                                     embedded=iptc_signals(scan(body, kind).xmp_packets, url))
        record = decision.to_record()
        assert record_problems(record) == [], name
        json.dumps(record)  # the record must serialise


@pytest.mark.parametrize("name", sorted(_hostile()))
def test_junk_never_turns_into_consent(name: str) -> None:
    body = _hostile()[name]
    site = _site(body)
    response = AssetResponse(ORIGIN + "/a.jpg", 200, (("Content-Type", "image/jpeg"),), body)
    decision = evaluate_response(site, response, CONFIG, fetched_at=None)
    assert "allow" not in {v.value for v in decision.purposes.values()}, decision.reason
