"""consentry.middlewares.adapters.fingerprint + registry: several codes per work (borders trimmed, centre
crops), the thumbnail check of image matches, the uniform-image guard, hostile image inputs, and the
upgrade of a `consentry.registry/1` file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from bench.registry_thresholds import encode, synthetic_image
from consentry.middlewares.adapters.fingerprint import CROP_SHARES, Fingerprint, fingerprint
from consentry.middlewares.adapters.registry import SCHEMA, Registry
from consentry.policies.registrymatch import correlation
from consentry.policies.vocabulary import Purpose


def _add(registry: Registry, fp: Fingerprint, title: str) -> int:
    return registry.add(fp, creator="Ada", title=title, deny=[Purpose.AI_TRAIN], allow=[], added="x")


def _crop(image: Image.Image, share: float) -> bytes:
    dx, dy = round(image.width * share), round(image.height * share)
    return encode(image.crop((dx, dy, image.width - dx, image.height - dy)), "JPEG", quality=85)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry.open(tmp_path / "works.db", create=True)
    yield reg
    reg.close()


def test_a_registered_image_stores_its_centre_crops_and_a_query_only_its_whole_code() -> None:
    body = encode(synthetic_image(3, (400, 300)), "JPEG", quality=95)
    work, query = fingerprint(body, crops=True), fingerprint(body)
    assert work.code == query.code
    assert set(query.variants) <= set(work.variants)
    assert len(query.variants) < len(work.variants) <= len(CROP_SHARES) + 1
    assert len(work.thumbs) == 1 + len(work.variants)
    assert all(len(t) == 256 for t in work.thumbs)


def test_a_copy_cropped_ten_per_cent_a_side_is_found_only_through_the_crop_codes(registry: Registry) -> None:
    image = synthetic_image(8, (480, 360))
    original = encode(image, "JPEG", quality=95)
    with_crops = _add(registry, fingerprint(original, crops=True), "with crops")
    whole_only = _add(registry, fingerprint(original), "whole code only")
    matches = registry.lookup(fingerprint(_crop(image, 0.10)))
    assert [m.work_id for m in matches] == [with_crops]
    assert whole_only not in {m.work_id for m in registry.lookup(fingerprint(_crop(image, 0.10)))}


def test_letterboxed_copy_matches_through_its_trimmed_code(registry: Registry) -> None:
    image = synthetic_image(11, (400, 300))
    work = _add(registry, fingerprint(encode(image, "JPEG", quality=95), crops=True), "w")
    boxed = Image.new("RGB", (534, 300), "black")
    boxed.paste(image, (67, 0))
    query = fingerprint(encode(boxed, "JPEG", quality=85))
    assert query.variants  # the trimmed picture's code
    assert [m.work_id for m in registry.lookup(query)] == [work]


def test_thumbnail_check_refuses_a_code_match_whose_pixels_disagree(registry: Registry) -> None:
    fp = fingerprint(encode(synthetic_image(5), "JPEG", quality=95))
    inverted = bytes(255 - b for b in fp.thumbs[0])
    work = _add(registry, fp, "w")
    forged = Fingerprint("0" * 64, "image", fp.code, thumbs=(inverted,))
    assert correlation(fp.thumbs[0], inverted) < 0
    assert registry.lookup(forged) == []
    assert [m.work_id for m in registry.lookup(Fingerprint("0" * 64, "image", fp.code))] == [work]


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (300, 200), "white"),
        Image.new("RGB", (300, 200), (40, 90, 160)),
        Image.effect_noise((300, 200), 2).convert("RGB"),  # near-uniform grey with faint noise
        Image.linear_gradient("L").resize((300, 200)).point(lambda v: 120 + v // 64).convert("RGB"),
    ],
    ids=["white", "blue", "faint-noise", "faint-gradient"],
)
def test_blank_or_near_uniform_images_get_no_code_and_match_nothing(
    registry: Registry, image: Image.Image
) -> None:
    for seed in range(6):
        _add(registry, fingerprint(encode(synthetic_image(seed), "JPEG"), crops=True), f"w{seed}")
    fp = fingerprint(encode(image, "PNG"), crops=True)
    assert fp.code is None
    assert fp.media is None
    assert "flat" in fp.note
    assert registry.lookup(fp) == []


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def test_cmyk_sixteen_bit_alpha_and_animated_images_get_codes() -> None:
    picture = synthetic_image(9, (200, 160))
    rgb_code = fingerprint(encode(picture, "PNG")).code
    assert rgb_code is not None
    cmyk = fingerprint(_save(picture.convert("CMYK"), "JPEG", quality=95))
    grey16 = fingerprint(
        _save(picture.convert("L").convert("I").point(lambda v: v * 256).convert("I;16"), "PNG")
    )
    alpha = fingerprint(_save(picture.convert("RGBA"), "PNG"))
    frames = [picture, synthetic_image(10, (200, 160))]
    animated = fingerprint(_save(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    for fp in (cmyk, grey16, alpha):
        assert fp.code is not None, fp.note
        assert (fp.code ^ rgb_code).bit_count() <= 8, fp
    assert animated.code is not None
    assert "first frame" in animated.note


def test_undecodable_tiny_and_bomb_images_are_skipped_with_a_reason() -> None:
    truncated = encode(synthetic_image(1), "JPEG")[:200]
    tiny = encode(Image.effect_noise((12, 12), 60), "PNG")
    assert fingerprint(truncated, "image/jpeg").code is None
    assert fingerprint(truncated).note
    assert "too small" in fingerprint(tiny).note
    bomb = _save(Image.new("L", (12_000, 12_000)), "PNG")  # 144 Mpx: above the decoding cap
    fp = fingerprint(bomb, crops=True)
    assert fp.code is None
    assert "decompression bomb" in fp.note


def _v1(path: Path, code: int) -> None:
    """A registry file as consentry.registry/1 wrote it: no `codes` table."""
    with Registry.open(path, create=True) as registry:
        _add(registry, Fingerprint("a" * 64, "image", code), "old work")
        registry.connection.executescript(
            "DROP TABLE codes; UPDATE meta SET value = 'consentry.registry/1' WHERE key = 'schema';"
        )


def test_a_schema_1_registry_is_upgraded_and_keeps_matching(tmp_path: Path) -> None:
    fp = fingerprint(encode(synthetic_image(4), "JPEG", quality=95))
    _v1(tmp_path / "old.db", fp.code or 0)
    with Registry.open(tmp_path / "old.db") as registry:
        schema = registry.connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
        assert schema == SCHEMA
        copy = fingerprint(encode(synthetic_image(4).resize((160, 120)), "JPEG", quality=70))
        assert [m.title for m in registry.lookup(copy)] == ["old work"]
