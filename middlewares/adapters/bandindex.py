"""Multi-index hashing over 64-bit content codes, in memory: the near-duplicate index of the works registry.

docs/signals/registry.md ("The index"). Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with
Multi-Index Hashing" (CVPR 2012): a code is split into m bands; two codes at most t bits apart differ in at
most r = t // m bits in some band (pigeonhole: m × (r + 1) > t), so probing, in each band, the query's
value and every value within r bit flips of it finds every code within t. Each band is held as arrays
sorted by band value with a directory of bucket bounds over the value's leading bits (8–16 buckets a
row), and the bounds of every probe are gathered in C (operator.itemgetter): only the few non-empty
buckets are scanned in Python. At 600,000 codes an image code's 718 probes cost about 0.3–0.5 ms of CPU
(`python -m bench.bench_registry`). Memory: 16 bytes a code a band plus the directories (65 MB for
600,000 image codes, 200 MB at the peak of loading them).

The index only proposes candidates (keys with their codes); the registry confirms each against its file.
Codes added later go to a second, small segment until the owner reloads the index.
"""

from __future__ import annotations

import functools
import itertools
import operator
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat
from operator import itemgetter

__all__ = ["BandIndex", "flips", "pigeonhole_radius"]

_MASK = (1 << 64) - 1


@functools.cache
def flips(radius: int, width: int) -> tuple[int, ...]:
    """Every mask of at most `radius` set bits among `width` (0 first)."""
    return tuple(
        sum(1 << b for b in bits) for n in range(radius + 1) for bits in itertools.combinations(range(width), n)
    )


def pigeonhole_radius(threshold: int, bands: int) -> int:
    """Per-band bit flips that find every code within `threshold` bits over `bands` bands."""
    return threshold // bands


def _take(sequence: Sequence[int], indexes: list[int]) -> tuple[int, ...]:
    """`sequence[i]` for every i in `indexes`, gathered in C (operator.itemgetter)."""
    return itemgetter(*indexes)(sequence) if len(indexes) > 1 else (sequence[indexes[0]],)


class _Band:
    """One band of a segment: (code, key) sorted by band value, and a directory over its leading bits."""

    __slots__ = ("bucket_shift", "codes", "directory", "keys", "mask", "shift")

    def __init__(self, rows: Sequence[tuple[int, int]], shift: int, width: int) -> None:
        prefix = min(width, max(4, len(rows).bit_length() + 3))  # 8 to 16 buckets a row, at most one a value
        self.shift, self.mask, self.bucket_shift = shift, (1 << width) - 1, width - prefix
        self.codes = array("Q", map(_MASK.__and__, map(itemgetter(0), rows)))  # SQLite stores them signed
        self.keys = array("q", map(itemgetter(1), rows))
        # every step in C (map, Counter, accumulate): loading 600,000 codes costs no Python loop a row
        values = map(operator.and_, map(operator.rshift, self.codes, repeat(shift)), repeat(self.mask))
        counter = Counter(map(operator.rshift, values, repeat(self.bucket_shift)))
        counts = itertools.chain((0,), map(counter.get, range(1 << prefix), repeat(0)))
        self.directory = array("I", itertools.accumulate(counts))

    def probe(self, value: int, masks: tuple[int, ...], out: dict[int, int]) -> None:
        """Add to `out` {key: code} of the rows whose band value is `value` XOR one of `masks`.

        The probe values and their buckets' bounds are gathered in C; only non-empty buckets (a few of
        hundreds of probes) are scanned in Python.
        """
        probes = list(map(value.__xor__, masks))
        buckets = list(map(operator.rshift, probes, repeat(self.bucket_shift))) if self.bucket_shift else probes
        starts = _take(self.directory, buckets)
        ends = _take(self.directory, list(map(operator.add, buckets, repeat(1))))
        codes, keys, shift, mask = self.codes, self.keys, self.shift, self.mask
        hits = itertools.compress(zip(probes, starts, ends, strict=True), map(operator.ne, starts, ends))
        if not self.bucket_shift:  # one band value a bucket: every row of a non-empty bucket is a hit
            for _, start, end in hits:
                out.update(zip(keys[start:end], codes[start:end], strict=True))
            return
        for probe, start, end in hits:
            for j in range(start, end):
                if (codes[j] >> shift) & mask == probe:
                    out[keys[j]] = codes[j]


