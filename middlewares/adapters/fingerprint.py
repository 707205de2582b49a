"""Fingerprints of an asset's bytes for the works registry (docs/signals/registry.md; ISCC, ISO 24138).

SHA-256 of the bytes; a 64-bit ISCC Content-Code (iscc-core) of an image (Pillow-decoded, 32×32 grey) or
of a text (an HTML page's visible text via lxml, or a text file); the C2PA instance id when a manifest is
present. Remote bytes never raise: what cannot be decoded simply has no content code.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass

import iscc_core
import lxml.etree
import lxml.html
from PIL import Image, ImageChops, ImageOps, ImageStat, UnidentifiedImageError

from consentry.middlewares.adapters.manifestreader import read_store
from consentry.policies.assets import prescan
from consentry.policies.model import media_type

__all__ = [
    "CROP_SHARES",
    "IMAGE_TYPES",
    "MIN_TEXT_CHARS",
    "TEXT_TYPES",
    "THUMB_SIDE",
    "Fingerprint",
    "code_from_iscc",
    "fingerprint",
    "image_code",
    "image_codes",
    "iscc_of",
    "media_of",
    "text_code",
    "visible_text",
]

logger = logging.getLogger(__name__)

#: Media types fingerprinted as images (whatever Pillow decodes) and as text.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/bmp"})
TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "text/markdown"})
#: Shorter collapsed texts get no content code: a few words say too little to identify a work.
MIN_TEXT_CHARS = 64
#: Images below this side length, or (almost) flat after normalisation, get no content code.
_MIN_SIDE = 16
_MIN_CONTRAST = 8
#: Thumbnails whose grey standard deviation is lower are near-uniform: their code would be noise.
_MIN_SPREAD = 3.0
#: Side of the grey thumbnail kept with every image code for the finer check (bytes: its square).
THUMB_SIDE = 16
#: Centre crops (share of each side) whose codes a registered image also stores.
CROP_SHARES = (0.025, 0.05, 0.075, 0.1, 0.125)
#: Border trimming: grey levels within this of the background colour are border; what remains must keep
#: this share of the area (a picture mostly "border" is left whole).
_BORDER_TOLERANCE = 12
_MIN_TRIMMED_SHARE = 0.3
#: Scale factors to 8 bits of Pillow's wide modes (16-bit integers; 32-bit integers and floats as 0…65535).
_WIDE = {"I;16": 1 / 256, "I;16L": 1 / 256, "I;16B": 1 / 256, "I;16N": 1 / 256}
#: Decoding cap (pixels): larger images are not decoded (Pillow's bomb guard raises above 2× this).
_MAX_PIXELS = 64_000_000
_BITS = 64
_HIDDEN = ("script", "style", "noscript", "template", "head")
_SNIFF = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF8", "image/gif"),
          (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"), (b"BM", "image/bmp"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies one asset: `media` is "image", "text" or None (no content code could be made)."""

    sha256: str
    media: str | None = None
    code: int | None = None  # the 64-bit ISCC Content-Code body, unsigned
    instance_id: str | None = None
    note: str = ""
    #: Further image codes (borders trimmed; for a work to register, centre crops): also matched.
    variants: tuple[int, ...] = ()
    #: The grey thumbnail (`THUMB_SIDE`², row-major bytes) of `code`, then of each variant; may be empty.
    thumbs: tuple[bytes, ...] = ()

    @property
    def iscc(self) -> str | None:
        """The ISCC Content-Code in its canonical `ISCC:…` form."""
        return iscc_of(self.media, self.code) if self.media and self.code is not None else None


def iscc_of(media: str, code: int) -> str:
    """`ISCC:…` of a 64-bit content-code body of `media` ("image" | "text")."""
    subtype = iscc_core.ST_CC.IMAGE if media == "image" else iscc_core.ST_CC.TEXT
    unit = iscc_core.encode_component(
        iscc_core.MT.CONTENT, subtype, iscc_core.VS.V0, _BITS, code.to_bytes(8, "big")
    )
    return f"ISCC:{unit}"


