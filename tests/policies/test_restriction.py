"""Access-restriction findings: 401/402/403+WWW-Authenticate and schema.org isAccessibleForFree markup."""

from __future__ import annotations

import pytest

from consentry.policies.model import AssetResponse
from consentry.policies.restriction import restriction_signals
from consentry.policies.vocabulary import Mechanism, Scope, Tag

_HTML = ("Content-Type", "text/html; charset=utf-8")


def _evidence(status: int, *headers: tuple[str, str], body: bytes = b"") -> list[str]:
    signals = restriction_signals(AssetResponse("https://news.example/a", status, headers, body))
    assert all(s.mechanism is Mechanism.ACCESS_RESTRICTION and s.tags == (Tag.ACCESS_RESTRICTED,)
               and not s.statement for s in signals)
    return [s.evidence for s in signals]


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (401, (), ["HTTP 401"]),
    (401, (("WWW-Authenticate", "Basic realm=x"),), ["HTTP 401, WWW-Authenticate: Basic realm=x"]),
    (402, (), ["HTTP 402"]),
    (403, (("www-authenticate", "Bearer"),), ["HTTP 403, WWW-Authenticate: Bearer"]),
    (403, (), []),
    (200, (("WWW-Authenticate", "Basic"),), []),
    (404, (), []),
])
def test_status_findings(status: int, headers: tuple[tuple[str, str], ...], expected: list[str]) -> None:
    assert _evidence(status, *headers) == expected


@pytest.mark.parametrize(("body", "expected"), [
    (b'<script type="application/ld+json">{"isAccessibleForFree": false}</script>',
     ["JSON-LD isAccessibleForFree: false"]),
    (b'<SCRIPT TYPE="application/ld+json">[{"@graph": [{"hasPart": {"isAccessibleForFree": "False"}}]}]</SCRIPT>',
     ["JSON-LD isAccessibleForFree: false"]),
    (b'<script type="application/ld+json">{"isAccessibleForFree": true}</script>', []),
    (b'<script type="application/ld+json">{"isAccessibleForFree": fal</script>', []),
    (b'<script type="application/ld+json">' + b"[" * 5000 + b"]" * 5000 + b"</script>isAccessibleForFree", []),
    (b'<meta itemprop="isAccessibleForFree" content="false">',
     ['microdata <meta itemprop="isAccessibleForFree" content="false">']),
    (b"<link itemprop=isAccessibleForFree href=https://schema.org/False>",
     ["microdata <link itemprop=isAccessibleForFree href=https://schema.org/False>"]),
    (b'<meta itemprop="isAccessibleForFree" content="true">', []),
    (b"<p>isAccessibleForFree: false is how publishers mark paywalls</p>", []),
])
def test_paywall_markup(body: bytes, expected: list[str]) -> None:
    assert _evidence(200, _HTML, body=body) == expected


def test_markup_outside_html_is_not_read() -> None:
    body = b'<script type="application/ld+json">{"isAccessibleForFree": false}</script>'
    assert _evidence(200, ("Content-Type", "text/plain"), body=body) == []


def test_status_and_markup_are_two_signals_with_their_scopes() -> None:
    body = b'<script type="application/ld+json">{"isAccessibleForFree": false}</script>'
    signals = restriction_signals(AssetResponse("https://news.example/a", 402, (_HTML,), body))
    assert [s.scope for s in signals] == [Scope.RESPONSE, Scope.DOCUMENT]
