"""The real-photograph evaluation set of `bench.registry_real`: rebuilt from pinned public git repositories.

The photographs are not part of this repository. `SOURCES` names each repository, the commit read, its
licence and which paths are taken (see bench/registry_real_SOURCES.md). `build` reads every selected file
from a local git directory of each repository at that commit (`git cat-file`, no network), keeps what
Pillow decodes as a photograph-sized image, turns each into a "master" (EXIF orientation applied, RGB,
long side at most `MASTER_SIDE`), and drops near-duplicate edits of one base photograph (the same picture
re-encoded, re-signed, rotated by EXIF, recoloured) so that the distinct-pairs count compares distinct
photographs only. How: two masters are one photograph when their 32×32 grey thumbnails, each normalised to
zero mean and unit variance, correlate at ≥ `SAME_PHOTO_CORRELATION` (or are mirror images at that level);
the first in source order is kept, the rest are listed in the manifest with the kept one they duplicate.

To obtain the set, clone each repository in SOURCES (`git clone --bare https://github.com/OWNER/NAME
ROOT/OWNER+NAME/repo`; the commit must be reachable) and run

    python -m bench.registry_real_data --mirrors ROOT [--out DIR]

The default DIR is $XDG_CACHE_HOME/consentry/registry-real (~/.cache/…); it then holds `masters/*.png` and
`manifest.json` (source, path, blob, size, kept or duplicate-of for every file read).
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

__all__ = ["MASTER_SIDE", "SOURCES", "Source", "build", "default_dir", "load_masters"]

#: Masters are scaled down to this long side: a web-published size, and a bench that runs in minutes.
MASTER_SIDE = 1024
#: Smallest side, in pixels, of an image taken as a photograph.
MIN_SIDE = 240
#: Thumbnail correlation at or above which two files are edits of one photograph (see the docstring).
SAME_PHOTO_CORRELATION = 0.90
_THUMB = 32


@dataclass(frozen=True, slots=True)
class Source:
    """One public repository: which commit, under which licence, and which paths (fnmatch) to read."""

    repo: str
    commit: str
    licence: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()


SOURCES = (
    Source(
        "drewnoakes/metadata-extractor-images",
        "4beba640487802442bc9931fb01274e908102d3a",
        "README: 'You are free to use these media files however you wish.'",
        ("jpg/*.jpg", "jpg/*.JPG", "jpg/*.jpeg", "webp/*.webp"),
        ("*/ImageTestSuite/*", "webp/Alpha*", "webp/Animation*"),
    ),
    Source(
        "Azure-Samples/cognitive-services-sample-data-files",
        "65af3b93cab5f45c76594f3265210646d4b3809e",
        "MIT",
        (
            "ComputerVision/*.jpg",
            "ComputerVision/*.png",
            "CustomVision/*.jpg",
            "Face/*.jpg",
            "Multi-service/*.jpg",
        ),
        ("*MultiLingual*", "*handwrit*", "*printed*", "*text*", "*receipt*", "*shelf*"),
    ),
    Source(
        "ianare/exif-samples",
        "5332a9cf0220e9c6c93f88a187daa90808051e10",
        "CC BY-SA 4.0 (README: user-contributed images)",
        ("jpg/*.jpg", "jpg/*.jpeg", "jpg/*.JPG", "tiff/*.tif", "tiff/*.tiff"),
    ),
    Source(
        "immich-app/test-assets",
        "ec56cc6c1d76c45bc9615dc6ea232470a2b0a3a1",
        "README: 'All assets are public domain'",
        ("*.jpg", "*.jpeg", "*.png", "*.webp"),
    ),
    Source(
        "c2pa-org/public-testfiles",
        "fd78440ec688098e2772437052e3241d9e2d3298",
        "CC BY-SA 4.0 (README, LICENSE)",
        ("image/*.jpg", "image/*.png", "image/*.webp", "image/*.tif"),
    ),
    Source(
        "scikit-image/scikit-image",
        "cd0a3d22b9f359f05618d75d5c7a29b91b4951ca",
        "CC0 / public domain per image (src/_skimage2/data/_fetchers.py docstrings)",
        tuple(
            f"src/_skimage2/data/{name}"
            for name in (
                "astronaut.png",
                "brick.png",
                "camera.png",
                "chelsea.png",
                "coffee.png",
                "coins.png",
                "grass.png",
                "gravel.png",
                "hubble_deep_field.jpg",
                "moon.png",
                "motorcycle_left.png",
                "rocket.jpg",
            )
        ),
    ),
    Source(
        "Dr-StegWizard/CoverImages",
        "19c9be4aff9c1114a250d94da6538a71abf6a164",
        "Kodak Lossless True Color Image Suite (released by Kodak for unrestricted use)",
        ("kodim*.png",),
    ),
)


def default_dir() -> Path:
    """Where the set is built by default: $XDG_CACHE_HOME/consentry/registry-real."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "consentry" / "registry-real"


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=True).stdout