def code_from_iscc(value: str) -> tuple[str, int]:
    """(media, 64-bit body) of an `ISCC:…` Content-Code of an image or text; `ValueError` otherwise."""
    try:
        mtype, stype, _, _, digest = iscc_core.iscc_decode(value)
    except Exception as exc:  # iscc-core raises assorted types on bad codes
        raise ValueError(f"not an ISCC code: {value!r}") from exc
    kinds = {iscc_core.ST_CC.IMAGE: "image", iscc_core.ST_CC.TEXT: "text"}
    if mtype != iscc_core.MT.CONTENT or stype not in kinds or len(digest) < 8:
        raise ValueError(f"not a 64-bit image or text Content-Code: {value!r}")
    return kinds[stype], int.from_bytes(digest[:8], "big")


def media_of(body: bytes, content_type: str) -> str:
    """The media type to fingerprint `body` as: the declared one, else sniffed from magic bytes."""
    declared = media_type(content_type)
    if declared in IMAGE_TYPES or declared in TEXT_TYPES:
        return declared
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _SNIFF if body.startswith(magic)), declared)


def _grey(image: Image.Image) -> Image.Image:
    """8-bit grey of any Pillow mode: alpha composited on white, 16-bit and float scaled (not clipped)."""
    if image.mode in _WIDE:
        image = image.convert("I").point(lambda v: v * _WIDE[image.mode])
    if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return image.convert("L")


