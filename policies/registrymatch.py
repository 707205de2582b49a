"""A works-registry match as a `registry` signal (docs/signals/registry.md: declarations bound to a
content code, not a URL).

Pure. The registry (consentry.middlewares.adapters.registry) finds works whose fingerprints match an asset; this module
holds the per-media-type similarity thresholds as data and turns each match into a `Signal` whose
statement is the creator's stated preferences, with the work, the creator and the distance as evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from consentry.policies.model import Signal
from consentry.policies.vocabulary import PURPOSES, Mechanism, Purpose, Scope, Tag, Verdict

__all__ = [
    "EXACT_KINDS",
    "IMAGE_RULE",
    "MAX_THRESHOLD",
    "MIN_CORRELATION",
    "THRESHOLDS",
    "VARIANT_THRESHOLD",
    "ImageRule",
    "RegistryMatch",
    "confirmed",
    "correlation",
    "match_signal",
    "statement_of",
    "unverifiable_signal",
    "within_threshold",
]

#: Largest Hamming distance (of 64 bits) between ISCC Content-Codes still read as "the same work".
#: - image: measured on 430 distinct real photographs (`python -m bench.registry_real`, iscc-core 1.5,
#:   Pillow 13; set and sources in bench/registry_real_SOURCES.md). A work stores its whole-image code and
#:   those of its centre crops and trimmed borders; a copy is within 8 bits of one of them for 99.5 % of
#:   half- and quarter-size copies, ≥ 99.8 % of JPEG q=30…90, WebP, PNG, 99.3 % of 5 %-a-side crops (96 % at
#:   10 %), 98–99 % of borders, letterboxing and screenshots, 98 / 85 / 62 % of 1° / 2° / 3° rotations.
#:   Image distances are even. Matches are then confirmed by thumbnails (`IMAGE_RULE`).
#: - text: 400 stdlib docstrings (79,800 pairs): 1.1e-4 of pairs within 10, every one a genuinely
#:   overlapping docstring (sibling classes); unrelated 64-bit codes fall within 10 with p ≈ 1e-8. Copies:
#:   other HTML 100 %, inside site boilerplate 97 %, 2 % of words edited 100 %, 5 % edited 81 %, cut to 90 % 100 %
#:   (`python -m bench.registry_thresholds --texts 400`).
THRESHOLDS: Mapping[str, int] = {"image": 8, "text": 10}
#: Image matches are confirmed by the Pearson correlation of the matched codes' 16×16 grey thumbnails.
#: Real photographs (`python -m bench.registry_real --sweep`; 428 works; every copy of a photograph A,
#: 23 transformations, against every other work B: 4,203,388 ordered pairs): within 8 bits, the closest
#: distinct pair correlates 0.91 (two shots of one pair of scissors on one table), every other ≤ 0.82. At
#: 0.8, 23 copies of A matched a B (182,756 pairs of unmodified copies: 1); at 0.9, 18; at 0.95, none, with a
#: margin of 0.04. The cost, against 0.8: 5 %-a-side crops 99.3 → 96.7 %, 10 % 95.8 → 95.1 %, rotations of
#: 1 / 2 / 3° 97.7 / 85.0 / 61.9 → 95.6 / 64.0 / 24.3 %, 5 % white borders 98.4 → 95.6 %; resizing,
#: recompression and format changes unchanged (99.5–100 %).
MIN_CORRELATION = 0.95
#: Largest distance to a work's other codes (centre crops, trimmed borders). A tighter one (4) was tried:
#: it removes the scissors pair from unmodified copies, not from a WebP copy (4 bits apart, correlation
#: 0.91), and costs 2 points of 5 % crops; kept at the whole-image threshold.
VARIANT_THRESHOLD = 8
#: The largest threshold: the near-duplicate index must find every code within it.
MAX_THRESHOLD = max(THRESHOLDS.values())
#: Match kinds that identify the very same bytes/manifest rather than a similar content.
EXACT_KINDS = frozenset({"sha256"})


@dataclass(frozen=True, slots=True)
class RegistryMatch:
    """One registered work matched by an asset.

    `kind` is how it matched: "sha256" (the same bytes), "c2pa" (the same C2PA instance id), "image" or
    "text" (ISCC Content-Code within the threshold, `distance` bits apart).
    """

    work_id: int
    creator: str
    title: str
    deny: tuple[Purpose, ...]
    allow: tuple[Purpose, ...]
    kind: str
    distance: int = 0


def correlation(first: bytes, second: bytes) -> float:
    """Pearson correlation of two grey thumbnails of equal size (−1…1; 0 when either is flat)."""
    if len(first) != len(second) or not first:
        return 0.0
    count = len(first)
    mean_a, mean_b = sum(first) / count, sum(second) / count
    da = [a - mean_a for a in first]
    db = [b - mean_b for b in second]
    norm = (sum(a * a for a in da) * sum(b * b for b in db)) ** 0.5
    return sum(a * b for a, b in zip(da, db, strict=True)) / norm if norm else 0.0


@dataclass(frozen=True, slots=True)
class ImageRule:
    """When a query's image code matches one of a work's: the two-stage rule, thresholds as data.

    `whole`: largest distance to the work's whole-image code; `variant`: to its other codes (centre crops,
    trimmed borders); `min_correlation`: the thumbnails' Pearson correlation that confirms a match.
    """

    whole: int
    variant: int
    min_correlation: float

    def within(self, distance: int, whole: bool) -> bool:
        """Whether `distance` to a work's whole-image (`whole`) or variant code is within the rule."""
        return 0 <= distance <= (self.whole if whole else self.variant)

    def confirmed(self, first: bytes, second: bytes) -> bool:
        """The finer check: the thumbnails of the two matched codes correlate enough.

        Either thumbnail missing (a work registered before thumbnails were kept) confirms nothing away:
        the code distance alone then decides, as it did.
        """
        return not first or not second or correlation(first, second) >= self.min_correlation

    def matches(self, distance: int, whole: bool, first: bytes, second: bytes) -> bool:
        """Within the distance for that kind of code, then confirmed by the thumbnails."""
        return self.within(distance, whole) and self.confirmed(first, second)


