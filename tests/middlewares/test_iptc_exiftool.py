"""Real IPTC-bearing files written by ExifTool (tests/exiftool_files.py) in every format ExifTool writes and
consentry reads: PLUS `DataMining` (every documented value, with `OtherConstraints` where the value points to
it) and `Iptc4xmpExt:DigitalSourceType`. The expected reading is ExifTool's own read-back of each file mapped
through the documented rules (docs/signals/iptc.md, docs/signals/c2pa.md "AI-generated"), never consentry's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentry.middlewares.adapters.manifestreader import C2paReader
from consentry.policies.assets.embedded import read_embedded
from consentry.policies.assets.prescan import scan
from consentry.policies.model import AssetResponse
from consentry.policies.vocabulary import Mechanism
from tests.exiftool_files import (
    DMI_VALUES,
    FORMATS,
    NEWSCODES,
    ExifTool,
    IptcFile,
    documented_ai_generated,
    documented_plus_rows,
    make_iptc_files,
    needs_exiftool,
)

pytestmark = needs_exiftool
READER = C2paReader()
PLUS = documented_plus_rows()
AI_GENERATED = documented_ai_generated()
CASES = [(fmt, value) for fmt in FORMATS for value in DMI_VALUES]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], IptcFile]:
    made = make_iptc_files(tmp_path_factory.mktemp("exiftool"))
    return {(f.fmt, f.data_mining.rsplit("/", 1)[-1]): f for f in made}


def _asset(file: IptcFile) -> AssetResponse:
    return AssetResponse(f"https://ex.com/{file.path.name}", 200, (("Content-Type", file.mime),),
                         Path(file.path).read_bytes())


def test_the_documented_rules_cover_the_plus_vocabulary() -> None:
    """The docs give a reading for each PLUS id (the 9 of the PLUS `DataMining` vocabulary) and each of the
    IPTC digital source types written here; a table edited out of shape fails here, not silently."""
    assert len(DMI_VALUES) == 9
    assert {"DMI-UNSPECIFIED", "DMI-ALLOWED", "DMI-PROHIBITED"} <= set(DMI_VALUES)
    assert AI_GENERATED[NEWSCODES + "trainedAlgorithmicMedia"] == "yes"
    assert AI_GENERATED[NEWSCODES + "digitalCapture"] == "no"


@pytest.mark.parametrize(("fmt", "value"), CASES)
def test_exiftool_reads_back_what_it_wrote(fmt: str, value: str, files: dict[tuple[str, str], IptcFile]) -> None:
    """The independent reading is sound: ExifTool finds in the file the values it was asked to write."""
    file = files[fmt, value]
    assert file.exiftool_reads.get("DataMining") == file.data_mining
    assert file.exiftool_reads.get("DigitalSourceType", "") == (
        NEWSCODES + file.source_type if file.source_type else "")


@pytest.mark.parametrize(("fmt", "value"), CASES)
def test_data_mining_read_as_exiftool_reads_it(fmt: str, value: str,
                                               files: dict[tuple[str, str], IptcFile]) -> None:
    file = files[fmt, value]
    read_back = file.exiftool_reads["DataMining"]
    statement, tags, hierarchical = PLUS[read_back.rsplit("/", 1)[-1].upper()]  # docs: the part after the last /
    asset = _asset(file)
    assert scan(asset.body, file.mime).inconclusive == ""
    [signal] = [s for s in read_embedded(asset, READER).signals if s.mechanism is Mechanism.IPTC_XMP]
    assert {purpose.value: verdict.value for purpose, verdict in signal.statement.items()} == statement
    assert {tag.value for tag in signal.tags} == tags
    assert signal.hierarchical == hierarchical
    assert repr(read_back) in signal.evidence
    if "conditional" in tags and "OtherConstraints" in file.exiftool_reads:
        assert repr(file.exiftool_reads["OtherConstraints"]) in signal.evidence


@pytest.mark.parametrize(("fmt", "value"), CASES)
def test_ai_generated_label_read_as_exiftool_reads_it(fmt: str, value: str,
                                                      files: dict[tuple[str, str], IptcFile]) -> None:
    file = files[fmt, value]
    source_type = file.exiftool_reads.get("DigitalSourceType")
    expected = AI_GENERATED.get(source_type, "unknown") if source_type else "unknown"
    provenance = read_embedded(_asset(file), READER).provenance
    assert provenance.ai_generated == expected
    if source_type:
        assert source_type in provenance.evidence


@pytest.mark.parametrize("fmt", ["pdf", "jpeg"])
def test_retagged_file_reads_as_its_latest_value(fmt: str, tmp_path: Path) -> None:
    """A publisher re-tags a file (a PDF gets an incremental update): the value ExifTool reads back is the only
    one consentry reads, not the stale one."""
    extension, mime, make_base = FORMATS[fmt]
    path = tmp_path / f"retagged.{extension}"
    path.write_bytes(make_base())
    tool = ExifTool(tmp_path)
    try:
        for value in ("DMI-PROHIBITED", "DMI-ALLOWED"):
            tool.run("-overwrite_original", f"-XMP-plus:DataMining={value}", str(path))
        [reads] = json.loads(tool.run("-j", "-n", "-XMP-plus:DataMining", str(path)))
    finally:
        tool.close()
    asset = AssetResponse(f"https://ex.com/{path.name}", 200, (("Content-Type", mime),), path.read_bytes())
    signals = [s for s in read_embedded(asset, READER).signals if s.mechanism is Mechanism.IPTC_XMP]
    assert [s.evidence for s in signals] == [f"plus:DataMining={reads['DataMining']!r}"]
