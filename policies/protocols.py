"""The registry of every protocol consentry honours, as data (rendered into docs/protocols.md).

Pure data. One row per protocol: its name, the standard or publisher behind it, its kind (location-based: a
file or header of the site or response, such as robots.txt or TDMRep; asset-based: metadata carried by the
asset, such as IPTC or C2PA; crawl measure: a measure of the crawl itself, not a rights-reservation protocol),
its status with the European Commission/EUIPO where known ("unknown" otherwise), the mechanisms of the
decision record it produces (`consentry.policies.vocabulary.Mechanism`), and the setting that turns it off
("none" when it cannot be turned off). A test keeps the mechanisms of the table equal to the `Mechanism` enum
and docs/protocols.md equal to `markdown_table()`; `consentry report` counts per row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from consentry.policies.vocabulary import Mechanism

__all__ = ["PROTOCOLS", "Kind", "Protocol", "markdown_table", "protocol_of"]


class Kind(enum.StrEnum):
    """Where a protocol's statement lives."""

    LOCATION = "location-based"
    ASSET = "asset-based"
    CRAWL = "crawl measure"


#: The status of a protocol nobody has told us about.
UNKNOWN = "unknown"
_SHORTLISTED = "shortlisted by the Commission/EUIPO for consultation (2025–2026)"


@dataclass(frozen=True, slots=True)
class Protocol:
    """One protocol consentry honours."""

    name: str
    standard: str
    kinds: tuple[Kind, ...]
    status: str
    mechanisms: tuple[Mechanism, ...]
    off: str
    page: str


PROTOCOLS: tuple[Protocol, ...] = (
    Protocol("robots.txt", "IETF RFC 9309", (Kind.LOCATION,),
             "named by the GPAI Code of Practice (copyright chapter): crawlers honour RFC 9309",
             (Mechanism.ROBOTS,), "none", "signals/robots.md"),
    Protocol("AI-crawler groups in robots.txt", "consentry's reading of the ai.robots.txt list of AI crawler tokens",
             (Kind.LOCATION,), UNKNOWN, (Mechanism.ROBOTS_INFERRED,), "`CONSENT_INFERRED=ignore`",
             "signals/robots.md"),
    Protocol("AI preferences (Content-Usage)", "IETF AIPREF working group drafts", (Kind.LOCATION, Kind.ASSET),
             UNKNOWN, (Mechanism.ROBOTS_CONTENT_USAGE, Mechanism.CONTENT_USAGE_HEADER), "none",
             "signals/content-usage.md"),
    Protocol("Content Signals", "Cloudflare Content Signals Policy", (Kind.LOCATION, Kind.ASSET), UNKNOWN,
             (Mechanism.ROBOTS_CONTENT_SIGNAL, Mechanism.CONTENT_SIGNAL_HEADER), "none", "signals/content-signal.md"),
    Protocol("DisallowAITraining", "Microsoft (Internet-Draft)", (Kind.LOCATION,), UNKNOWN,
             (Mechanism.ROBOTS_DISALLOW_AI_TRAINING,), "none", "signals/robots.md"),
    Protocol("ai.txt", "Spawning", (Kind.LOCATION,), UNKNOWN, (Mechanism.AI_TXT,), "none", "signals/ai-txt.md"),
    Protocol("TDMRep", "W3C TDM Reservation Protocol (Community Group report)", (Kind.LOCATION, Kind.ASSET),
             _SHORTLISTED,
             (Mechanism.TDMREP_FILE, Mechanism.TDMREP_HEADER, Mechanism.TDMREP_HTML, Mechanism.TDMREP_PDF,
              Mechanism.TDMREP_EPUB), "none", "signals/tdmrep.md"),
    Protocol("RSL", "RSL Collective, Really Simple Licensing 1.0", (Kind.LOCATION, Kind.ASSET), UNKNOWN,
             (Mechanism.ROBOTS_LICENSE, Mechanism.RSL), "none", "signals/rsl.md"),
    Protocol("noai / noimageai", "X-Robots-Tag and robots meta directives (vendor conventions)", (Kind.ASSET,),
             UNKNOWN, (Mechanism.X_ROBOTS_TAG, Mechanism.META_ROBOTS, Mechanism.PAGE_INHERITED), "none",
             "signals/x-robots-tag.md"),
    Protocol("C2PA / CAWG training-and-data-mining", "C2PA 2.x, Creator Assertions Working Group", (Kind.ASSET,),
             _SHORTLISTED, (Mechanism.C2PA,), "none", "signals/c2pa.md"),
    Protocol("IPTC Data Mining", "IPTC Photo Metadata Standard, PLUS `plus:DataMining`", (Kind.ASSET,),
             _SHORTLISTED, (Mechanism.IPTC_XMP,), "none", "signals/iptc.md"),
    Protocol("Works registry", "consentry's own registry of creators' works (not a public protocol)",
             (Kind.ASSET,), "not applicable", (Mechanism.REGISTRY,), "`CONSENT_REGISTRY` unset (the default)",
             "signals/registry.md"),
    Protocol("Excluded domains", "your lists, e.g. of websites recognised as persistently infringing",
             (Kind.CRAWL,), "a GPAI Code of Practice measure (exclude listed infringing websites)",
             (Mechanism.EXCLUDED_DOMAIN,), "`CONSENT_EXCLUDED_DOMAINS` unset (the default)", "protocols.md"),
    Protocol("Access restrictions", "RFC 9110 (401, 402, 403 with WWW-Authenticate), schema.org isAccessibleForFree",
             (Kind.CRAWL,), "a GPAI Code of Practice measure (no circumvention of access restrictions)",
             (Mechanism.ACCESS_RESTRICTION,), "none", "protocols.md"),
    Protocol("Fetch policy", "consentry's own: http(s) only, public addresses only (RFC 9110 §4.2, RFC 6890)",
             (Kind.CRAWL,), "not applicable", (Mechanism.FETCH_POLICY,),
             "`CONSENT_ALLOW_PRIVATE_ADDRESSES` (addresses only)", "protocols.md"),
)  # fmt: skip

_BY_MECHANISM = {mechanism: protocol for protocol in PROTOCOLS for mechanism in protocol.mechanisms}


def protocol_of(mechanism: Mechanism) -> Protocol:
    """The protocol a mechanism belongs to."""
    return _BY_MECHANISM[mechanism]


def markdown_table() -> str:
    """docs/protocols.md's table, one row per protocol in table order."""
    rows = ["| protocol | standard or publisher | kind | EU status | mechanisms | turned off by |",
            "|---|---|---|---|---|---|"]
    for p in PROTOCOLS:
        link = "" if p.page == "protocols.md" else f" ([page]({p.page}))"
        mechanisms = ", ".join(f"`{m.value}`" for m in p.mechanisms)
        kinds = ", ".join(k.value for k in p.kinds)
        rows.append(f"| {p.name}{link} | {p.standard} | {kinds} | {p.status} | {mechanisms} | {p.off} |")
    return "\n".join(rows)
