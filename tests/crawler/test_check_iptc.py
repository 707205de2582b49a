"""`consentry check` end to end on real IPTC-bearing JPEGs written by ExifTool (tests/exiftool_files.py), served by
a loopback server: each decision record carries the PLUS `DataMining` reading and the AI-generated label that
ExifTool's own read-back of the file gives through the documented rules (docs/signals/iptc.md,
docs/signals/c2pa.md "AI-generated")."""

from __future__ import annotations

import json

import pytest

from consentry.crawler.cli import main
from consentry.crawler.demo.server import Route, SiteServer
from consentry.policies.record import record_problems
from tests.exiftool_files import (
    documented_ai_generated,
    documented_plus_rows,
    make_iptc_files,
    needs_exiftool,
)

pytestmark = needs_exiftool


def test_check_reads_every_plus_value_as_exiftool_reads_it(
    servers: list[SiteServer], capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    files = make_iptc_files(tmp_path_factory.mktemp("exiftool"), ("jpeg",))
    site = SiteServer({f"/{f.path.name}": Route(200, (("Content-Type", f.mime),), f.path.read_bytes())
                       for f in files}).start()
    servers.append(site)
    code = main(["check", "--json", *(site.url(f"/{f.path.name}") for f in files)])
    records = json.loads(capsys.readouterr().out)
    assert code in (0, 1)  # 1: some file denies a purpose (a finding)
    assert len(records) == len(files) == 9
    plus, ai_generated = documented_plus_rows(), documented_ai_generated()
    for file, record in zip(files, records, strict=True):
        assert record_problems(record) == [], record
        read_back = file.exiftool_reads["DataMining"]
        statement, tags, _ = plus[read_back.rsplit("/", 1)[-1].upper()]
        [signal] = [s for s in record["signals"] if s["mechanism"] == "iptc-xmp"]
        assert repr(read_back) in signal["evidence"]
        assert set(signal["tags"]) == tags
        for purpose, verdict in statement.items():
            assert record["purposes"][purpose] == verdict, (read_back, record["purposes"])
        source_type = file.exiftool_reads.get("DigitalSourceType")
        label = ai_generated.get(source_type, "unknown") if source_type else "unknown"
        assert record["provenance"]["ai_generated"] == label, (source_type, record["provenance"])