#: The registry's image rule.
IMAGE_RULE = ImageRule(THRESHOLDS["image"], VARIANT_THRESHOLD, MIN_CORRELATION)


def confirmed(first: bytes, second: bytes) -> bool:
    """`IMAGE_RULE.confirmed`: the thumbnails of two matched image codes correlate enough."""
    return IMAGE_RULE.confirmed(first, second)


def within_threshold(media: str, distance: int) -> bool:
    """Whether a content-code distance reads as the same work for `media` (unknown media: never)."""
    threshold = THRESHOLDS.get(media)
    return threshold is not None and 0 <= distance <= threshold


def statement_of(deny: Sequence[Purpose], allow: Sequence[Purpose]) -> dict[Purpose, Verdict]:
    """The creator's stated preferences as a statement: DENY wins where a purpose is in both lists."""
    statement = dict.fromkeys(allow, Verdict.ALLOW)
    statement.update(dict.fromkeys(deny, Verdict.DENY))
    return {p: statement[p] for p in PURPOSES if p in statement}


def _how(match: RegistryMatch) -> str:
    if match.kind == "sha256":
        return "same bytes (SHA-256)"
    if match.kind == "c2pa":
        return "same C2PA instance id"
    return (
        f"{match.kind} content code {match.distance} bits apart (threshold {THRESHOLDS.get(match.kind, 0)})"
    )


def match_signal(match: RegistryMatch, source: str) -> Signal:
    """The `registry` signal of one match: the creator's preferences, the work and the distance as evidence.

    Conservative (recorded in the evidence): only an exact match (same bytes) carries the creator's
    ALLOWs. A near-duplicate or C2PA-instance match might be a false or forged match, and a false match
    must never grant consent; its DENYs still count (withholding is the safe direction).
    """
    exact = match.kind in EXACT_KINDS
    allow = match.allow if exact else ()
    statement = statement_of(match.deny, allow)
    evidence = f'work {match.work_id} "{match.title}" by {match.creator}: {_how(match)}'
    if match.allow and not exact:
        dropped = ", ".join(p.value for p in match.allow)
        evidence += f"; allow {dropped} not counted (not an exact match)"
    return Signal(Mechanism.REGISTRY, Scope.REGISTRY, source, evidence, statement, hierarchical=True)


def unverifiable_signal(source: str, detail: str) -> Signal:
    """The registry could not be consulted for an asset: no statement, tag `unverifiable` (docs/purposes.md "The action")."""
    return Signal(
        Mechanism.REGISTRY,
        Scope.REGISTRY,
        source,
        f"registry lookup failed: {detail}",
        tags=(Tag.UNVERIFIABLE,),
    )
