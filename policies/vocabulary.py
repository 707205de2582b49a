"""The purpose vocabulary, verdicts, tags, mechanisms and scopes (docs/purposes.md,
docs/decision-record.md).

Pure: no I/O. Every other module speaks in these names; the string values are the ones written in the
decision record `consentry.decision/1`, so they never change.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = [
    "LEAVES",
    "PARENT",
    "PURPOSES",
    "Mechanism",
    "Purpose",
    "Scope",
    "Tag",
    "Verdict",
    "ancestors",
    "expand_purposes",
    "parse_purpose",
]


class Purpose(enum.StrEnum):
    """A use of an asset (docs/purposes.md): `tdm` ⊃ {`ai-train` ⊃ {`genai-train`, `ml-train`}, `ai-input`, `search`}."""

    TDM = "tdm"
    AI_TRAIN = "ai-train"
    GENAI_TRAIN = "genai-train"
    ML_TRAIN = "ml-train"
    AI_INPUT = "ai-input"
    SEARCH = "search"


class Verdict(enum.StrEnum):
    """The answer for one purpose: granted, withheld, or not said."""

    ALLOW = "allow"
    DENY = "deny"
    UNKNOWN = "unknown"


class Tag(enum.StrEnum):
    """Qualifiers on a signal or a decision (docs/decision-record.md "Tags")."""

    INFERRED = "inferred"
    CONDITIONAL = "conditional"
    CONFLICT = "conflict"
    LEGACY_LABEL = "legacy-label"
    LENIENT = "lenient"
    UNVERIFIABLE = "unverifiable"
    VENDOR_SPECIFIC = "vendor-specific"
    UNGROUPED = "ungrouped"
    ACCESS_RESTRICTED = "access-restricted"
    AI_GENERATED = "ai-generated"


class Mechanism(enum.StrEnum):
    """Where a signal came from (docs/decision-record.md "Mechanisms")."""

    ROBOTS = "robots"
    ROBOTS_CONTENT_USAGE = "robots-content-usage"
    ROBOTS_CONTENT_SIGNAL = "robots-content-signal"
    ROBOTS_LICENSE = "robots-license"
    ROBOTS_INFERRED = "robots-inferred"
    ROBOTS_DISALLOW_AI_TRAINING = "robots-disallow-ai-training"
    AI_TXT = "ai-txt"
    TDMREP_FILE = "tdmrep-file"
    TDMREP_HEADER = "tdmrep-header"
    TDMREP_HTML = "tdmrep-html"
    TDMREP_PDF = "tdmrep-pdf"
    TDMREP_EPUB = "tdmrep-epub"
    CONTENT_USAGE_HEADER = "content-usage-header"
    CONTENT_SIGNAL_HEADER = "content-signal-header"
    X_ROBOTS_TAG = "x-robots-tag"
    META_ROBOTS = "meta-robots"
    PAGE_INHERITED = "page-inherited"
    RSL = "rsl"
    C2PA = "c2pa"
    IPTC_XMP = "iptc-xmp"
    REGISTRY = "registry"
    EXCLUDED_DOMAIN = "excluded-domain"
    ACCESS_RESTRICTION = "access-restriction"
    FETCH_POLICY = "fetch-policy"


class Scope(enum.StrEnum):
    """What a signal covers (docs/decision-record.md "Scopes")."""

    SITE = "site"
    RESPONSE = "response"
    DOCUMENT = "document"
    EMBEDDED = "embedded"
    REGISTRY = "registry"


#: The purpose tree, child -> parent (docs/purposes.md).
PARENT: dict[Purpose, Purpose | None] = {
    Purpose.TDM: None,
    Purpose.AI_TRAIN: Purpose.TDM,
    Purpose.GENAI_TRAIN: Purpose.AI_TRAIN,
    Purpose.ML_TRAIN: Purpose.AI_TRAIN,
    Purpose.AI_INPUT: Purpose.TDM,
    Purpose.SEARCH: Purpose.TDM,
}

#: Every purpose, in record order (parents before children).
PURPOSES: tuple[Purpose, ...] = tuple(PARENT)

#: Purposes with no children.
LEAVES: tuple[Purpose, ...] = tuple(p for p in PURPOSES if p not in set(PARENT.values()))


def ancestors(purpose: Purpose) -> tuple[Purpose, ...]:
    """The purpose's ancestors, nearest first."""
    out: list[Purpose] = []
    parent = PARENT[purpose]
    while parent is not None:
        out.append(parent)
        parent = PARENT[parent]
    return tuple(out)


def parse_purpose(value: str) -> Purpose:
    """The purpose named `value`; `ValueError` naming the accepted values otherwise (user input)."""
    try:
        return Purpose(value.strip().lower())
    except ValueError:
        names = ", ".join(p.value for p in PURPOSES)
        raise ValueError(f"unknown purpose {value!r} (expected one of: {names})") from None


def expand_purposes(declared: Iterable[Purpose]) -> tuple[Purpose, ...]:
    """The leaves a crawl collects for: a declared non-leaf means all its leaves (docs/purposes.md)."""
    wanted = set(declared)
    return tuple(
        leaf for leaf in LEAVES if leaf in wanted or any(a in wanted for a in ancestors(leaf))
    )
