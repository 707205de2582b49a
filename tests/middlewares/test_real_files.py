"""Real C2PA/XMP files from c2pa-rs (tests/fixtures/real/SOURCES), read by consentry and, independently, by
c2pa-python's own `Reader` and by lxml: the two readings must agree on every file.

The expected values are never produced by consentry: the validation state, the active manifest's assertion
labels and `digitalSourceType`s come from `c2pa.Reader` directly; XMP values from lxml XPath on the bytes.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zlib
from pathlib import Path

import c2pa
import pytest
from lxml import etree

from consentry.middlewares.adapters.manifestreader import C2paReader
from consentry.policies.assets.credentials import OFFLINE_FAILURE_CODES, offline_only_failures
from consentry.policies.assets.embedded import manifest_urls, read_embedded
from consentry.policies.assets.prescan import scan
from consentry.policies.config import PolicyConfig
from consentry.policies.gather import DocumentKind, Need, asset_needs
from consentry.policies.model import AssetResponse, SiteFile
from consentry.policies.vocabulary import Tag

REAL = Path(__file__).parent.parent / "fixtures" / "real"
READER = C2paReader()
MIME = {"jpg": "image/jpeg", "svg": "image/svg+xml", "pdf": "application/pdf", "avif": "image/avif",
        "jxl": "image/jxl"}
FILES = sorted(p.name for p in REAL.iterdir() if p.suffix[1:] in MIME)
NEWSCODES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
_CONTEXT = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})


def _body(name: str) -> bytes:
    return (REAL / name).read_bytes()


def _mime(name: str) -> str:
    return MIME[name.rsplit(".", 1)[1]]


def _asset(name: str, *headers: tuple[str, str]) -> AssetResponse:
    return AssetResponse(f"https://ex.com/{name}", 200, (("Content-Type", _mime(name)), *headers), _body(name))


def independent_store(body: bytes, mime: str, manifest: bytes | None = None) -> dict[str, object] | None:
    """c2pa-python's reading, straight from its Reader (no consentry code)."""
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(body), manifest, context=_CONTEXT)
    except c2pa.C2paError:
        return None
    if reader is None:
        return None
    with reader:
        return json.loads(reader.json())


def independent_source_types(store: dict[str, object]) -> list[str]:
    manifest = store["manifests"][store["active_manifest"]]
    return [a.get("digitalSourceType", "").strip() for assertion in manifest["assertions"]
            if assertion["label"] in ("c2pa.actions", "c2pa.actions.v2")
            for a in assertion["data"]["actions"] if a.get("digitalSourceType")]


def independent_xmp(body: bytes, namespace: str, name: str) -> list[str]:
    """Values of an XMP property found by lxml in every x:xmpmeta / rdf:RDF of the raw bytes."""
    values: list[str] = []
    for match in re.finditer(rb"<x:xmpmeta.*?</x:xmpmeta>", body, re.DOTALL):
        root = etree.fromstring(match.group(0), etree.XMLParser(resolve_entities=False, no_network=True))
        values += root.xpath(f"//@*[namespace-uri()='{namespace}' and local-name()='{name}']")
        values += [e.text.strip() for e in root.xpath(f"//*[namespace-uri()='{namespace}' and local-name()='{name}']")
                   if e.text and e.text.strip()]
    return values


def independent_pdf_store_marker(body: bytes) -> bool:
    """Whether any PDF stream, inflated with zlib where it inflates, names a C2PA manifest (no consentry code)."""
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", body, re.DOTALL):
        data = match.group(1)
        with contextlib.suppress(zlib.error):
            data = zlib.decompress(data)
        if b"C2PA_Manifest" in data:
            return True
    return b"C2PA_Manifest" in body


@pytest.mark.parametrize("name", FILES)
def test_embedded_store_presence_agrees_with_c2pa(name: str) -> None:
    """Every file c2pa reads a store from, or that names a manifest inside a compressed PDF object stream, is
    sent to the reader by the pre-scan; no other file is."""
    store = independent_store(_body(name), _mime(name))
    markers = scan(_body(name), _mime(name))
    hidden = name.endswith(".pdf") and independent_pdf_store_marker(_body(name))
    assert markers.has_c2pa == (store is not None or hidden)
    asset = _asset(name)
    reading = read_embedded(asset, READER)
    c2pa_signals = [s for s in reading.signals if s.mechanism.value == "c2pa" and s.source == asset.url]
    if store is None and not hidden:
        assert c2pa_signals == []


