"""The WARC layout of a consentry crawl, owned once for the writer (the crawl) and the reader (the audit).

A crawl's WARC 1.1 (ISO 28500:2017) holds: a `warcinfo` record whose `consentry-policy` field is the crawl's
policy as one line of JSON; every `response` (body as received, still content-encoded) with its `request`
(`WARC-Concurrent-To` the response); one `metadata` record per decision, `Content-Type: application/json`,
holding a `consentry.decision/1` record (docs/decision-record.md) and `WARC-Concurrent-To` the response it
judged (absent for a `skip`); and a `metadata` record `consentry.fetch-failure/1` for a document that could not
be fetched at all. docs/architecture.md describes how `consentry audit` replays it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from consentry.policies.config import (
    InferredMode,
    OnAiGenerated,
    OnDeny,
    OnUnknown,
    OnUnverifiable,
    PolicyConfig,
)
from consentry.policies.exclusion import ExcludedDomains
from consentry.policies.record import Decision
from consentry.policies.version import VERSION
from consentry.policies.vocabulary import Purpose

__all__ = [
    "FETCH_FAILURE_SCHEMA",
    "METADATA_CONTENT_TYPE",
    "POLICY_FIELD",
    "SOFTWARE",
    "decision_payload",
    "fetch_failure_payload",
    "is_metadata_json",
    "policy_from_warcinfo",
    "policy_record",
    "read_metadata",
    "warcinfo_fields",
    "written_by_consentry",
]

#: The warcinfo field holding the crawl's policy as one line of JSON (see `policy_record`).
POLICY_FIELD = "consentry-policy"
#: The `metadata` payload schema for a document that could not be fetched.
FETCH_FAILURE_SCHEMA = "consentry.fetch-failure/1"
#: The Content-Type of consentry's `metadata` records.
METADATA_CONTENT_TYPE = "application/json"
#: The warcinfo `software` field of a consentry crawl.
SOFTWARE = f"consentry/{VERSION}"
#: The defaults of the settings table, for byte caps an older warcinfo policy does not carry.
_DEFAULT = PolicyConfig()


def policy_record(config: PolicyConfig) -> dict[str, object]:
    """The crawl's policy for the warcinfo record: `fingerprint()`, the byte caps and `config_sha256`."""
    return {**config.fingerprint(), "max_sitefile_bytes": config.max_sitefile_bytes,
            "c2pa_max_bytes": config.c2pa_max_bytes, "config_sha256": config.config_sha256}


def warcinfo_fields(policy: PolicyConfig | None) -> dict[str, str]:
    """The fields of the crawl's `warcinfo` record."""
    fields = {
        "software": SOFTWARE,
        "format": "WARC File Format 1.1",
        "description": "consentry crawl: responses as received plus consentry.decision/1 metadata",
    }
    if policy is not None:
        fields[POLICY_FIELD] = json.dumps(policy_record(policy), sort_keys=True, separators=(",", ":"))
    return fields


def written_by_consentry(fields: Mapping[str, str]) -> bool:
    """Whether a warcinfo record's fields (names lower-cased) say consentry wrote the WARC."""
    return fields.get("software", "").startswith("consentry")


def policy_from_warcinfo(text: str) -> tuple[PolicyConfig | None, str | None]:
    """The crawl's `PolicyConfig` from the warcinfo `consentry-policy` field, or (None, why not)."""
    try:
        value = json.loads(text)
        config = PolicyConfig(
            agent=str(value["agent"]),
            purposes=tuple(Purpose(p) for p in value["purposes"]),
            on_deny=OnDeny(value["on_deny"]),
            on_unknown=OnUnknown(value["on_unknown"]),
            on_unverifiable=OnUnverifiable(value["on_unverifiable"]),
            inferred=InferredMode(value["inferred"]),
            on_ai_generated=OnAiGenerated(value.get("on_ai_generated", OnAiGenerated.KEEP.value)),
            max_sitefile_bytes=int(value.get("max_sitefile_bytes", _DEFAULT.max_sitefile_bytes)),
            c2pa_max_bytes=int(value.get("c2pa_max_bytes", _DEFAULT.c2pa_max_bytes)),
            c2pa_trust_anchors=value.get("c2pa_trust_anchors"),
            excluded=ExcludedDomains.from_json(value.get("excluded_domains", [])),
        )
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"warcinfo {POLICY_FIELD} unusable ({type(exc).__name__}: {exc})"
    if value.get("config_sha256") not in (None, config.config_sha256):
        return config, "warcinfo policy does not reproduce its config_sha256 (written by another version?)"
    return config, None


def decision_payload(decision: Decision, run: Mapping[str, object] | None = None) -> bytes:
    """The `metadata` payload of one decision (with its distributed run's `run` object, when given)."""
    record = decision.to_record()
    if run is not None:
        record["run"] = dict(run)
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def fetch_failure_payload(url: str, detail: str) -> bytes:
    """The `metadata` payload for a document that could not be fetched (no response to archive)."""
    return json.dumps({"schema": FETCH_FAILURE_SCHEMA, "url": url, "detail": detail}).encode("utf-8")


def is_metadata_json(content_type: str | None) -> bool:
    """Whether a `metadata` record's Content-Type is one consentry writes (JSON)."""
    return "json" in (content_type or "")


def read_metadata(payload: bytes) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """(decision record, fetch-failure detail, problem) of a JSON `metadata` payload; exactly one is set."""
    try:
        value = json.loads(payload)
    except ValueError as exc:
        return None, None, f"metadata payload is not JSON: {exc}"
    if not isinstance(value, dict):
        return None, None, "metadata payload is not a JSON object"
    if value.get("schema") == FETCH_FAILURE_SCHEMA:
        return None, str(value.get("detail") or "fetch failed"), None
    return value, None, None
