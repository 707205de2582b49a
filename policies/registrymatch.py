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
    "MAX_THRESHOLD",
    "MIN_CORRELATION",
    "THRESHOLDS",
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
#:   Image distances are even. With the thumbnail check (`MIN_CORRELATION`), one ordered pair of 182,756
#:   distinct pairs lies within 8 (two shots of one object on one table, 6 bits, correlation 0.91);
#:   without it, 4. 8 is kept: at 6, crops of 5 % fall to 97.7 % and rotations of 2° to 67 %.
#: - text: 400 stdlib docstrings (79,800 pairs): 1.1e-4 of pairs within 10, every one a genuinely
#:   overlapping docstring (sibling classes); unrelated 64-bit codes fall within 10 with p ≈ 1e-8. Copies:
#:   other HTML 100 %, inside site boilerplate 97 %, 2 % of words edited 100 %, 5 % edited 81 %, cut to 90 % 100 %
#:   (`python -m bench.registry_thresholds --texts 400`).
THRESHOLDS: Mapping[str, int] = {"image": 8, "text": 10}
#: Image matches are confirmed by the Pearson correlation of the matched codes' 16×16 grey thumbnails.
#: Real photographs (bench.registry_real): it removes 3 of the 4 distinct-photograph pairs within 8 bits,
#: no copy matched by resizing, recompression or a crop of ≤ 5 % a side, and ≤ 1 % of the other copies
#: (10 % crops 96.3 → 95.8 %, 3° rotations 62.9 → 61.9 %, 5 % white borders 98.6 → 98.4 %).
MIN_CORRELATION = 0.8
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


def confirmed(first: bytes, second: bytes) -> bool:
    """The finer check of an image match: the thumbnails of the two matched codes correlate enough.

    Either thumbnail missing (a work registered before thumbnails were kept) confirms nothing away:
    the code distance alone then decides, as it did.
    """
    return not first or not second or correlation(first, second) >= MIN_CORRELATION


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