def _decode(body: bytes) -> tuple[Image.Image | None, str]:
    """(EXIF-oriented 8-bit grey image, note) of an image's bytes (first frame); None with the reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(body))
            if image.width * image.height > _MAX_PIXELS:
                return None, f"image of {image.width}×{image.height} pixels not decoded"
            frames = getattr(image, "n_frames", 1)
            image.draft("RGB", (256, 256))  # JPEG: decode at a reduced scale, still ≥ 8× the hash size
            grey = _grey(ImageOps.exif_transpose(image))
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        UnidentifiedImageError,
        EOFError,
    ) as exc:
        detail = "not a recognised image format" if isinstance(exc, UnidentifiedImageError) else str(exc)
        return None, f"cannot decode image: {detail}"
    if min(grey.size) < _MIN_SIDE:
        return None, f"image of {grey.width}×{grey.height} pixels too small for a content code"
    return grey, f"animated image of {frames} frames: first frame" if frames > 1 else ""


def _code(grey: Image.Image) -> tuple[int, bytes] | None:
    """(64-bit ISCC image code (32×32 bicubic, iscc-sdk), 16×16 grey thumbnail) of a grey image; None when (almost) flat."""
    small = grey.resize((32, 32), Image.Resampling.BICUBIC)
    pixels = list(small.tobytes())  # mode L: one byte a pixel
    if max(pixels) - min(pixels) < _MIN_CONTRAST or ImageStat.Stat(small).stddev[0] < _MIN_SPREAD:
        return None
    code = int.from_bytes(iscc_core.soft_hash_image_v0(pixels, bits=_BITS)[:8], "big")
    return code, grey.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX).tobytes()


def _trimmed(grey: Image.Image) -> Image.Image | None:
    """`grey` without uniform borders (letterboxing, frames), or None when it has none to trim."""
    corners = [grey.getpixel(xy) for xy in ((0, 0), (grey.width - 1, 0), (0, grey.height - 1))]
    corners.append(grey.getpixel((grey.width - 1, grey.height - 1)))
    background = sorted(int(str(c)) for c in corners)[1]
    mask = ImageChops.difference(grey, Image.new("L", grey.size, background))
    box = mask.point(lambda v: 255 if v > _BORDER_TOLERANCE else 0).getbbox()
    if box is None or box == (0, 0, grey.width, grey.height):
        return None
    width, height = box[2] - box[0], box[3] - box[1]
    if min(width, height) < _MIN_SIDE or width * height < grey.width * grey.height * _MIN_TRIMMED_SHARE:
        return None
    return grey.crop(box)


def _centre_crop(grey: Image.Image, share: float) -> Image.Image:
    dx, dy = round(grey.width * share), round(grey.height * share)
    return grey.crop((dx, dy, grey.width - dx, grey.height - dy))


def image_codes(body: bytes, *, crops: bool = False) -> tuple[tuple[tuple[int, bytes], ...], str]:
    """((code, thumbnail) of the whole image first, then of its variants…, note) of an image; () when none.

    Variants: the image with uniform borders trimmed (when it has any), and with `crops` (what a
    registered work stores) centre crops of every share in `CROP_SHARES` a side, so that a copy cropped
    by a few per cent a side is near one of them. Codes equal to one already listed are left out. Each
    code comes with the `THUMB_SIDE`² grey thumbnail of the same pixels, the finer check of a match.
    """
    grey, note = _decode(body)
    if grey is None:
        return (), note
    whole = _code(grey)
    if whole is None:
        return (), "image (almost) flat: no content code"
    trimmed = _trimmed(grey)
    base = trimmed or grey
    sources = [trimmed] if trimmed is not None else []
    if crops:
        sources += [_centre_crop(base, share) for share in CROP_SHARES]
    found = {whole[0]: whole[1]}
    for image in sources:
        value = _code(image) if min(image.size) >= _MIN_SIDE else None
        if value is not None:
            found.setdefault(*value)
    return tuple(found.items()), note


def image_code(body: bytes) -> tuple[int | None, str]:
    """(64-bit ISCC image code, note): EXIF-oriented, alpha on white, grey, 32×32 bicubic (iscc-sdk)."""
    codes, note = image_codes(body)
    return (codes[0][0] if codes else None), note


def visible_text(body: bytes, html: bool) -> str:
    """The visible text of an HTML page (scripts, styles and the head dropped) or of a text file."""
    if not html:
        return body.decode("utf-8-sig", errors="replace")
    try:
        root = lxml.html.document_fromstring(body)
    except (lxml.etree.ParserError, ValueError):
        return ""
    for element in list(root.iter(*_HIDDEN)):
        element.drop_tree()
    return " ".join(root.itertext())


def text_code(text: str) -> tuple[int | None, str]:
    """(64-bit ISCC text code, note) of plain text; short texts get none."""
    collapsed = iscc_core.text_collapse(text)
    if len(collapsed) < MIN_TEXT_CHARS:
        return None, f"text of {len(collapsed)} characters too short for a content code"
    digest = iscc_core.soft_hash_text_v0(collapsed)
    return int.from_bytes(digest[:8], "big"), ""


def _instance_id(body: bytes, kind: str) -> str | None:
    if not prescan.scan(body, kind).has_c2pa:
        return None
    store = read_store(body, kind).store or {}
    manifests, active = store.get("manifests"), store.get("active_manifest")
    manifest = manifests.get(active) if isinstance(manifests, dict) and isinstance(active, str) else None
    value = manifest.get("instance_id") if isinstance(manifest, dict) else None
    return value if isinstance(value, str) and value else None


def fingerprint(body: bytes, content_type: str = "", *, crops: bool = False) -> Fingerprint:
    """Every fingerprint of one asset; never raises on remote bytes. `crops`: a work to register (`image_codes`)."""
    sha256 = hashlib.sha256(body).hexdigest()
    kind = media_of(body, content_type)
    variants: tuple[int, ...] = ()
    thumbs: tuple[bytes, ...] = ()
    if kind in IMAGE_TYPES:
        codes, note = image_codes(body, crops=crops)
        code = codes[0][0] if codes else None
        variants, thumbs = tuple(c for c, _ in codes[1:]), tuple(t for _, t in codes)
        media = "image"
    elif kind in TEXT_TYPES:
        html = kind in {"text/html", "application/xhtml+xml"}
        code, note = text_code(visible_text(body, html))
        media = "text"
    else:
        return Fingerprint(sha256, note=f"unsupported media type {kind or 'unknown'!r}")
    instance_id = _instance_id(body, kind) if media == "image" else None
    return Fingerprint(sha256, media if code is not None else None, code, instance_id, note, variants, thumbs)
