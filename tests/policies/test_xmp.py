"""plus:DataMining, dcterms:provenance and PDF TDMRep from XMP packets (docs/signals/iptc.md,
C2PA 2.2 §15.5.3, W3C TDMRep PDF technique)."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.policies.assets.xmp import iptc_signals, parse_xml, pdf_tdmrep, provenance_url
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xmp"
VOCAB = "http://ns.useplus.org/ldf/vocab/"
D, A = Verdict.DENY, Verdict.ALLOW
HEAD = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:p="http://ns.useplus.org/ldf/xmp/1.0/"'
)
TAIL = "</rdf:RDF></x:xmpmeta>"

#: docs/signals/iptc.md table: value -> (statement, tags)
TABLE = [
    ("DMI-UNSPECIFIED", {}, ()),
    ("DMI-ALLOWED", {Purpose.TDM: A}, ()),
    ("DMI-PROHIBITED-AIMLTRAINING", {Purpose.AI_TRAIN: D}, ()),
    ("DMI-PROHIBITED-GENAIMLTRAINING", {Purpose.GENAI_TRAIN: D}, ()),
    ("DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", {Purpose.TDM: D, Purpose.SEARCH: A}, ()),
    ("DMI-PROHIBITED", {Purpose.TDM: D}, ()),
    ("DMI-PROHIBITED-SEECONSTRAINT", {Purpose.TDM: D}, (Tag.CONDITIONAL,)),
    ("DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR", {Purpose.TDM: D}, (Tag.CONDITIONAL,)),
    ("DMI-PROHIBITED-SEELINKEDRIGHTSEXPR", {Purpose.TDM: D}, (Tag.CONDITIONAL,)),
]


def attribute_form(value: str) -> bytes:
    """Prefix deliberately not `plus`: resolution goes by namespace URI."""
    return f'{HEAD} p:DataMining="{value}"/>{TAIL}'.encode()


def resource_form(value: str) -> bytes:
    return f'{HEAD}><p:DataMining rdf:resource="{value}"/></rdf:Description>{TAIL}'.encode()


def text_form(value: str) -> bytes:
    return f"{HEAD}><p:DataMining>{value}</p:DataMining></rdf:Description>{TAIL}".encode()


@pytest.mark.parametrize("form", [attribute_form, resource_form, text_form])
@pytest.mark.parametrize(("value", "statement", "tags"), TABLE)
def test_vocabulary_in_every_serialization(form, value, statement, tags) -> None:
    [signal] = iptc_signals([form(VOCAB + value)], "https://ex.com/a.jpg")
    assert dict(signal.statement) == statement
    assert signal.tags == tags
    assert (signal.mechanism, signal.scope) == (Mechanism.IPTC_XMP, Scope.EMBEDDED)
    assert signal.hierarchical is (value == "DMI-ALLOWED")
    assert VOCAB + value in signal.evidence


@pytest.mark.parametrize(
    ("value", "statement"),
    [
        ("Prohibited for AI/ML training", {Purpose.AI_TRAIN: D}),  # a human label (lenient)
        ("Prohibited for Generative AI/ML training", {Purpose.GENAI_TRAIN: D}),
        ("Unspecified – no prohibition defined", {}),
        ("prohibited except for search engine indexing", {Purpose.TDM: D, Purpose.SEARCH: A}),
        ("DMI-PROHIBITED-SOMETHINGNEW", {Purpose.TDM: D}),  # unknown but PROHIBITED
    ],
)
def test_labels_and_unknown_prohibited_are_lenient(value, statement) -> None:
    [signal] = iptc_signals([text_form(value)], "u")
    assert dict(signal.statement) == statement
    assert Tag.LENIENT in signal.tags


@pytest.mark.parametrize(
    "value", ["DMI-ALLOWED-noaitraining", "yes", "ALLOWED-ish", VOCAB + "DMI-SEE-CONSTRAINT"]
)
def test_values_outside_the_vocabulary_say_nothing(value) -> None:
    [signal] = iptc_signals([text_form(value)], "u")
    assert signal.statement == {}
    assert "ignored" in signal.evidence


def test_bare_and_lower_case_ids() -> None:
    [signal] = iptc_signals([attribute_form("dmi-prohibited-aimltraining")], "u")
    assert dict(signal.statement) == {Purpose.AI_TRAIN: D}


def test_seeconstraint_quotes_other_constraints() -> None:
    packet = (FIXTURES / "getty-style-prohibited-seeconstraint.xmp").read_bytes()
    [signal] = iptc_signals([packet], "u")
    assert dict(signal.statement) == {Purpose.TDM: D}
    assert Tag.CONDITIONAL in signal.tags
    assert "No AI training without a licence from Example Images" in signal.evidence
    assert provenance_url([packet]) == "https://cdn.example.com/cat.c2pa"


def test_other_namespace_is_not_plus() -> None:
    packet = text_form(VOCAB + "DMI-PROHIBITED").replace(b"ns.useplus.org/ldf/xmp/1.0/", b"example.com/x/")
    assert iptc_signals([packet], "u") == []


def test_billion_laughs_is_refused_quickly() -> None:
    packet = (FIXTURES / "billion-laughs.xmp").read_bytes()
    assert parse_xml(packet) is None
    assert iptc_signals([packet], "u") == []


def test_external_entity_does_not_read_local_files() -> None:
    packet = (FIXTURES / "xxe-file.xmp").read_bytes()
    signals = iptc_signals([packet], "u")
    assert signals == []
    assert all("root:" not in s.evidence for s in signals)


def test_external_dtd_is_never_fetched() -> None:
    """A loopback listener records any connection: lxml must not fetch the DTD (no_network, load_dtd off)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    hits: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            hits.append(listener.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    packet = (FIXTURES / "external-dtd-network.xmp").read_text().replace("{port}", str(port)).encode()
    signals = iptc_signals([packet], "u")
    thread.join()
    listener.close()
    assert hits == []
    assert all(s.statement.get(Purpose.TDM) is not A for s in signals)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_packet_read_leniently(codec) -> None:
    packet = text_form(VOCAB + "DMI-PROHIBITED").decode().encode(codec)
    [signal] = iptc_signals([packet], "u")
    assert dict(signal.statement) == {Purpose.TDM: D}
    assert Tag.LENIENT in signal.tags


def test_latin1_packet_read_leniently() -> None:
    packet = text_form(VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING").replace(
        b"<rdf:RDF", b"<!-- caf\xe9 --><rdf:RDF"
    )
    [signal] = iptc_signals([packet], "u")
    assert dict(signal.statement) == {Purpose.GENAI_TRAIN: D}
    assert Tag.LENIENT in signal.tags


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x00" * 100,
        b"<x:xmpmeta",
        b"<?xpacket begin='' ?><a><b></a>",
        b"\xff\xfe\x00\xd8",
        b"<" * 10_000,
    ],
)
def test_broken_packets_give_nothing(packet) -> None:
    assert iptc_signals([packet], "u") == []
    assert provenance_url([packet]) is None
    assert pdf_tdmrep([packet]) == (None, None, "", False)


