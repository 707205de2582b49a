"""Real IPTC-bearing files made in the test session by ExifTool — the tool publishers write IPTC Photo Metadata
with — and the expected reading of each, established without consentry: ExifTool's own read-back of the file,
mapped through the rules documented in docs/signals/iptc.md (PLUS `DataMining`) and docs/signals/c2pa.md
("AI-generated", the digital source types).

ExifTool 12.57 (Debian 12's `libimage-exiftool-perl`) predates its built-in `XMP-plus:DataMining` tag; the
PLUS property is declared with ExifTool's user-defined tag mechanism (`-config`), so ExifTool itself still
serialises it into each format's XMP. One `-stay_open` ExifTool process writes and reads every file.
Tests using these files skip, saying why, when `exiftool` is not installed.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

__all__ = [
    "DMI_VALUES",
    "EXIFTOOL",
    "FORMATS",
    "NEWSCODES",
    "ExifTool",
    "IptcFile",
    "documented_ai_generated",
    "documented_plus_rows",
    "make_iptc_files",
    "needs_exiftool",
]

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool is not installed (Debian: apt-get install libimage-exiftool-perl)")

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "fixtures" / "real"
NEWSCODES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
PLUS_VOCAB = "http://ns.useplus.org/ldf/vocab/"
_CONFIG = """%Image::ExifTool::UserDefined = (
    'Image::ExifTool::PLUS::XMP' => { DataMining => { } },
);
1;
"""


def _pillow(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((64, 48), 40).convert("RGB").save(out, format=fmt)
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4() -> bytes:
    moov = _box(b"moov", _box(b"mvhd", b"\x00" * 100))
    return _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + moov + _box(b"mdat", b"\x5a" * 64)


#: format -> (extension, MIME type, base file): small Pillow images, c2pa-rs's real AVIF, JPEG XL and PDF
#: (tests/fixtures/real/SOURCES), a minimal MP4. ExifTool cannot write SVG.
FORMATS: dict[str, tuple[str, str, Callable[[], bytes]]] = {
    "jpeg": ("jpg", "image/jpeg", lambda: _pillow("JPEG")),
    "png": ("png", "image/png", lambda: _pillow("PNG")),
    "webp": ("webp", "image/webp", lambda: _pillow("WEBP")),
    "tiff": ("tif", "image/tiff", lambda: _pillow("TIFF")),
    "gif": ("gif", "image/gif", lambda: _pillow("GIF")),
    "avif": ("avif", "image/avif", (REAL / "sample1.avif").read_bytes),
    "jxl": ("jxl", "image/jxl", (REAL / "sample1.jxl").read_bytes),
    "pdf": ("pdf", "application/pdf", (REAL / "basic.pdf").read_bytes),
    "mp4": ("mp4", "video/mp4", _mp4),
}


def documented_plus_rows() -> dict[str, tuple[dict[str, str], frozenset[str], bool]]:
    """docs/signals/iptc.md "Reading": PLUS id -> (purpose -> verdict, tags, hierarchical), from its table."""
    text = (ROOT / "docs" / "signals" / "iptc.md").read_text(encoding="utf-8")
    rows: dict[str, tuple[dict[str, str], frozenset[str], bool]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`DMI-"):
            continue
        statement = dict(re.findall(r"`([a-z-]+)` (allow|deny)", cells[1]))
        tags = frozenset(re.findall(r"`([a-z-]+)`", cells[2]))
        for value in re.findall(r"`(DMI-[A-Z-]+)`", cells[0]):
            rows[value] = (statement, tags, "hierarchical" in cells[1])
    return rows


def documented_ai_generated() -> dict[str, str]:
    """docs/signals/c2pa.md "AI-generated": digital source type URI -> yes / no / unknown, from its table."""
    text = (ROOT / "docs" / "signals" / "c2pa.md").read_text(encoding="utf-8")
    labels: dict[str, str] = {}
    for line in text.split("## AI-generated", 1)[1].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1] in ("yes", "no", "unknown"):
            for term in re.findall(r"`([^`]+)`", cells[0]):
                labels[term if "://" in term else NEWSCODES + term] = cells[1]
    return labels


#: Every PLUS value the docs give a reading for.
DMI_VALUES = tuple(documented_plus_rows())
#: Digital source types written alongside, cycled: generated, composite, captured, edited, retired, none.
SOURCE_TYPES = ("trainedAlgorithmicMedia", "digitalCapture", "compositeWithTrainedAlgorithmicMedia", "",
                "algorithmicMedia", "minorHumanEdits", "compositeSynthetic", "softwareImage", "dataDrivenMedia")
OTHER_CONSTRAINTS = "Text and data mining only under licence: licensing@example.com"


class ExifTool:
    """One `exiftool -stay_open` process: `run(*arguments)` executes one command and returns its stdout."""

    def __init__(self, workdir: Path) -> None:
        config = workdir / "plus-datamining.config"
        config.write_text(_CONFIG, encoding="utf-8")
        assert EXIFTOOL is not None
        self.process = subprocess.Popen(
            [EXIFTOOL, "-config", str(config), "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8")

    def run(self, *arguments: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("\n".join(arguments) + "\n-execute\n")
        self.process.stdin.flush()
        lines: list[str] = []
        for line in self.process.stdout:
            if line.rstrip("\n") == "{ready}":
                return "".join(lines)
            lines.append(line)
        raise RuntimeError("exiftool exited")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("-stay_open\nFalse\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


@dataclass(frozen=True)
class IptcFile:
    """One file ExifTool wrote, what was asked of it, and what ExifTool reads back from it."""

    fmt: str
    path: Path
    mime: str
    data_mining: str
    source_type: str
    exiftool_reads: dict[str, str]


def _arguments(data_mining: str, source_type: str) -> list[str]:
    arguments = [f"-XMP-plus:DataMining={data_mining}"]
    if source_type:
        arguments.append(f"-XMP-iptcExt:DigitalSourceType={NEWSCODES}{source_type}")
    if data_mining.endswith("SEECONSTRAINT"):
        arguments.append(f"-XMP-plus:OtherConstraints={OTHER_CONSTRAINTS}")
    return arguments


def make_iptc_files(workdir: Path, formats: tuple[str, ...] = tuple(FORMATS)) -> list[IptcFile]:
    """Each of `formats` x every documented PLUS value (as a vocabulary URI, or as the bare id every other
    file), each with a digital source type from `SOURCE_TYPES`; written and read back by ExifTool."""
    tool = ExifTool(workdir)
    files: list[IptcFile] = []
    try:
        for fmt in formats:
            extension, mime, make_base = FORMATS[fmt]
            base = workdir / f"base.{extension}"
            base.write_bytes(make_base())
            for index, value in enumerate(DMI_VALUES):
                data_mining = PLUS_VOCAB + value if index % 2 == 0 else value
                source_type = SOURCE_TYPES[index % len(SOURCE_TYPES)]
                path = workdir / f"{fmt}-{value}.{extension}"
                shutil.copyfile(base, path)  # edited in place: 12.57 refuses `-o` for a RIFF (WebP) output
                tool.run("-overwrite_original", *_arguments(data_mining, source_type), str(path))
                [reads] = json.loads(tool.run("-j", "-n", "-XMP-plus:DataMining", "-XMP-plus:OtherConstraints",
                                              "-XMP-iptcExt:DigitalSourceType", str(path)) or "[{}]")
                files.append(IptcFile(fmt, path, mime, data_mining, source_type, reads))
    finally:
        tool.close()
    return files
