"""embedded_signals end to end: pre-scan → c2pa adapter → credentials + IPTC XMP, over real signed assets."""

from __future__ import annotations

import socket
import threading

import c2pa
import pytest

from consentry.middlewares.adapters.manifestreader import C2paReader, read_store
from consentry.policies.assets.embedded import embedded_layers, embedded_signals, manifest_urls

READER = C2paReader()
from consentry.policies.model import AssetResponse, SiteFile
from consentry.policies.vocabulary import Mechanism, Purpose, Tag, Verdict
from tests.provenance_fixtures import (
    MIME,
    jpeg_with_app1_xmp,
    plain_image,
    png_with_itxt_xmp,
    sign_remote,
    training_assertion,
    xmp_packet,
)

D, A = Verdict.DENY, Verdict.ALLOW
URL = "https://ex.com/img/a"


def response(
    body: bytes, content_type: str = "image/jpeg", headers: tuple[tuple[str, str], ...] = ()
) -> AssetResponse:
    return AssetResponse(URL, 200, (("Content-Type", content_type), *headers), body)


def c2pa_only(found: list) -> list:
    return [s for s in found if s.mechanism is Mechanism.C2PA]


SIGNED = [
    (
        "cawg-mixed.jpg",
        {Purpose.GENAI_TRAIN: D, Purpose.AI_INPUT: D, Purpose.ML_TRAIN: A},
        (Tag.CONDITIONAL,),
    ),
    ("cawg-allowed.png", {Purpose.GENAI_TRAIN: A}, ()),
    (
        "c2pa-v1-toplevel.png",
        {Purpose.GENAI_TRAIN: D, Purpose.ML_TRAIN: A, Purpose.TDM: D},
        (Tag.CONDITIONAL,),
    ),
    ("cawg-notallowed.webp", {Purpose.TDM: D}, ()),
]


@pytest.mark.parametrize(("name", "statement", "tags"), SIGNED, ids=[s[0] for s in SIGNED])
def test_signed_assets(signed_assets, name, statement, tags) -> None:
    [signal] = embedded_signals(response(signed_assets[name], "application/octet-stream"), READER)
    assert dict(signal.statement) == statement
    assert signal.tags == tags
    assert '(Valid, signer "C2PA Signer"' in signal.evidence


@pytest.mark.parametrize(("name", "statement", "tags"), SIGNED, ids=[s[0] for s in SIGNED])
def test_tampered_keeps_denies_drops_allows(signed_assets, name, statement, tags) -> None:
    [signal] = embedded_signals(response(signed_assets[f"tampered-{name}"]), READER)
    assert dict(signal.statement) == {p: v for p, v in statement.items() if v is D}
    assert "(Invalid," in signal.evidence


def test_trusted_anchor(signed_assets, test_ca) -> None:
    [signal] = embedded_signals(
        response(signed_assets["cawg-allowed.png"]), C2paReader(test_ca.ca_pem.decode())
    )
    assert dict(signal.statement) == {Purpose.GENAI_TRAIN: A}
    assert "(Trusted," in signal.evidence


def test_manifest_without_training_assertion(signed_assets) -> None:
    assert embedded_signals(response(signed_assets["no-training.jpg"]), READER) == []


def test_manifestless_asset_never_reaches_the_reader() -> None:
    """This body makes c2pa fail (see test_manifestreader); without a marker the reader is not asked."""
    assert embedded_signals(response(b"\xff\xd8\xff\xe0garbage"), READER) == []