@pytest.mark.parametrize("name", FILES)
def test_ai_generated_label_agrees_with_c2pa_and_xmp(name: str) -> None:
    store = independent_store(_body(name), _mime(name))
    types = independent_source_types(store) if store is not None else []
    types += independent_xmp(_body(name), "http://iptc.org/std/Iptc4xmpExt/2008-02-29/", "DigitalSourceType")
    generated = {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia"}
    expected = ("yes" if any(t.removeprefix(NEWSCODES) in generated for t in types)
                else "no" if types else "unknown")
    provenance = read_embedded(_asset(name), READER).provenance
    assert provenance.ai_generated == expected
    for value in types:
        assert value in provenance.evidence


def test_ocsp_jpg_is_ai_generated_from_a_valid_manifest() -> None:
    store = independent_store(_body("ocsp.jpg"), "image/jpeg")
    assert store is not None
    assert store["validation_state"] == "Valid"
    assert NEWSCODES + "compositeWithTrainedAlgorithmicMedia" in independent_source_types(store)
    provenance = read_embedded(_asset("ocsp.jpg"), READER).provenance
    assert provenance.ai_generated == "yes"
    assert "evidence, not proof" not in provenance.evidence.split("XMP")[0]


def test_cawg_training_mining_read_as_c2pa_reads_it() -> None:
    store = independent_store(_body("C_with_CAWG_data.jpg"), "image/jpeg")
    assert store is not None
    manifest = store["manifests"][store["active_manifest"]]
    [assertion] = [a for a in manifest["assertions"] if a["label"] == "cawg.training-mining"]
    entries = assertion["data"]["entries"]
    [signal] = [s for s in read_embedded(_asset("C_with_CAWG_data.jpg"), READER).signals
                if s.mechanism.value == "c2pa"]
    for key, entry in entries.items():
        assert f"{key}={entry['use']}" in signal.evidence
    assert f"({store['validation_state']}," in signal.evidence


def test_unresolvable_did_is_invalid_only_for_an_offline_code() -> None:
    """c2pa calls this manifest Invalid only because the ICA issuer DID could not be resolved offline."""
    store = independent_store(_body("unresolvable_did.jpg"), "image/jpeg")
    assert store is not None
    assert store["validation_state"] == "Invalid"
    failures = {f["code"] for f in store["validation_results"]["activeManifest"]["failure"]}
    assert failures - {"signingCredential.untrusted"} == {"cawg.ica.did_unavailable"}
    assert offline_only_failures(store) == ("cawg.ica.did_unavailable",)
    assert set(offline_only_failures(store)) <= OFFLINE_FAILURE_CODES


def test_stale_self_reference_without_a_store_is_no_manifest() -> None:
    """no_manifest.jpg keeps an XMP `dcterms:provenance` of self#jumbf=… but no store: c2pa reads none."""
    body = _body("no_manifest.jpg")
    [value] = independent_xmp(body, "http://purl.org/dc/terms/", "provenance")
    assert value.startswith("self#jumbf=")
    assert independent_store(body, "image/jpeg") is None
    asset = _asset("no_manifest.jpg")
    assert manifest_urls(asset) == ()
    assert [s for s in read_embedded(asset, READER).signals if s.mechanism.value == "c2pa"] == []


def test_cloud_jpg_needs_its_remote_manifest_and_reads_it() -> None:
    """cloud.jpg has no embedded store; its XMP names the remote manifest, which c2pa validates against it."""
    body, manifest = _body("cloud.jpg"), _body("cloud_manifest.c2pa")
    [url] = independent_xmp(body, "http://purl.org/dc/terms/", "provenance")
    asset = _asset("cloud.jpg")
    assert asset_needs(asset, PolicyConfig()) == (Need(url, DocumentKind.MANIFEST),)
    expected = independent_store(body, "image/jpeg", manifest)
    assert expected is not None
    fetched = {url: SiteFile.from_http(url, 200, manifest, max_bytes=10**6)}
    reading = read_embedded(asset, READER, fetched_manifests=fetched)
    [signal] = [s for s in reading.signals if s.mechanism.value == "c2pa"] or [None]
    if signal is not None:  # the remote manifest has a training-mining assertion only if c2pa shows one
        assert signal.source == url
        assert Tag.UNVERIFIABLE not in signal.tags
    labels = [a["label"] for a in expected["manifests"][expected["active_manifest"]]["assertions"]]
    assert (signal is not None) == any("training-mining" in label for label in labels)
    unreachable = read_embedded(asset, READER, fetched_manifests={url: SiteFile.from_error(url, "timeout")})
    [missing] = [s for s in unreachable.signals if s.mechanism.value == "c2pa"]
    assert Tag.UNVERIFIABLE in missing.tags


@pytest.mark.parametrize("link", [
    '<https://stage.example/gone.c2pa>; rel="c2pa-manifest"',  # embedded + unreachable remote: embedded wins
    '<CA.jpg#jumbf=c2pa>; rel="c2pa-manifest"',  # a self-reference: read as embedded, never fetched
    '</CA.jpg#jumbf=/c2pa/urn:c2pa:x>; rel="c2pa-manifest"',
])
def test_embedded_manifest_is_read_before_any_remote_reference(link: str) -> None:
    asset = _asset("CA.jpg", ("Link", link))
    assert manifest_urls(asset) == ()
    assert [n for n in asset_needs(asset, PolicyConfig()) if n.kind is DocumentKind.MANIFEST] == []
    store = independent_store(_body("CA.jpg"), "image/jpeg")
    assert store is not None
    reading = read_embedded(asset, READER, fetched_manifests={
        "https://stage.example/gone.c2pa": SiteFile.from_error("https://stage.example/gone.c2pa", "unreachable")})
    assert all(Tag.UNVERIFIABLE not in s.tags for s in reading.signals)
    assert "gone.c2pa" not in reading.provenance.evidence


def test_svg_and_pdf_xmp_read_as_lxml_reads_them() -> None:
    for name in ("sample1.svg", "basic.pdf"):
        packets = scan(_body(name), _mime(name)).xmp_packets
        for namespace, prop in (("http://ns.adobe.com/xap/1.0/", "CreatorTool"),
                                ("http://purl.org/dc/terms/", "provenance")):
            expected = independent_xmp(_body(name), namespace, prop)
            seen = [v for packet in packets for v in independent_xmp(packet, namespace, prop)]
            assert seen == expected


def test_qpdf_rewritten_signed_pdf_is_not_read_as_manifest_less() -> None:
    """A signed PDF rewritten with compressed object streams: its markers are only inside an object stream.
    c2pa itself cannot read the rewritten store; consentry must say unverifiable, not "no manifest"."""
    body = _body("signed-qpdf-objstm.pdf")
    assert b"C2PA_Manifest" not in body
    assert independent_pdf_store_marker(body)
    assert independent_store(body, "application/pdf") is None
    [signal] = [s for s in read_embedded(_asset("signed-qpdf-objstm.pdf"), READER).signals
                if s.mechanism.value == "c2pa"]
    assert signal.tags == (Tag.UNVERIFIABLE,)


def test_encrypted_pdf_goes_to_the_reader() -> None:
    """basic-signed.pdf is encrypted: its object streams do not inflate, so the pre-scan cannot conclude; c2pa
    reads no manifest, and no signal is made."""
    markers = scan(_body("basic-signed.pdf"), "application/pdf")
    assert "does not inflate" in markers.inconclusive
    assert independent_store(_body("basic-signed.pdf"), "application/pdf") is None
    assert [s for s in read_embedded(_asset("basic-signed.pdf"), READER).signals if s.mechanism.value == "c2pa"] == []


def test_jpeg_xl_container_is_walked() -> None:
    """sample1.jxl is a JPEG XL container whose XMP sits in a Brotli-compressed `brob` box: inflated and read
    (Pixelmator Pro wrote it; no DataMining in it)."""
    body = _body("sample1.jxl")
    assert body.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n")
    markers = scan(body, "image/jxl")
    assert markers.container == "jxl"
    [packet] = markers.xmp_packets
    assert packet.startswith(b"<x:xmpmeta")
    assert b"<xmp:CreatorTool>Pixelmator Pro" in packet
    assert not any("Brotli" in note for note in markers.notes)
