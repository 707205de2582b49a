"""The works registry on real photographs: recall per transformation and false matches, per threshold.

Every distinct photograph of the set (`bench.registry_real_data`) is registered as its creator would
(JPEG q=95 with EXIF, `registry add`: whole-image code, borders trimmed, centre crops), then copied
through what re-posting sites do (resizing, recompression, format changes, stripped metadata, crops,
small rotations, borders and letterboxing, screenshots at another size). Printed, per image threshold d
(Hamming distance between 64-bit codes, the nearest of a copy's and a work's codes):

- recall: the share of copies within d of their own work;
- false matches: ordered pairs (copy of photograph A, registered work B ≠ A) within d, among all such
  pairs of distinct photographs.

Then the same, end to end with the registry's rule (`IMAGE_RULE`: a work's whole-image code within
`THRESHOLDS["image"]`, its crop and trimmed codes within `VARIANT_THRESHOLD`, thumbnails correlated):
each copy looked up in a real registry file (`Registry.lookup`), counting copies found as their work and
lookups naming another work. `--sweep` prints, instead, recall and false matches for several such rules
(`ImageRule.matches`, the registry's own check).

    python -m bench.registry_real [--data DIR] [--limit N] [--jobs 2] [--fingerprints FILE] [--sweep]

The set is not in the repository; without it this prints how to build it (see bench/registry_real_SOURCES.md).
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

from bench.registry_real_data import default_dir, load_masters
from bench.registry_thresholds import encode
from consentry.middlewares.adapters.fingerprint import Fingerprint, fingerprint
from consentry.middlewares.adapters.registry import Registry
from consentry.policies.registrymatch import IMAGE_RULE, MIN_CORRELATION, ImageRule
from consentry.policies.vocabulary import Purpose

__all__ = ["REAL_TRANSFORMS", "main"]

_THRESHOLDS = range(4, 15, 2)  # ISCC image codes of 64 bits lie an even number of bits apart
#: The rules `--sweep` compares (whole-image code distance, variant code distance, min correlation).
_SWEEP = [ImageRule(w, v, c) for w in (6, 8) for v in (4, 6, 8) for c in (0.8, 0.9, 0.95)] + [
    ImageRule(8, v, 0.92) for v in (4, 8)
]


def _resize(factor: float) -> Callable[[Image.Image], bytes]:
    def resize(im: Image.Image) -> bytes:
        size = (max(1, round(im.width * factor)), max(1, round(im.height * factor)))
        return encode(im.resize(size, Image.Resampling.LANCZOS), "JPEG", quality=85)

    return resize


def _crop(share: float) -> Callable[[Image.Image], bytes]:
    def crop(im: Image.Image) -> bytes:
        dx, dy = round(im.width * share), round(im.height * share)
        return encode(im.crop((dx, dy, im.width - dx, im.height - dy)), "JPEG", quality=85)

    return crop


def _rotate(degrees: float) -> Callable[[Image.Image], bytes]:
    def rotate(im: Image.Image) -> bytes:
        turned = im.rotate(degrees, Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0))
        return encode(turned, "JPEG", quality=85)

    return rotate


def _pad(im: Image.Image, size: tuple[int, int], colour: tuple[int, int, int]) -> Image.Image:
    canvas = Image.new("RGB", size, colour)
    canvas.paste(im, ((size[0] - im.width) // 2, (size[1] - im.height) // 2))
    return canvas


def _border(im: Image.Image) -> bytes:
    """A 5 % white frame on every side."""
    dx, dy = round(im.width * 0.05), round(im.height * 0.05)
    return encode(_pad(im, (im.width + 2 * dx, im.height + 2 * dy), (255, 255, 255)), "JPEG", quality=85)


def _letterbox(im: Image.Image) -> bytes:
    """Black bars to a 16:9 frame (pillarbox for portrait pictures), as a video still or a slide."""
    width = max(im.width, round(im.height * 16 / 9))
    height = max(im.height, round(width * 9 / 16))
    return encode(_pad(im, (width, height), (0, 0, 0)), "JPEG", quality=85)


def _screenshot(im: Image.Image) -> bytes:
    """Re-rendered at 2/3 size (bilinear) on a dark viewer background with margins, saved as PNG."""
    small = im.resize((round(im.width * 2 / 3), round(im.height * 2 / 3)), Image.Resampling.BILINEAR)
    size = (round(small.width * 1.3), round(small.height * 1.2))
    return encode(_pad(small, size, (38, 38, 38)), "PNG")


def _png_then_jpeg(im: Image.Image) -> bytes:
    return encode(Image.open(io.BytesIO(encode(im, "PNG"))), "JPEG", quality=80)


#: A copy as a re-posting site serves it, from the photograph's master (long side ≤ 1024 px).
REAL_TRANSFORMS: dict[str, Callable[[Image.Image], bytes]] = {
    "metadata stripped": lambda im: encode(im, "JPEG", quality=95),
    "resize 25%": _resize(0.25),
    "resize 50%": _resize(0.5),
    "resize 75%": _resize(0.75),
    "resize 150%": _resize(1.5),
    "resize 200%": _resize(2.0),
    "half size, jpeg q=60": lambda im: encode(im.resize((im.width // 2, im.height // 2)), "JPEG", quality=60),
    "jpeg q=90": lambda im: encode(im, "JPEG", quality=90),
    "jpeg q=70": lambda im: encode(im, "JPEG", quality=70),
    "jpeg q=50": lambda im: encode(im, "JPEG", quality=50),
    "jpeg q=30": lambda im: encode(im, "JPEG", quality=30),
    "webp q=80": lambda im: encode(im, "WEBP", quality=80),
    "png": lambda im: encode(im, "PNG"),
    "png -> jpeg q=80": _png_then_jpeg,
    "crop 2% a side": _crop(0.02),
    "crop 5% a side": _crop(0.05),
    "crop 10% a side": _crop(0.10),
    "rotate +1°": _rotate(1),
    "rotate -2°": _rotate(-2),
    "rotate +3°": _rotate(3),
    "white border 5%": _border,
    "letterbox 16:9": _letterbox,
    "screenshot 2/3 size": _screenshot,
}


def _original(im: Image.Image) -> bytes:
    exif = Image.Exif()
    exif[0x013B] = "A. Creator"  # Artist
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


def _codes(fp: Fingerprint) -> tuple[tuple[int, bytes], ...]:
    if fp.code is None:
        return ()
    thumbs = fp.thumbs or (b"",) * (1 + len(fp.variants))
    return tuple(zip((fp.code, *fp.variants), thumbs, strict=True))


def _one(master: Image.Image) -> tuple[Fingerprint, dict[str, Fingerprint]]:
    """The registered work's fingerprint and every copy's."""
    work = fingerprint(_original(master), "image/jpeg", crops=True)
    return work, {name: fingerprint(transform(master)) for name, transform in REAL_TRANSFORMS.items()}


def _job(path: str) -> tuple[Fingerprint, dict[str, Fingerprint]]:
    with Image.open(path) as image:
        return _one(image.convert("RGB"))


Pair = tuple[int, bool, bytes, bytes]


def _pairs(query: tuple[tuple[int, bytes], ...], work: tuple[tuple[int, bytes], ...], top: int) -> list[Pair]:
    """(distance, to the work's whole-image code?, thumbnails) of a copy's and a work's codes within `top`, nearest first."""
    near = (((a ^ b).bit_count(), j == 0, ta, tb) for a, ta in query for j, (b, tb) in enumerate(work))
    return sorted((pair for pair in near if pair[0] <= top), key=lambda pair: pair[0])


def _distance(query: tuple[tuple[int, bytes], ...], work: tuple[tuple[int, bytes], ...], check: bool) -> int:
    """The nearest distance between a copy's and a work's codes (with `check`: among confirmed pairs only)."""
    # pairs beyond the table's largest d read as "no match" without the (slow, pure-Python) thumbnail check
    near = _pairs(query, work, _THRESHOLDS[-1])
    return next((d for d, _, ta, tb in near if not check or IMAGE_RULE.confirmed(ta, tb)), 65)


def _matched(rule: ImageRule, pairs: list[Pair]) -> bool:
    """Whether `rule` (the registry's matching rule, `ImageRule.matches`) matches any of the pairs."""
    return any(rule.matches(d, whole, ta, tb) for d, whole, ta, tb in pairs)


def _sweep(works: list[Fingerprint], copies: list[dict[str, Fingerprint]]) -> None:
    """Recall per transformation and false matches for every rule of `_SWEEP` (the registry's `ImageRule`).

    Two false-match counts: the unmodified copy of A against every other work B (as `_table`), and every
    copy of A (each transformation) against every other work B, as end-to-end lookups meet them.
    """
    codes = [_codes(w) for w in works]
    valid = [i for i, c in enumerate(codes) if c]
    top = max(max(r.whole, r.variant) for r in _SWEEP)
    own = {name: [_pairs(_codes(copies[i][name]), codes[i], top) for i in valid] for name in REAL_TRANSFORMS}
    cross = {
        name: [
            p
            for a in valid
            for b in valid
            if a != b and (p := _pairs(_codes(copies[a][name]), codes[b], top))
        ]
        for name in REAL_TRANSFORMS
    }
    total = len(valid) * (len(valid) - 1)
    print(
        f"sweep: {len(valid)} works; rule = whole-image code ≤ d1 / crop and trimmed codes ≤ d2 / correlation ≥ c"
    )
    print(f"{'transformation':<24} " + " ".join(f"{_label(r):>8}" for r in _SWEEP))
    for name, pairs in own.items():
        shares = (sum(_matched(r, p) for p in pairs) / len(pairs) for r in _SWEEP)
        print(f"{name:<24} " + " ".join(f"{v:>8.3f}" for v in shares))
    unmodified = cross["metadata stripped"]
    print(
        f"{'false, unmodified copy':<24} "
        + " ".join(f"{sum(_matched(r, p) for p in unmodified):>8}" for r in _SWEEP)
    )
    print(
        f"{'false, any copy':<24} "
        + " ".join(f"{sum(_matched(r, p) for v in cross.values() for p in v):>8}" for r in _SWEEP)
    )
    print(
        f"(false: ordered pairs (copy of A, work B ≠ A) matched, of {total:,} (unmodified) and "
        f"{total * len(cross):,} (any copy); the registry's rule: {_label(IMAGE_RULE)})"
    )


def _label(rule: ImageRule) -> str:
    return f"{rule.whole}/{rule.variant}/{rule.min_correlation:.2f}".replace("/0.", "/.")


def _table(works: list[Fingerprint], copies: list[dict[str, Fingerprint]]) -> None:
    codes = [_codes(w) for w in works]
    valid = [i for i, c in enumerate(codes) if c]
    print(f"{len(works)} photographs, {len(valid)} with a content code (the rest: {_skipped(works)})")
    # distinct pairs: the unmodified copy (metadata stripped) of A against every other registered work B
    queries = {i: _codes(copies[i]["metadata stripped"]) for i in valid}
    header = " ".join(f"{d:>6}" for d in _THRESHOLDS)
    for check, title in (
        (False, "code distance only"),
        (True, f"code distance + thumbnail correlation ≥ {MIN_CORRELATION}"),
    ):
        own = {
            name: [_distance(_codes(copies[i][name]), codes[i], check) for i in valid]
            for name in REAL_TRANSFORMS
        }
        cross = [_distance(queries[a], codes[b], check) for a in valid for b in valid if a != b]
        print(f"\n{title}: recall (share of copies within d bits of their own work)")
        print(f"{'transformation':<24} {header}")
        for name, values in own.items():
            print(
                f"{name:<24} "
                + " ".join(f"{sum(v <= d for v in values) / len(values):>6.3f}" for d in _THRESHOLDS)
            )
        print(
            f"{title}: false matches among {len(cross):,} ordered pairs of distinct photographs (nearest {min(cross)})"
        )
        print(f"{'pairs within d':<24} " + " ".join(f"{sum(v <= d for v in cross):>6}" for d in _THRESHOLDS))


def _skipped(works: list[Fingerprint]) -> str:
    notes = sorted({w.note or "no code" for w in works if w.code is None})
    return "; ".join(notes) or "none"


def _end_to_end(works: list[Fingerprint], copies: list[dict[str, Fingerprint]], labels: list[str]) -> None:
    rule = IMAGE_RULE
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry.open(Path(tmp) / "real.db", create=True)
        ids: dict[int, int] = {}
        with registry.batch():
            for i, work in enumerate(works):
                if work.code is not None:
                    ids[registry.add(work, creator="c", title=labels[i], deny=[Purpose.AI_TRAIN], allow=[],
                                     added="2026-01-01T00:00:00Z")] = i  # fmt: skip
        print(
            f"\nend to end with the registry's rule (whole-image code ≤ {rule.whole} bits, crop/trimmed codes "
            f"≤ {rule.variant}, correlation ≥ {rule.min_correlation}): {len(ids)} works in a registry file"
        )
        print(f"{'transformation':<24} {'found':>8} {'wrong work':>11}")
        wrong_total = 0
        for name in REAL_TRANSFORMS:
            found = wrong = 0
            for work_id, i in ids.items():
                matched = {m.work_id for m in registry.lookup(copies[i][name])}
                found += work_id in matched
                wrong += bool(matched - {work_id})
            wrong_total += wrong
            print(f"{name:<24} {found / len(ids):>8.3f} {wrong:>11}")
        print(f"lookups naming another work: {wrong_total} of {len(ids) * len(REAL_TRANSFORMS):,}")
        registry.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=default_dir(), help="the built set (default: %(default)s)"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N photographs")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-registry", action="store_true", help="skip the end-to-end registry part")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="instead of the tables: recall and false matches for several matching rules (whole-image "
        "threshold, variant threshold, min correlation), the registry's own rule among them",
    )
    parser.add_argument(
        "--fingerprints",
        type=Path,
        metavar="FILE",
        help="reuse the fingerprints saved in FILE (computed and saved there when it does not exist): to try "
        "matching rules without recomputing them; valid only while the fingerprint code is unchanged",
    )
    args = parser.parse_args()
    if not (args.data / "manifest.json").exists():
        sys.exit(
            f"no real-photograph set at {args.data}. Build it: clone the repositories listed in "
            "bench/registry_real_SOURCES.md as ROOT/OWNER+NAME/repo (git clone --bare), then run "
            f"python -m bench.registry_real_data --mirrors ROOT --out {args.data}"
        )
    masters = load_masters(args.data)
    if args.limit:
        masters = masters[: args.limit]
    labels = [label for label, _ in masters]
    paths = [str(path) for _, path in masters]
    if args.fingerprints and args.fingerprints.exists():
        results = pickle.loads(args.fingerprints.read_bytes())[: len(paths)]
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(_job, paths, chunksize=4))
        if args.fingerprints:
            args.fingerprints.write_bytes(pickle.dumps(results))
    works = [w for w, _ in results]
    copies = [c for _, c in results]
    if args.sweep:
        _sweep(works, copies)
        return
    _table(works, copies)
    if not args.no_registry:
        _end_to_end(works, copies, labels)


if __name__ == "__main__":
    main()