def test_truncated_signed_asset_is_unverifiable(signed_assets) -> None:
    body = signed_assets["cawg-mixed.jpg"]
    [signal] = embedded_signals(response(body[: len(body) // 2]), READER)
    assert (signal.statement, signal.tags) == ({}, (Tag.UNVERIFIABLE,))


def test_oversized_body_is_unverifiable_but_xmp_is_read(signed_assets) -> None:
    body = jpeg_with_app1_xmp(
        signed_assets["cawg-mixed.jpg"],
        xmp_packet('plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED"/>'),
    )
    found = embedded_signals(response(body), READER, max_bytes=20_000)
    c2pa_signal, xmp_signal = found
    assert c2pa_signal.tags == (Tag.UNVERIFIABLE,)
    assert "exceeds C2PA_MAX_BYTES" in c2pa_signal.evidence
    assert dict(xmp_signal.statement) == {Purpose.TDM: D}


def test_several_stores_are_treated_as_none(signed_assets) -> None:
    body = signed_assets["cawg-mixed.jpg"]
    app11 = body.index(b"\xff\xeb")
    length = int.from_bytes(body[app11 + 2 : app11 + 4], "big")
    segment = body[app11 : app11 + 2 + length]
    second = segment[:6] + b"\x00\x09" + segment[8:]  # same store, another box instance number
    [signal] = embedded_signals(response(body[:app11] + segment + second + body[app11 + 2 + length :]), READER)
    assert signal.statement == {}
    assert "2 C2PA manifest stores" in signal.evidence


VOCAB = "http://ns.useplus.org/ldf/vocab/"
DATA_MINING = [
    ("DMI-UNSPECIFIED", {}),
    ("DMI-ALLOWED", {Purpose.TDM: A}),
    ("DMI-PROHIBITED-AIMLTRAINING", {Purpose.AI_TRAIN: D}),
    ("DMI-PROHIBITED-GENAIMLTRAINING", {Purpose.GENAI_TRAIN: D}),
    ("DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", {Purpose.TDM: D, Purpose.SEARCH: A}),
    ("DMI-PROHIBITED", {Purpose.TDM: D}),
    ("DMI-PROHIBITED-SEECONSTRAINT", {Purpose.TDM: D}),
    ("DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR", {Purpose.TDM: D}),
    ("DMI-PROHIBITED-SEELINKEDRIGHTSEXPR", {Purpose.TDM: D}),
]


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
@pytest.mark.parametrize(("value", "statement"), DATA_MINING)
def test_every_data_mining_value_in_jpeg_and_png(fmt, value, statement) -> None:
    packet = xmp_packet(f'><plus:DataMining rdf:resource="{VOCAB}{value}"/></rdf:Description>')
    embed = jpeg_with_app1_xmp if fmt == "jpeg" else png_with_itxt_xmp
    [signal] = embedded_signals(response(embed(plain_image(fmt), packet), MIME[fmt]), READER)
    assert signal.mechanism is Mechanism.IPTC_XMP
    assert dict(signal.statement) == statement


def test_xmp_with_billion_laughs_in_a_jpeg() -> None:
    packet = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><plus:DataMining xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
        b"&b;DMI-ALLOWED</plus:DataMining></x:xmpmeta>"
    )
    # refused (entities declared): its DMI-ALLOWED never counts; the name it carries makes it unverifiable
    [signal] = embedded_signals(response(jpeg_with_app1_xmp(plain_image("jpeg"), packet)), READER)
    assert signal.mechanism is Mechanism.IPTC_XMP
    assert dict(signal.statement) == {}
    assert Tag.UNVERIFIABLE in signal.tags


def test_remote_manifest_via_link(test_ca) -> None:
    assertion = training_assertion("cawg.training-mining", {"cawg.ai_inference": {"use": "notAllowed"}})
    asset, store = sign_remote(test_ca, "jpeg", [assertion])
    link = (("Link", '</m/a.c2pa>; rel="c2pa-manifest"'),)
    resp = response(asset, headers=link)
    assert manifest_urls(resp) == ("https://ex.com/m/a.c2pa",)
    fetched = {"https://ex.com/m/a.c2pa": SiteFile.from_http("https://ex.com/m/a.c2pa", 200, store)}
    [signal] = embedded_signals(resp, READER, fetched_manifests=fetched)
    assert dict(signal.statement) == {Purpose.AI_INPUT: D}
    assert signal.source == "https://ex.com/m/a.c2pa"


@pytest.mark.parametrize(
    "fetched",
    [{}, {"https://ex.com/m/a.c2pa": SiteFile.from_http("https://ex.com/m/a.c2pa", 503, b"")},
     {"https://ex.com/m/a.c2pa": SiteFile.from_error("https://ex.com/m/a.c2pa", "timeout")},
     {"https://ex.com/m/a.c2pa": SiteFile.from_http("https://ex.com/m/a.c2pa", 200, b"<html>oops</html>")}],
)  # fmt: skip
def test_unfetchable_remote_manifest_is_unverifiable(fetched) -> None:
    resp = response(plain_image("jpeg"), headers=(("Link", '</m/a.c2pa>; rel="c2pa-manifest"'),))
    [signal] = embedded_signals(resp, READER, fetched_manifests=fetched)
    assert (signal.statement, signal.tags) == ({}, (Tag.UNVERIFIABLE,))


def test_c2pa_never_fetches_the_provenance_url(test_ca) -> None:
    """An asset whose XMP points at a remote manifest on a loopback listener: c2pa must not connect."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(1.0)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/a.c2pa"
    hits: list[object] = []
    thread = threading.Thread(target=lambda: hits.append(_accept(listener)))
    thread.start()
    asset = _remote_url_asset(test_ca, url)
    resp = response(asset)
    assert manifest_urls(resp) == (url,)
    [signal] = embedded_signals(resp, READER)  # not fetched by the transport → unverifiable, and no connection
    direct = read_store(asset, "image/jpeg")  # the reader itself, told nothing: must not fetch either
    thread.join()
    listener.close()
    assert hits == [None]
    assert signal.tags == (Tag.UNVERIFIABLE,)
    assert direct.store is None
    assert "remote" in (direct.error or "").lower()


def _accept(listener: socket.socket) -> object:
    try:
        return listener.accept()
    except OSError:
        return None


def _remote_url_asset(ca, url: str) -> bytes:
    import io
    import json

    manifest = {
        "claim_generator_info": [{"name": "t"}],
        "format": "image/jpeg",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"}]}}],
    }  # fmt: skip
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", ca.chain, ca.key_pem, None))
    with c2pa.Builder(json.dumps(manifest)) as builder:
        builder.set_no_embed()
        builder.set_remote_url(url)
        out = io.BytesIO()
        builder.sign(signer, "image/jpeg", io.BytesIO(plain_image("jpeg")), out)
    signer.close()
    return out.getvalue()


def test_pdf_tdmrep_layer() -> None:
    packet = xmp_packet('xmlns:tdm="http://www.w3.org/ns/tdmrep/" tdm:reservation="1"/>')
    pdf = b"%PDF-1.7\n1 0 obj<</Type/Metadata/Subtype/XML>>stream\n" + packet + b"\nendstream\n%%EOF"
    [layer] = embedded_layers(response(pdf, "application/pdf"))
    mechanism, reservation, policy = layer.mechanism, layer.reservation, layer.policy
    assert (mechanism, reservation, policy) == (Mechanism.TDMREP_PDF, 1, None)
    assert embedded_signals(response(pdf, "application/pdf"), READER) == []


def test_epub_tdmrep_layer() -> None:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="book.opf"/></rootfiles></container>',
        )
        archive.writestr(
            "book.opf",
            '<package xmlns="http://www.idpf.org/2007/opf" prefix="tdm: http://www.w3.org/ns/tdmrep#">'
            '<metadata><meta property="tdm:reservation">1</meta></metadata></package>',
        )
    [layer] = embedded_layers(response(out.getvalue(), "application/epub+zip"))
    assert (layer.mechanism, layer.reservation, layer.source, layer.tags) == (
        Mechanism.TDMREP_EPUB,
        1,
        URL,
        (),
    )
