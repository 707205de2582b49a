"""Registry lookup cost per asset, as a ratio to the SHA-256 of the same asset, at 10,000 and 100,000 works.

Registries are filled with random 64-bit image codes — each work with 6 of them (whole image and crops, as
`registry add` stores) — plus a few real works (the asset's original among them). Reported per asset:
exact lookup (SHA-256 index), near-duplicate lookup (fingerprint given: multi-index hashing in memory, the
rows it proposes read back from the file), the whole `Registry.signals` (fingerprint + lookups), for
contrast a linear scan of every code, and what loading the in-memory index costs once per opened registry.
Last: the near lookup at the largest size against the smallest, as a ratio (sub-linear: ≤ 3× the time for
10× the works) and in ms (budget ≤ 2 ms). Times are CPU times of this process (`time.process_time`), so
that other work on a busy machine does not count; the load average is printed beside them.

    python -m bench.bench_registry [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import tempfile
import time
import timeit
from pathlib import Path

from bench.registry_thresholds import encode, synthetic_image
from consentry.middlewares.adapters.fingerprint import Fingerprint, fingerprint
from consentry.middlewares.adapters.registry import Registry
from consentry.policies.model import AssetResponse
from consentry.policies.registrymatch import THRESHOLDS
from consentry.policies.vocabulary import Purpose


def _fill(path: Path, size: int, real: list[Fingerprint]) -> Registry:
    registry = Registry.open(path, create=True)
    rng = random.Random(size)
    with registry.batch():
        for i in range(size - len(real)):
            variants = tuple(rng.getrandbits(64) for _ in range(5))
            fp = Fingerprint(f"{rng.getrandbits(256):064x}", "image", rng.getrandbits(64), variants=variants)
            registry.add(
                fp,
                creator=f"c{i % 997}",
                title=f"w{i}",
                deny=[Purpose.AI_TRAIN],
                allow=[],
                added="2026-01-01T00:00:00Z",
            )
        for n, fp in enumerate(real):
            registry.add(fp, creator="Ada", title=f"real{n}", deny=[Purpose.AI_TRAIN], allow=[], added="x")
    return registry


def _per_call(fn: object, number: int) -> float:
    """CPU seconds a call (this process's time: other work on a busy machine is not counted)."""
    return min(timeit.repeat(fn, number=number, repeat=5, timer=time.process_time)) / number  # type: ignore[arg-type]


def _linear(registry: Registry, code: int) -> int:
    found = 0
    for (stored,) in registry.connection.execute("SELECT code FROM codes"):
        found += ((stored & ((1 << 64) - 1)) ^ code).bit_count() <= THRESHOLDS["image"]
    return found


def bench(size: int, workdir: Path) -> float:
    image = synthetic_image(4242, (1600, 1200))
    original = encode(image, "JPEG", quality=95)
    copy = encode(image.resize((1200, 900)), "JPEG", quality=80)
    real = [fingerprint(original, crops=True)]
    real += [fingerprint(encode(synthetic_image(s), "JPEG"), crops=True) for s in range(5)]
    _fill(workdir / f"r{size}.db", size, real).close()
    registry = Registry.open(workdir / f"r{size}.db")
    query = fingerprint(copy)
    started = time.process_time()
    registry.lookup(query)  # the first near lookup loads the in-memory band indexes
    load = time.process_time() - started
    asset = AssetResponse("http://copy.test/a.jpg", 200, (("Content-Type", "image/jpeg"),), copy)
    assert [m.title for m in registry.lookup(query)] == ["real0"], registry.lookup(query)
    sha = _per_call(lambda: hashlib.sha256(copy).hexdigest(), 200)
    exact = _per_call(lambda: registry.lookup(Fingerprint(query.sha256)), 2000)
    near = _per_call(lambda: registry.lookup(query), 50)
    whole = _per_call(lambda: registry.signals(asset), 20)
    linear = _per_call(lambda: _linear(registry, query.code or 0), 2)
    print(
        f"registry of {size:,} works; asset {len(copy):,} bytes (JPEG copy, resized, q=80); SHA-256 {sha * 1e6:.1f} µs; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  index load (first near lookup after opening) {load:.2f} s; {1 + len(query.variants)} query codes")
    for name, cost in (
        ("exact lookup (sha256 index)", exact),
        ("near lookup (band index)", near),
        ("signals(): fingerprint + lookups", whole),
        ("linear scan of every image code", linear),
    ):
        print(f"  {name:<34} {cost * 1e6:>10.1f} µs  {cost / sha:>8.1f}× SHA-256")
    registry.close()
    return near


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        near = {size: bench(size, Path(tmp)) for size in args.sizes}
    small, large = min(near), max(near)
    if large > small:
        print(
            f"near lookup, {large:,} vs {small:,} works ({large / small:.0f}× the works): "
            f"{near[large] / near[small]:.2f}× the time (budget ≤ 3× for 10×); at {large:,}: "
            f"{near[large] * 1e3:.2f} ms (budget ≤ 2 ms)"
        )


if __name__ == "__main__":
    main()
