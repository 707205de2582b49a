"""The crawl's consent policy as one frozen value, validated once (docs/purposes.md, settings `CONSENT_*`).

Pure. Front ends build it from Scrapy settings or CLI flags through `PolicyConfig.from_settings`; a bad
value raises `ValueError` whose message starts with the setting's name. `config_sha256` fingerprints the
parts that change decisions, so an audit can tell whether a replay used the same policy.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from consentry.policies.exclusion import ExcludedDomains
from consentry.policies.model import MIN_SITEFILE_BYTES
from consentry.policies.version import VERSION
from consentry.policies.vocabulary import Purpose, expand_purposes, parse_purpose

__all__ = [
    "DEFAULT_C2PA_MAX_BYTES",
    "InferredMode",
    "OnAiGenerated",
    "OnDeny",
    "OnUnknown",
    "OnUnverifiable",
    "PolicyConfig",
    "is_product_token",
    "user_agent",
]

#: `CONSENT_C2PA_MAX_BYTES` default: bodies above it are not handed to the C2PA reader.
DEFAULT_C2PA_MAX_BYTES = 50 * 1024 * 1024
_TOKEN = re.compile(r"[A-Za-z_-]+")
_E = TypeVar("_E", bound=enum.StrEnum)


class OnDeny(enum.StrEnum):
    """`CONSENT_ON_DENY`: what happens to an asset whose declared purpose is denied."""

    DROP = "drop"
    TAG = "tag"


class OnUnknown(enum.StrEnum):
    """`CONSENT_ON_UNKNOWN`: `keep` (opt-out regime) or `drop` (opt-in regime)."""

    KEEP = "keep"
    DROP = "drop"


class OnUnverifiable(enum.StrEnum):
    """`CONSENT_ON_UNVERIFIABLE`: a declared signal source that could not be read."""

    DROP = "drop"
    KEEP = "keep"


class OnAiGenerated(enum.StrEnum):
    """`CONSENT_ON_AI_GENERATED`: an asset whose metadata says it is AI-generated (docs/signals/c2pa.md)."""

    KEEP = "keep"
    TAG = "tag"
    DROP = "drop"


class InferredMode(enum.StrEnum):
    """`CONSENT_INFERRED`: how inferred and vendor-specific signals count."""

    ENFORCE = "enforce"
    TAG = "tag"
    IGNORE = "ignore"


def is_product_token(value: str) -> bool:
    """RFC 9309 §2.2.1 product token: letters, `_` and `-` only."""
    return _TOKEN.fullmatch(value) is not None


def user_agent(agent: str) -> str:
    """The HTTP User-Agent carrying the product token, as RFC 9309 §2.2.1 asks crawlers to send it."""
    return f"Mozilla/5.0 (compatible; {agent}/{VERSION}; consent-checking crawler)"


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name}: expected an integer, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {number}")
    return number


def _choice(name: str, kind: type[_E], value: object) -> _E:
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        allowed = "|".join(m.value for m in kind)
        raise ValueError(f"{name}: expected {allowed}, got {value!r}") from None


def _purposes(name: str, value: object) -> tuple[Purpose, ...]:
    items: Sequence[object]
    if isinstance(value, str):
        items = [v for v in re.split(r"[,\s]+", value) if v]
    elif isinstance(value, Sequence):
        items = value
    else:
        raise ValueError(f"{name}: expected a list of purposes, got {value!r}")
    if not items:
        raise ValueError(f"{name}: at least one purpose is required")
    try:
        return tuple(dict.fromkeys(parse_purpose(str(v)) for v in items))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _agent(name: str, value: object) -> str:
    if not isinstance(value, str) or not is_product_token(value):
        raise ValueError(f"{name}: a product token is letters, '_' and '-' only (RFC 9309), got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Everything that shapes a decision. Its field defaults are the defaults of the decision-shaping settings
    (`consentry.policies.settings_table` lists them with every other `CONSENT_*` setting)."""

    agent: str = "consentry"
    purposes: tuple[Purpose, ...] = (Purpose.AI_TRAIN,)
    on_deny: OnDeny = OnDeny.DROP
    on_unknown: OnUnknown = OnUnknown.KEEP
    on_unverifiable: OnUnverifiable = OnUnverifiable.DROP
    inferred: InferredMode = InferredMode.ENFORCE
    sitefile_ttl: int = 86_400
    max_sitefile_bytes: int = MIN_SITEFILE_BYTES
    c2pa_max_bytes: int = DEFAULT_C2PA_MAX_BYTES
    c2pa_trust_anchors: str | None = None
    on_ai_generated: OnAiGenerated = OnAiGenerated.KEEP
    #: `CONSENT_EXCLUDED_DOMAINS`, its list files read by the transport (`consentry.middlewares._config`).
    excluded: ExcludedDomains = field(default_factory=ExcludedDomains)
    declared: tuple[Purpose, ...] = field(init=False)
    config_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "declared", expand_purposes(self.purposes))
        canonical = json.dumps(self.fingerprint(), sort_keys=True, separators=(",", ":"))
        object.__setattr__(self, "config_sha256", hashlib.sha256(canonical.encode()).hexdigest())

    @classmethod
    def from_settings(cls, values: Mapping[str, object]) -> PolicyConfig:
        """Build from `CONSENT_*` names (prefix optional); unset keys keep defaults; `ValueError` names the bad key."""
        plain = {k.upper().removeprefix("CONSENT_"): v for k, v in values.items() if v is not None}
        readers: dict[str, tuple[str, Callable[[str, object], object]]] = {
            "AGENT": ("agent", _agent),
            "PURPOSES": ("purposes", _purposes),
            "ON_DENY": ("on_deny", lambda n, v: _choice(n, OnDeny, v)),
            "ON_UNKNOWN": ("on_unknown", lambda n, v: _choice(n, OnUnknown, v)),
            "ON_UNVERIFIABLE": ("on_unverifiable", lambda n, v: _choice(n, OnUnverifiable, v)),
            "INFERRED": ("inferred", lambda n, v: _choice(n, InferredMode, v)),
            "SITEFILE_TTL": ("sitefile_ttl", _positive_int),
            "MAX_SITEFILE_BYTES": ("max_sitefile_bytes", lambda n, v: _positive_int(n, v, MIN_SITEFILE_BYTES)),
            "C2PA_MAX_BYTES": ("c2pa_max_bytes", _positive_int),
            "C2PA_TRUST_ANCHORS": ("c2pa_trust_anchors", lambda n, v: str(v) or None),
            "ON_AI_GENERATED": ("on_ai_generated", lambda n, v: _choice(n, OnAiGenerated, v)),
        }
        kwargs: dict[str, object] = {}
        for key, (attribute, read) in readers.items():
            if key in plain:
                kwargs[attribute] = read(f"CONSENT_{key}", plain[key])
        return cls(**kwargs)  # type: ignore[arg-type]

    def fingerprint(self) -> dict[str, object]:
        """The decision-shaping fields as plain JSON values (`excluded_domains` only when some are set, so the
        fingerprint of a crawl without exclusions is unchanged)."""
        excluded = {"excluded_domains": self.excluded.to_json()} if self.excluded else {}
        return {
            **excluded,
            "agent": self.agent,
            "purposes": [p.value for p in self.purposes],
            "on_deny": self.on_deny.value,
            "on_unknown": self.on_unknown.value,
            "on_unverifiable": self.on_unverifiable.value,
            "inferred": self.inferred.value,
            "c2pa_trust_anchors": self.c2pa_trust_anchors,
            # only when set, so that the fingerprints of crawls made before the setting existed stay the same
            **({"on_ai_generated": self.on_ai_generated.value}
               if self.on_ai_generated is not OnAiGenerated.KEEP else {}),
        }