def test_deep_nesting_does_not_raise() -> None:
    assert iptc_signals([b"<a>" * 100_000 + b"</a>" * 100_000], "u") == []


def test_pdf_tdmrep_reserved() -> None:
    reservation, policy, evidence, _ = pdf_tdmrep([(FIXTURES / "pdf-tdmrep-reserved.xmp").read_bytes()])
    assert (reservation, policy) == (1, "https://example.com/policies/tdm.json")
    assert "tdm:reservation='1'" in evidence


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("1", 1), ("yes", None), ("true", None)])
def test_pdf_tdmrep_values(value, expected) -> None:
    packet = (f'{HEAD} xmlns:t="http://www.w3.org/ns/tdmrep/" t:reservation="{value}"/>{TAIL}').encode()
    reservation, policy, evidence, _ = pdf_tdmrep([packet])
    assert (reservation, policy) == (expected, None)
    assert ("invalid" in evidence) is (expected is None)


def test_pdf_tdmrep_hash_namespace_is_not_pdf() -> None:
    packet = f'{HEAD} xmlns:t="http://www.w3.org/ns/tdmrep#" t:reservation="1"/>{TAIL}'.encode()
    assert pdf_tdmrep([packet]) == (None, None, "", False)


def test_provenance_only_http() -> None:
    packet = (
        f'{HEAD} xmlns:dcterms="http://purl.org/dc/terms/" dcterms:provenance="file:///etc/passwd"/>{TAIL}'
    )
    assert provenance_url([packet.encode()]) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_never_raises_never_allows_garbage(data: bytes) -> None:
    for signal in iptc_signals([data], "u"):
        assert A not in signal.statement.values()
    provenance_url([data])
    pdf_tdmrep([data])


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_value_never_raises(value: str) -> None:
    escaped = value.replace("&", "&amp;").replace("<", "&lt;")
    for signal in iptc_signals([text_form(escaped)], "u"):
        assert set(signal.statement) <= set(Purpose)
