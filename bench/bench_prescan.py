"""Pre-scan benchmark (docs/architecture.md "Performance budgets"): cost per manifest-less JPEG with the byte pre-scan vs
calling the c2pa reader directly, and the cost per signed image read, measured in the same run.

Run: .venv/bin/python -m bench.bench_prescan
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import c2pa
from PIL import Image

from consentry.middlewares.adapters.manifestreader import C2paReader, _context, read_store
from consentry.policies.assets.embedded import embedded_signals
from consentry.policies.assets.prescan import scan
from consentry.policies.model import AssetResponse
from tests.provenance_fixtures import make_ca, plain_image, sign_asset, training_assertion


def per_call(func: Callable[[], object], *, seconds: float = 1.0) -> float:
    """Mean seconds per call over about `seconds` of wall time."""
    func()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            func()
        count += 20
    return elapsed / count


def photo_jpeg() -> bytes:
    """A photo-sized manifest-less JPEG (1024x768 noise, ~quality 90)."""
    out = io.BytesIO()
    Image.effect_noise((1024, 768), 64).convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


def manifestless(label: str, plain: bytes, context: c2pa.Context) -> None:
    def reader_direct() -> object:
        return c2pa.Reader.try_create("image/jpeg", io.BytesIO(plain), context=context)

    prescan = per_call(lambda: scan(plain, "image/jpeg"))
    pipeline = per_call(lambda: embedded_signals(AssetResponse("u", 200, (), plain), C2paReader()))
    direct = per_call(reader_direct)
    print(f"manifest-less {label} JPEG ({len(plain)} B):")
    print(f"  pre-scan                       {prescan * 1e6:9.1f} µs")
    print(f"  embedded_signals (scan + XMP)  {pipeline * 1e6:9.1f} µs")
    print(f"  c2pa Reader.try_create direct  {direct * 1e6:9.1f} µs")
    print(f"  ratio reader / pre-scan        {direct / prescan:9.0f} x")
    print(f"  ratio reader / embedded_signals{direct / pipeline:9.0f} x")


def main() -> None:
    context = _context(None)
    manifestless("thumbnail", plain_image("jpeg"), context)
    manifestless("photo", photo_jpeg(), context)
    ca = make_ca()
    assertion = training_assertion(
        "cawg.training-mining", {"cawg.ai_generative_training": {"use": "notAllowed"}}
    )
    signed = sign_asset(ca, "jpeg", [assertion])
    signed_read = per_call(lambda: read_store(signed, "image/jpeg"), seconds=2.0)
    pipeline_signed = per_call(lambda: embedded_signals(AssetResponse("u", 200, (), signed), C2paReader()), seconds=2.0)

    print(f"signed JPEG ({len(signed)} B):")
    print(f"  read_store (c2pa read + verify)  {signed_read * 1e6:9.1f} µs")
    print(f"  embedded_signals (full pipeline) {pipeline_signed * 1e6:9.1f} µs")


if __name__ == "__main__":
    main()
