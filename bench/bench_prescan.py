"""Pre-scan benchmark (docs/architecture.md "Performance budgets"): for a manifest-less asset of each format
(JPEG, PNG, WebP, HEIF, MP4, PDF, SVG), the byte pre-scan — what decides whether the c2pa reader runs — against
calling the c2pa reader directly, all measured in the same run; the pre-scan must stay at least 10x cheaper
than the reader in every format (the run exits 1 when one is not). Also reported: the whole embedded reading
(pre-scan plus XMP parsing, IPTC, the AI-generated label — work done with or without the reader) and the
cost of reading one signed image.

Run: .venv/bin/python -m bench.bench_prescan
"""

from __future__ import annotations

import io
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import c2pa
from PIL import Image

from consentry.middlewares.adapters.manifestreader import C2paReader, _context, read_store
from consentry.policies.assets.embedded import read_embedded
from consentry.policies.assets.prescan import scan
from consentry.policies.model import AssetResponse
from tests.provenance_fixtures import make_ca, sign_asset, training_assertion

REAL = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "real"
#: Manifest-less assets must be at least this many times cheaper than the c2pa reader.
MIN_RATIO = 10.0


def per_call(func: Callable[[], object], *, seconds: float = 0.5) -> float:
    """Mean seconds per call over about `seconds` of wall time."""
    func()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(5):
            func()
        count += 5
    return elapsed / count


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
    }


def measure(mime: str, body: bytes, context: c2pa.Context) -> tuple[float, float, float]:
    """(pre-scan, embedded reading, c2pa reader) seconds per call; the pre-scan's memo is cleared each time."""
    asset = AssetResponse("https://ex.com/a", 200, (("Content-Type", mime),), body)
    reader = C2paReader()

    def prescan() -> object:
        scan.cache_clear()
        return scan(body, mime)

    def pipeline() -> object:
        scan.cache_clear()
        return read_embedded(asset, reader)

    def direct() -> object:
        try:
            return c2pa.Reader.try_create(mime, io.BytesIO(body), context=context)
        except c2pa.C2paError:
            return None

    return per_call(prescan), per_call(pipeline), per_call(direct)


def main() -> int:
    context = _context(None)
    print(f"{'format':<11} {'bytes':>9} {'pre-scan µs':>12} {'embedded µs':>12} {'c2pa µs':>10} "
          f"{'reader/pre-scan':>16} {'reader/embedded':>16}")
    failed = []
    for name, (mime, body) in samples().items():
        assert not scan(body, mime).has_c2pa, name
        pre, whole, direct = measure(mime, body, context)
        ratio = direct / pre
        print(f"{name:<11} {len(body):>9} {pre * 1e6:>12.1f} {whole * 1e6:>12.1f} {direct * 1e6:>10.1f} "
              f"{ratio:>15.0f}x {direct / whole:>15.0f}x")
        if ratio < MIN_RATIO:
            failed.append(name)
    signed = sign_asset(make_ca(), "jpeg", [training_assertion(
        "cawg.training-mining", {"cawg.ai_generative_training": {"use": "notAllowed"}})])
    read = per_call(lambda: read_store(signed, "image/jpeg"), seconds=1.0)
    print(f"signed JPEG ({len(signed)} B): c2pa read + verify {read * 1e6:.1f} µs")
    if failed:
        print(f"below {MIN_RATIO:.0f}x: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"the pre-scan of every manifest-less format is at least {MIN_RATIO:.0f}x cheaper than the reader")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
