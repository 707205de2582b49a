"""The protocol registry is data that matches the code: every evaluated mechanism in exactly one protocol,
docs/protocols.md equal to the table, every "turned off by" a real setting."""

from __future__ import annotations

import re
from pathlib import Path

from consentry.policies.protocols import PROTOCOLS, Kind, markdown_table, protocol_of
from consentry.policies.settings_table import SETTINGS
from consentry.policies.vocabulary import Mechanism

ROOT = Path(__file__).resolve().parents[2]


def test_every_mechanism_belongs_to_exactly_one_protocol() -> None:
    listed = [m for p in PROTOCOLS for m in p.mechanisms]
    assert sorted(listed) == sorted(Mechanism)
    assert len(listed) == len(set(listed))
    assert protocol_of(Mechanism.TDMREP_PDF).name == "TDMRep"


def test_docs_page_is_the_table() -> None:
    text = (ROOT / "docs" / "protocols.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- protocol-table -->\n(.*?)\n<!-- /protocol-table -->", text, re.DOTALL)
    assert found is not None
    assert found.group(1) == markdown_table()


def test_switches_are_real_settings_and_pages_exist() -> None:
    names = {s.name for s in SETTINGS}
    for protocol in PROTOCOLS:
        named = set(re.findall(r"CONSENT_[A-Z_]+", protocol.off))
        assert protocol.off == "none" or (named and named <= names), protocol.name
        assert (ROOT / "docs" / protocol.page).is_file()
        assert protocol.kinds
        assert set(protocol.kinds) <= set(Kind)
        assert protocol.status


def test_statuses_are_only_what_is_known() -> None:
    shortlisted = {p.name for p in PROTOCOLS if "shortlisted" in p.status}
    assert shortlisted == {"TDMRep", "C2PA / CAWG training-and-data-mining", "IPTC Data Mining"}
