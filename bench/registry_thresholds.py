"""Measure the registry's match thresholds: false-match rate on distinct works, recall on transformed copies.

Images: a few hundred distinct synthetic pictures (gradients, shapes, noise, text) made with Pillow,
each copied through the transforms a re-posting site applies (resize, JPEG recompression, PNG↔JPEG↔WebP,
small crops, metadata stripped). Texts: stdlib docstrings (real prose, offline), copied into other
markup, re-wrapped, lightly edited, wrapped in site boilerplate. Prints, per media type and Hamming
distance d, the share of distinct pairs within d (false matches) and of copies within d (recall).

    python -m bench.registry_thresholds [--images 300] [--texts 300]
"""

from __future__ import annotations

import argparse
import html
import importlib
import io
import itertools
import random
import sys
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter

from consentry.middlewares.adapters.fingerprint import image_code, text_code, visible_text

__all__ = ["IMAGE_TRANSFORMS", "TEXT_TRANSFORMS", "distinct_texts", "encode", "synthetic_image"]

#: stdlib modules not imported for their docstrings (side effects on import).
_SKIP = frozenset({"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "__main__"})
_FONT_WORDS = ("sunset", "harbour", "portrait", "study", "nocturne", "field", "river", "atelier")


def synthetic_image(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct natural-ish picture: a two-colour gradient, random shapes, noise, blur, a word."""
    rng = random.Random(seed)
    width, height = size
    top, bottom = ([rng.randrange(256) for _ in range(3)] for _ in range(2))
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    angle = rng.random()
    for y in range(height):
        t = (y / height) * (1 - angle) + angle * 0.5
        draw.line(
            [(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    for _ in range(rng.randint(3, 9)):
        box = sorted(rng.randrange(width) for _ in range(2)), sorted(rng.randrange(height) for _ in range(2))
        shape = [(box[0][0], box[1][0]), (box[0][1] + 4, box[1][1] + 4)]
        colour = tuple(rng.randrange(256) for _ in range(3))
        getattr(draw, rng.choice(("ellipse", "rectangle")))(shape, fill=colour)
    for _ in range(rng.randint(0, 4)):
        points = [(rng.randrange(width), rng.randrange(height)) for _ in range(3)]
        draw.polygon(points, fill=tuple(rng.randrange(256) for _ in range(3)))
    draw.text((rng.randrange(width // 2), rng.randrange(height - 20)), rng.choice(_FONT_WORDS), fill="white")
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    noise = Image.effect_noise(size, rng.uniform(4, 20)).convert("RGB")
    return Image.blend(image, noise, 0.08)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """`image` saved as `fmt` (JPEG, PNG, WEBP)."""
    out = io.BytesIO()
    image.convert("RGB").save(out, format=fmt, **options)
    return out.getvalue()


def _resize(factor: float) -> Callable[[Image.Image], bytes]:
    return lambda im: encode(
        im.resize((int(im.width * factor), int(im.height * factor)), Image.Resampling.LANCZOS),
        "JPEG",
        quality=85,
    )


def _crop(share: float) -> Callable[[Image.Image], bytes]:
    def crop(im: Image.Image) -> bytes:
        dx, dy = int(im.width * share), int(im.height * share)
        return encode(im.crop((dx, dy, im.width - dx, im.height - dy)), "JPEG", quality=85)

    return crop


def _jpeg_of_png(im: Image.Image) -> bytes:
    return encode(Image.open(io.BytesIO(encode(im, "PNG"))), "JPEG", quality=80)


def _png_of_jpeg(im: Image.Image) -> bytes:
    return encode(Image.open(io.BytesIO(encode(im, "JPEG", quality=90))), "PNG")


#: A copy as a re-posting site serves it. Originals are registered as JPEG q=95 with EXIF.
IMAGE_TRANSFORMS: dict[str, Callable[[Image.Image], bytes]] = {
    "metadata stripped": lambda im: encode(im, "JPEG", quality=95),
    "jpeg q=90": lambda im: encode(im, "JPEG", quality=90),
    "jpeg q=70": lambda im: encode(im, "JPEG", quality=70),
    "jpeg q=50": lambda im: encode(im, "JPEG", quality=50),
    "jpeg q=30": lambda im: encode(im, "JPEG", quality=30),
    "png": lambda im: encode(im, "PNG"),
    "webp q=80": lambda im: encode(im, "WEBP", quality=80),
    "png->jpeg": _jpeg_of_png,
    "jpeg->png": _png_of_jpeg,
    "resize 50%": _resize(0.5),
    "resize 25%": _resize(0.25),
    "resize 200%": _resize(2.0),
    "crop 2%": _crop(0.02),
    "crop 5%": _crop(0.05),
    "crop 10%": _crop(0.10),
}


def _original(im: Image.Image) -> bytes:
    exif = Image.Exif()
    exif[0x013B] = "A. Creator"  # Artist
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


def distinct_texts(count: int, min_chars: int = 400) -> list[str]:
    """Up to `count` distinct paragraphs of real prose: docstrings of stdlib modules, classes, functions."""
    seen: dict[str, None] = {}
    for name in sorted(sys.stdlib_module_names - _SKIP):
        if name.startswith("_"):
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:  # platform-specific stdlib modules
            continue
        for obj in (module, *vars(module).values()):
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str) and len(doc) >= min_chars and doc not in seen:
                seen[doc] = None
        if len(seen) >= count:
            break
    return list(seen)[:count]


_BOILER = (
    "<header><nav><a href='/'>Home</a> <a href='/blog'>Blog</a> <a href='/about'>About us</a></nav></header>",
    "<footer>© 2026 Reposted Content Farm. All rights reserved. Privacy · Terms · Contact</footer>",
)


def _edit(text: str, share: float, seed: int) -> str:
    rng = random.Random(seed)
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, int(len(words) * share))):
        words[i] = rng.choice(("the", "a", "and", "copy", "x"))
    return " ".join(words)


#: A copy of a text as another site serves it (the original is registered as a plain .txt file).
TEXT_TRANSFORMS: dict[str, Callable[[str], tuple[bytes, bool]]] = {
    "html, same text": lambda t: (f"<html><body><p>{html.escape(t)}</p></body></html>".encode(), True),
    "re-wrapped, upper case": lambda t: (" ".join(t.split()).upper().encode(), False),
    "html + site boilerplate": lambda t: (
        f"<html><body>{_BOILER[0]}<article>{html.escape(t)}</article>{_BOILER[1]}"
        f"<script>var x=1;</script></body></html>".encode(),
        True,
    ),
    "2% words edited": lambda t: (_edit(t, 0.02, len(t)).encode(), False),
    "5% words edited": lambda t: (_edit(t, 0.05, len(t)).encode(), False),
    "first 90%": lambda t: (t[: int(len(t) * 0.9)].encode(), False),
}


def _histogram(pairs: list[int], copies: dict[str, list[int]], top: int) -> None:
    print(f"{'d':>3} {'false-match':>12} " + " ".join(f"{name[:12]:>12}" for name in copies))
    for d in range(top + 1):
        fm = sum(x <= d for x in pairs) / len(pairs)
        rec = " ".join(f"{sum(x <= d for x in v) / len(v):>12.3f}" for v in copies.values())
        print(f"{d:>3} {fm:>12.2e} {rec}")


def _distances(codes: list[int | None]) -> list[int]:
    valid = [c for c in codes if c is not None]
    return [(a ^ b).bit_count() for a, b in itertools.combinations(valid, 2)]


def measure_images(count: int) -> None:
    images = [synthetic_image(seed) for seed in range(count)]
    originals = [image_code(_original(im))[0] for im in images]
    copies = {name: [] for name in IMAGE_TRANSFORMS}  # type: dict[str, list[int]]
    for im, code in zip(images, originals, strict=True):
        for name, transform in IMAGE_TRANSFORMS.items():
            copy = image_code(transform(im))[0]
            copies[name].append(64 if code is None or copy is None else (code ^ copy).bit_count())
    pairs = _distances(originals)
    print(f"images: {count} originals, {len(pairs)} distinct pairs")
    _histogram(pairs, copies, 16)


def measure_texts(count: int) -> None:
    texts = distinct_texts(count)
    originals = [text_code(t)[0] for t in texts]
    copies = {name: [] for name in TEXT_TRANSFORMS}  # type: dict[str, list[int]]
    for text, code in zip(texts, originals, strict=True):
        for name, transform in TEXT_TRANSFORMS.items():
            body, html = transform(text)
            copy = text_code(visible_text(body, html))[0]
            copies[name].append(64 if code is None or copy is None else (code ^ copy).bit_count())
    pairs = _distances(originals)
    print(f"texts: {len(texts)} originals, {len(pairs)} distinct pairs")
    _histogram(pairs, copies, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--texts", type=int, default=300)
    args = parser.parse_args()
    measure_images(args.images)
    measure_texts(args.texts)


if __name__ == "__main__":
    main()
