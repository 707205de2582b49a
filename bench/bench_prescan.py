"""Pre-scan benchmark (docs/architecture.md "Performance budgets"): for a manifest-less asset of each format
(JPEG, PNG, WebP, HEIF, MP4, PDF, SVG), the byte pre-scan — what decides whether the c2pa reader runs —
against the c2pa reader as the crawl calls it (`consentry.middlewares.adapters.manifestreader.C2paReader`,
told the MIME type the core would tell it), all measured in the same run. The budget is a pre-scan at least
10x cheaper than the reader in every format. Also reported: the whole embedded reading (pre-scan plus the
XMP readings: IPTC, provenance URL, AI-generated label — work done with or without the reader) and the cost
of reading one signed image.

Fair by construction: the same bytes for every contender; CPU time (`time.process_time`, so other load on
the machine does not count against either side); the contenders interleaved within each round, their order
rotated; every memo the crawl would start cold cleared before each call (the pre-scan's memo for the
pre-scan; it and the XMP parse caches for the embedded reading); the ratio taken per round and the median of
the rounds reported. Nothing timed is asserted: the ratios are printed, with a last line naming the formats
(if any) under the budget. One crawl cost a same-object loop cannot show: a memo keyed by hash (an
`lru_cache`) hashes every new body, about as costly as the reader for a large PNG or WebP; the pre-scan's memo
compares bodies by identity, then equality, and never hashes them.

Run: .venv/bin/python -m bench.bench_prescan [rounds]
"""

from __future__ import annotations

import io
import re
import statistics
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from consentry.middlewares.adapters.manifestreader import C2paReader, read_store
from consentry.policies.assets import embedded, xmp
from consentry.policies.assets.prescan import scan
from consentry.policies.model import AssetResponse
from tests.provenance_fixtures import make_ca, sign_asset, training_assertion

REAL = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "real"
#: The budget: manifest-less assets at least this many times cheaper to pre-scan than to hand to the reader.
MIN_RATIO = 10.0
#: CPU seconds each contender runs per round and format (batched calls; the per-call mean is recorded).
BATCH_SECONDS = 0.04
ROUNDS = 7


