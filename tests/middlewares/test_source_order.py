"""Manifest source order (C2PA 2.2 §15.5: embedded, then remote) and the AI-generated label, over assets
signed in this session by c2pa-python and read by the real c2pa adapter."""

from __future__ import annotations

import pytest

from consentry.middlewares.adapters.manifestreader import C2paReader
from consentry.policies.assets.embedded import StoreResult, manifest_urls, read_embedded
from consentry.policies.config import PolicyConfig
from consentry.policies.gather import asset_needs
from consentry.policies.model import AssetResponse, SiteFile
from consentry.policies.vocabulary import Purpose, Tag, Verdict
from tests.provenance_fixtures import (
    TestCA,
    jpeg_with_app1_xmp,
    plain_image,
    sign_asset,
    training_assertion,
    xmp_packet,
)

READER = C2paReader()
STAGE = "https://cai-manifests-stage.example/manifests/urn-uuid-1"
ALLOWED = training_assertion("cawg.training-mining", {"cawg.ai_generative_training": {"use": "allowed"}})


def response(body: bytes, *headers: tuple[str, str]) -> AssetResponse:
    return AssetResponse("https://ex.com/img/a.jpg", 200, (("Content-Type", "image/jpeg"), *headers), body)


@pytest.fixture(scope="module")
def signed_with_stage_url(test_ca: TestCA) -> bytes:
    """A signed, all-allowed JPEG whose XMP also names an (unreachable) remote manifest URL."""
    packet = xmp_packet(f'xmlns:dcterms="http://purl.org/dc/terms/" dcterms:provenance="{STAGE}"/>')
    return sign_asset(test_ca, "jpeg", [ALLOWED], source=jpeg_with_app1_xmp(plain_image("jpeg"), packet))


def test_embedded_manifest_is_not_overridden_by_an_unreachable_provenance_url(signed_with_stage_url) -> None:
    asset = response(signed_with_stage_url)
    assert manifest_urls(asset) == ()
    assert asset_needs(asset, PolicyConfig()) == ()
    reading = read_embedded(asset, READER, fetched_manifests={STAGE: SiteFile.from_error(STAGE, "unreachable")})
    [signal] = reading.signals
    assert signal.statement == {Purpose.GENAI_TRAIN: Verdict.ALLOW}
    assert Tag.UNVERIFIABLE not in signal.tags
    assert signal.source == asset.url


def test_jumbf_self_reference_link_is_read_as_embedded(signed_with_stage_url) -> None:
    """`Link: <a.jpg#jumbf=c2pa>` points at the asset's own store: never fetched, and the allow counts."""
    asset = response(signed_with_stage_url, ("Link", '<a.jpg#jumbf=c2pa>; rel="c2pa-manifest"'))
    assert manifest_urls(asset) == ()
    [signal] = read_embedded(asset, READER).signals
    assert signal.statement == {Purpose.GENAI_TRAIN: Verdict.ALLOW}
    assert signal.source == asset.url


def test_self_reference_to_a_store_that_is_not_there_is_unverifiable() -> None:
    asset = response(plain_image("jpeg"), ("Link", '<a.jpg#jumbf=c2pa>; rel="c2pa-manifest"'))
    assert manifest_urls(asset) == ()
    [signal] = read_embedded(asset, READER).signals
    assert Tag.UNVERIFIABLE in signal.tags
    assert "says the manifest is embedded" in signal.evidence


def test_store_present_by_markers_but_read_as_absent_is_unverifiable(signed_assets) -> None:
    """c2pa answering "no store" (`StoreResult(None, None)`) for bytes that carry a store marker."""

    def says_none(body: bytes, content_type: str, *, manifest_data: bytes | None = None) -> StoreResult:
        return StoreResult(None, None)

    [signal] = read_embedded(response(signed_assets["cawg-mixed.jpg"]), says_none).signals
    assert signal.tags == (Tag.UNVERIFIABLE,)
    assert "store marker but c2pa read no manifest store" in signal.evidence


def test_remote_manifest_is_read_only_without_an_embedded_store(signed_assets) -> None:
    link = ("Link", '</m/a.c2pa>; rel="c2pa-manifest"')
    embedded = response(signed_assets["cawg-mixed.jpg"], link)
    assert manifest_urls(embedded) == ()
    plain = response(plain_image("jpeg"), link)
    assert manifest_urls(plain) == ("https://ex.com/m/a.c2pa",)


def test_ai_generated_label_from_signed_actions(signed_assets) -> None:
    provenance = read_embedded(response(signed_assets["ai-generated.jpg"]), READER).provenance
    assert provenance.ai_generated == "yes"
    assert "trainedAlgorithmicMedia (yes)" in provenance.evidence
    made = read_embedded(response(signed_assets["no-training.jpg"]), READER).provenance
    assert made.ai_generated == "no"
    assert read_embedded(response(plain_image("jpeg")), READER).provenance.ai_generated == "unknown"


def test_invalid_manifest_claim_is_evidence_not_proof(test_ca: TestCA) -> None:
    from tests.provenance_fixtures import flip_data_byte

    body = flip_data_byte(sign_asset(test_ca, "jpeg", [], source_type="trainedAlgorithmicMedia"), "jpeg")
    provenance = read_embedded(response(body), READER).provenance
    assert provenance.ai_generated == "yes"
    assert "Invalid: its claim is evidence, not proof" in provenance.evidence


def test_xmp_digital_source_type() -> None:
    packet = xmp_packet('xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
                        'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
                        'compositeWithTrainedAlgorithmicMedia"/>')
    provenance = read_embedded(response(jpeg_with_app1_xmp(plain_image("jpeg"), packet)), READER).provenance
    assert provenance.ai_generated == "yes"
    assert "unsigned XMP" in provenance.evidence


def test_signed_avif_is_read_as_heif(test_ca: TestCA) -> None:
    """A real AVIF (c2pa-rs sample1.avif) signed here: the pre-scan finds the BMFF store, the reader is told
    image/avif by its brand, and the AI-generated claim is read."""
    import io
    import json
    from pathlib import Path

    import c2pa

    source = (Path(__file__).parent.parent / "fixtures" / "real" / "sample1.avif").read_bytes()
    manifest = {"claim_generator_info": [{"name": "t"}], "format": "image/avif", "assertions": [
        {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType":
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}]}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", test_ca.chain, test_ca.key_pem, None))
    with c2pa.Builder(json.dumps(manifest)) as builder:
        out = io.BytesIO()
        builder.sign(signer, "image/avif", io.BytesIO(source), out)
    signer.close()
    asset = AssetResponse("https://ex.com/a.avif", 200, (("Content-Type", "application/octet-stream"),),
                          out.getvalue())
    provenance = read_embedded(asset, READER).provenance
    assert provenance.ai_generated == "yes"
    assert "(Valid)" in provenance.evidence
