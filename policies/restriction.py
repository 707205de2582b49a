"""Access restrictions: responses that demand authentication or payment (README "Compliance").

Pure. A response is access-restricted when its status is 401 (RFC 9110 §15.5.2) or 402 (§15.5.3), when it is
a 403 carrying `WWW-Authenticate` (§11.6.1), or when an HTML document marks itself as not free to access with
schema.org `isAccessibleForFree` set to false — in JSON-LD (`<script type="application/ld+json">`) or in
microdata (`itemprop="isAccessibleForFree"`), the paywall markup publishers use. `restriction_signals` turns
each finding into a signal of mechanism `access-restriction` with an empty statement (it says nothing about
use) and the tag `access-restricted`; the decision carries the tag too. consentry never retries such a
response with credentials, cookies or another user agent: it records what it was shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from consentry.policies.model import AssetResponse, Signal
from consentry.policies.vocabulary import Mechanism, Scope, Tag

__all__ = ["SCAN_BYTES", "restriction_signals"]

#: How much of an HTML body is searched for paywall markup.
SCAN_BYTES = 2 * 1024 * 1024
_HTML = frozenset({"text/html", "application/xhtml+xml"})
_JSON_LD = re.compile(rb"<script\b[^>]*\btype\s*=\s*[\"']?application/ld\+json[^>]*>(.*?)</script\s*>",
                      re.IGNORECASE | re.DOTALL)
_ITEMPROP = re.compile(rb"<[a-z]+\b[^>]*\bitemprop\s*=\s*[\"']?isAccessibleForFree\b[^>]*>", re.IGNORECASE)
_VALUE = re.compile(rb"\b(?:content|href)\s*=\s*[\"']?([^\"'\s>]*)", re.IGNORECASE)
_FALSE = frozenset({"false", "https://schema.org/false", "http://schema.org/false"})


def _status_finding(response: AssetResponse) -> str | None:
    challenge = response.header("www-authenticate")
    shown = f", WWW-Authenticate: {challenge[0][:120]}" if challenge else ""
    if response.status in (401, 402) or (response.status == 403 and challenge):
        return f"HTTP {response.status}{shown}"
    return None


def _is_false(value: object) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in _FALSE)


def _not_free(value: object, depth: int = 0) -> bool:
    """Whether a JSON-LD value holds `isAccessibleForFree: false` anywhere (nesting bounded)."""
    if depth > 32:
        return False
    if isinstance(value, dict):
        if _is_false(value.get("isAccessibleForFree")):
            return True
        return any(_not_free(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_not_free(v, depth + 1) for v in value)
    return False


def _json_ld_findings(body: bytes) -> Iterator[str]:
    for match in _JSON_LD.finditer(body):
        try:
            data = json.loads(match.group(1).decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            continue  # malformed JSON-LD says nothing
        if _not_free(data):
            yield "JSON-LD isAccessibleForFree: false"
            return


def _microdata_findings(body: bytes) -> Iterator[str]:
    for match in _ITEMPROP.finditer(body):
        value = _VALUE.search(match.group(0))
        if value is not None and _is_false(value.group(1).decode("latin-1")):
            yield f"microdata {match.group(0).decode('latin-1', errors='replace')[:160]}"
            return


def restriction_signals(response: AssetResponse) -> tuple[Signal, ...]:
    """One signal per way the response says it demands authentication or payment (none for a free response)."""
    found: list[Signal] = []
    status = _status_finding(response)
    if status is not None:
        found.append(Signal(Mechanism.ACCESS_RESTRICTION, Scope.RESPONSE, response.url, status,
                            tags=(Tag.ACCESS_RESTRICTED,)))
    if response.content_type in _HTML and b"isAccessibleForFree" in response.body[:SCAN_BYTES]:
        body = response.body[:SCAN_BYTES]
        for evidence in (*_json_ld_findings(body), *_microdata_findings(body)):
            found.append(Signal(Mechanism.ACCESS_RESTRICTION, Scope.DOCUMENT, response.url, evidence,
                                tags=(Tag.ACCESS_RESTRICTED,)))
    return tuple(found)