def _blobs(git_dir: Path, commit: str, source: Source) -> list[tuple[str, str, int]]:
    """(path, blob id, size) of every selected file at `commit`, in path order."""
    out = _git(git_dir, "ls-tree", "-r", "-l", "-z", commit).decode("utf-8", "replace")
    rows = []
    for entry in filter(None, out.split("\0")):
        meta, path = entry.split("\t", 1)
        parts = meta.split()
        if len(parts) != 4 or parts[1] != "blob" or not parts[3].isdigit():
            continue
        if any(fnmatch.fnmatch(path, p) for p in source.include) and not any(
            fnmatch.fnmatch(path, p) for p in source.exclude
        ):
            rows.append((path, parts[2], int(parts[3])))
    return sorted(rows)


def _master(body: bytes) -> Image.Image | None:
    """The photograph as an RGB master, or None when it is not a decodable, photograph-sized image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(body))
            if getattr(image, "n_frames", 1) > 1 or image.mode in {"1", "P", "I;16", "I", "F"}:
                return None
            if min(image.size) < MIN_SIDE:
                return None
            image = ImageOps.exif_transpose(image)
            image.thumbnail((MASTER_SIDE, MASTER_SIDE), Image.Resampling.LANCZOS)
            rgb = image.convert("RGB")
    except Exception:
        return None
    return rgb


def _thumb(image: Image.Image) -> list[float]:
    pixels = list(image.convert("L").resize((_THUMB, _THUMB), Image.Resampling.BOX).tobytes())
    mean = sum(pixels) / len(pixels)
    spread = (sum((p - mean) ** 2 for p in pixels) / len(pixels)) ** 0.5 or 1.0
    return [(p - mean) / spread for p in pixels]


def _mirror(values: list[float]) -> list[float]:
    return [values[r * _THUMB + (_THUMB - 1 - c)] for r in range(_THUMB) for c in range(_THUMB)]


def _correlation(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / len(a)


def _same_photo(thumb: list[float], kept: list[tuple[str, list[float]]]) -> str | None:
    flipped = _mirror(thumb)
    for name, other in kept:
        if max(_correlation(thumb, other), _correlation(flipped, other)) >= SAME_PHOTO_CORRELATION:
            return name
    return None


def build(mirrors: Path, out: Path) -> dict[str, object]:
    """Build the set under `out` from the git directories under `mirrors`; returns the manifest."""
    masters = out / "masters"
    masters.mkdir(parents=True, exist_ok=True)
    kept: list[tuple[str, list[float]]] = []
    files: list[dict[str, object]] = []
    used: dict[str, str] = {}
    for source in SOURCES:
        git_dir = mirrors / source.repo.replace("/", "+") / "repo"
        if not git_dir.exists():
            git_dir = mirrors / source.repo.replace("/", "+")
        if not git_dir.exists():
            print(f"missing: {source.repo} (expected a git directory at {git_dir})", file=sys.stderr)
            continue
        commit = source.commit
        used[source.repo] = commit
        for path, blob, size in _blobs(git_dir, commit, source):
            entry: dict[str, object] = {"repo": source.repo, "commit": commit, "path": path, "blob": blob}
            entry["size"] = size
            image = _master(_git(git_dir, "cat-file", "blob", blob))
            if image is None:
                entry["status"] = "not a photograph-sized decodable still image"
            else:
                thumb = _thumb(image)
                twin = _same_photo(thumb, kept)
                if twin is not None:
                    entry["status"] = f"duplicate of {twin}"
                else:
                    name = f"{len(kept):04d}.png"
                    image.save(masters / name)
                    kept.append((name, thumb))
                    entry["status"] = "kept"
                    entry["master"] = name
            files.append(entry)
    manifest = {"commits": used, "masters": len(kept), "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def load_masters(directory: Path) -> list[tuple[str, Path]]:
    """(label "owner/name:path", master PNG) of every kept photograph of a built set; `FileNotFoundError` when absent."""
    manifest = json.loads((directory / "manifest.json").read_text())
    return [
        (f"{entry['repo']}:{entry['path']}", directory / "masters" / entry["master"])
        for entry in manifest["files"]
        if entry.get("status") == "kept"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mirrors", type=Path, required=True, help="folder of OWNER+NAME[/repo] git directories"
    )
    parser.add_argument("--out", type=Path, default=default_dir())
    args = parser.parse_args()
    manifest = build(args.mirrors, args.out)
    files = manifest["files"]
    assert isinstance(files, list)
    dupes = sum(str(f["status"]).startswith("duplicate") for f in files)
    print(
        f"{args.out}: {manifest['masters']} distinct photographs kept of {len(files)} files read "
        f"({dupes} near-duplicate edits dropped)"
    )


if __name__ == "__main__":
    main()