class BandIndex:
    """Keys (e.g. SQLite row ids) of 64-bit codes, searchable by Hamming distance up to `threshold`.

    Codes are 64-bit, signed (as SQLite stores them) or unsigned; each row's key is its own (a row id).
    `load` takes, for each band, the (code, key) rows sorted by that band's value (as an SQL index scan
    gives them); `extend` adds rows to a second segment, sorted here and rebuilt when it changes: the
    owner reloads everything once that segment grows (`tail`).
    """

    def __init__(self, widths: tuple[int, ...], threshold: int) -> None:
        if sum(widths) != 64 or max(widths) > 32:
            raise ValueError(f"bands {widths} do not cover 64 bits in bands of at most 32")
        self.widths = widths
        self.threshold = threshold
        self.masks = [flips(pigeonhole_radius(threshold, len(widths)), width) for width in widths]
        self.shifts = tuple(64 - sum(widths[: i + 1]) for i in range(len(widths)))
        self._main: list[_Band] = self._bands([[] for _ in widths])
        self._tail: list[_Band] = self._main
        self._added: list[tuple[int, int]] = []  # the tail segment's rows, (code, key)
        self._stale = False  # the tail segment lags `_added`

    def __len__(self) -> int:
        return len(self._main[0].keys) + len(self._added)

    @property
    def tail(self) -> int:
        """Rows added since `load`."""
        return len(self._added)

    def band_values(self, code: int) -> tuple[int, ...]:
        """The code's bands, most significant first."""
        return tuple((code >> s) & ((1 << w) - 1) for s, w in zip(self.shifts, self.widths, strict=True))

    def probes(self) -> int:
        """Band values a lookup probes (every band)."""
        return sum(len(m) for m in self.masks)

    def _bands(self, per_band: Iterable[Sequence[tuple[int, int]]]) -> list[_Band]:
        return [_Band(rows, s, w) for rows, s, w in zip(per_band, self.shifts, self.widths, strict=True)]

    def _sorted(self, rows: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]]:
        return [
            sorted(rows, key=lambda row, s=s, w=w: (row[0] >> s) & ((1 << w) - 1))  # type: ignore[misc]
            for s, w in zip(self.shifts, self.widths, strict=True)
        ]

    def load(self, per_band: Iterable[Sequence[tuple[int, int]]]) -> None:
        """Replace the contents: for each band, every (code, key) row sorted by that band's value (an
        iterable read one band at a time, so only one band's rows need be held at once)."""
        self._main = self._bands(per_band)
        self._tail, self._added, self._stale = self._bands([[] for _ in self.widths]), [], False

    def build(self, rows: Iterable[tuple[int, int]]) -> None:
        """Replace the contents by (code, key) rows in any order."""
        self.load(self._sorted(list(rows)))

    def extend(self, rows: Iterable[tuple[int, int]]) -> None:
        """Add (code, key) rows."""
        self._added.extend(rows)
        self._stale = True

    def near(self, code: int) -> dict[int, int]:
        """{key: distance} of every key with a code within `threshold` bits of unsigned `code` (its nearest)."""
        if self._stale:
            self._tail, self._stale = self._bands(self._sorted(self._added)), False
        found: dict[int, int] = {}
        for segment in (self._main, self._tail) if self._added else (self._main,):
            candidates: dict[int, int] = {}
            for band, value, masks in zip(segment, self.band_values(code), self.masks, strict=True):
                band.probe(value, masks, candidates)
            distances = list(map(int.bit_count, map(code.__xor__, candidates.values())))
            near = map(operator.le, distances, repeat(self.threshold))
            for key, distance in itertools.compress(zip(candidates, distances, strict=True), near):
                if distance < found.get(key, 65):
                    found[key] = distance
        return found