def _photo(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((1024, 768), 64).convert("RGB").save(out, format=fmt, quality=90)
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4() -> bytes:
    """ftyp + moov (mvhd, a trak) + 1 MiB mdat: the shape of a short manifest-less clip."""
    moov = _box(b"moov", _box(b"mvhd", b"\x00" * 100) + _box(b"trak", _box(b"tkhd", b"\x00" * 84)))
    return _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + moov + _box(b"mdat", b"\x5a" * (1 << 20))


def _pdf_photo() -> bytes:
    """A one-page PDF holding a 1024x768 photo, as Pillow writes it (a DCT image stream)."""
    out = io.BytesIO()
    Image.effect_noise((1024, 768), 64).convert("RGB").save(out, format="PDF")
    return out.getvalue()


def _pdf_object_streams() -> bytes:
    """The photo PDF with its small objects moved into a Flate-compressed object stream (as qpdf does)."""
    objects = b"1 0 2 40 <</Type/Catalog/Pages 2 0 R>> <</Type/Pages/Kids[]/Count 0>>" + b" " * 4000
    data = zlib.compress(objects)
    stream = b"3 0 obj\n<</Type/ObjStm/N 2/First 10/Filter/FlateDecode/Length %d>>\nstream\n" % len(data)
    photo = _pdf_photo()
    return photo[:9] + stream + data + b"\nendstream\nendobj\n" + photo[9:]


def _svg_plain() -> bytes:
    """c2pa-rs's sample1.svg without its `<metadata>` (XMP): the common web SVG, paths only."""
    return re.sub(rb"<metadata>.*?</metadata>", b"", (REAL / "sample1.svg").read_bytes(), flags=re.S)


def samples() -> dict[str, tuple[str, bytes]]:
    """format -> (MIME type, a manifest-less asset)."""
    return {
        "JPEG": ("image/jpeg", _photo("JPEG")),
        "PNG": ("image/png", _photo("PNG")),
        "WebP": ("image/webp", _photo("WEBP")),
        "HEIF": ("image/avif", (REAL / "sample1.avif").read_bytes()),
        "MP4": ("video/mp4", _mp4()),
        "PDF": ("application/pdf", (REAL / "basic.pdf").read_bytes()),
        "PDF-photo": ("application/pdf", _pdf_photo()),
        "PDF-objstm": ("application/pdf", _pdf_object_streams()),
        "SVG": ("image/svg+xml", (REAL / "sample1.svg").read_bytes()),
        "SVG-plain": ("image/svg+xml", _svg_plain()),
    }


def _cold() -> None:
    """Forget what an earlier call memoised, as for a new asset in the crawl."""
    scan.cache_clear()
    for cached in (xmp._parsed, xmp._provenance_url, xmp._local_names):
        cached.cache_clear()


def contenders(mime: str, body: bytes) -> dict[str, Callable[[], object]]:
    """The three things measured for one asset: pre-scan, embedded reading, the c2pa reader."""
    asset = AssetResponse("https://ex.com/a", 200, (("Content-Type", mime),), body)
    reader = C2paReader()
    told = embedded._reader_type(scan(body, mime), asset)

    def prescan() -> object:
        scan.cache_clear()
        return scan(body, mime)

    def reading() -> object:
        _cold()
        return embedded.read_embedded(asset, reader)

    def direct() -> object:
        return reader(body, told)

    return {"pre-scan": prescan, "embedded": reading, "reader": direct}


def per_call(func: Callable[[], object], calls: int) -> float:
    """CPU seconds per call over `calls` calls."""
    start = time.process_time()
    for _ in range(calls):
        func()
    return (time.process_time() - start) / calls


def calibrate(func: Callable[[], object]) -> int:
    """How many calls fill about `BATCH_SECONDS` of CPU time (at least 3)."""
    func()
    one = max(per_call(func, 3), 1e-7)
    return max(3, int(BATCH_SECONDS / one))


def measure(funcs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Per-call CPU seconds of each contender in each round, the contenders interleaved, order rotated."""
    calls = {name: calibrate(func) for name, func in funcs.items()}
    names = list(funcs)
    seen: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            seen[name].append(per_call(funcs[name], calls[name]))
    return seen


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else ROUNDS
    print(f"CPU time per call, median of {rounds} interleaved rounds; ratios = reader / contender, per round, median")
    print(f"{'format':<11} {'bytes':>9} {'pre-scan µs':>12} {'embedded µs':>12} {'reader µs':>10} "
          f"{'reader/pre-scan':>16} {'reader/embedded':>16}")
    under = []
    for name, (mime, body) in samples().items():
        assert not scan(body, mime).has_c2pa, f"{name} sample carries a C2PA marker"  # a sanity check, not timed
        seen = measure(contenders(mime, body), rounds)
        pre, whole, direct = seen["pre-scan"], seen["embedded"], seen["reader"]
        ratio = statistics.median(r / p for r, p in zip(direct, pre, strict=True))
        ratio_whole = statistics.median(r / w for r, w in zip(direct, whole, strict=True))
        print(f"{name:<11} {len(body):>9} {statistics.median(pre) * 1e6:>12.1f} "
              f"{statistics.median(whole) * 1e6:>12.1f} {statistics.median(direct) * 1e6:>10.1f} "
              f"{ratio:>15.1f}x {ratio_whole:>15.1f}x")
        if ratio < MIN_RATIO:
            under.append(f"{name} ({ratio:.1f}x)")
    signed = sign_asset(make_ca(), "jpeg", [training_assertion(
        "cawg.training-mining", {"cawg.ai_generative_training": {"use": "notAllowed"}})])
    read = statistics.median(per_call(lambda: read_store(signed, "image/jpeg"), 20) for _ in range(rounds))
    print(f"signed JPEG ({len(signed)} B): c2pa read + verify {read * 1e6:.1f} µs")
    if under:
        print(f"under the {MIN_RATIO:.0f}x budget: {', '.join(under)}")
    else:
        print(f"every manifest-less format: pre-scan at least {MIN_RATIO:.0f}x cheaper than the reader")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
