"""The c2pa adapter against manifests signed in this session (real parts, no mocks)."""

from __future__ import annotations

import logging

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from consentry.middlewares.adapters.manifestreader import StoreResult, read_store, reader_settings
from tests.provenance_fixtures import (
    MIME,
    VARIANTS,
    make_ca,
    plain_image,
    sign_asset,
    sign_remote,
    training_assertion,
)


def state(result: StoreResult) -> str:
    assert result.error is None, result.error
    assert result.store is not None
    return str(result.store["validation_state"])


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_signed_reads_valid(signed_assets, name) -> None:
    fmt = VARIANTS[name][0]
    result = read_store(signed_assets[name], MIME[fmt])
    assert state(result) == "Valid"
    codes = [s["code"] for s in result.store["validation_status"]]
    assert codes == ["signingCredential.untrusted"]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_tampered_reads_invalid(signed_assets, name) -> None:
    fmt = VARIANTS[name][0]
    result = read_store(signed_assets[f"tampered-{name}"], MIME[fmt])
    assert state(result) == "Invalid"
    assert any(s["code"].endswith(".mismatch") for s in result.store["validation_status"])


def test_trust_anchor_makes_it_trusted(signed_assets, test_ca) -> None:
    result = read_store(
        signed_assets["cawg-mixed.jpg"], "image/jpeg", trust_anchors_pem=test_ca.ca_pem.decode()
    )
    assert state(result) == "Trusted"


C2PA_CLAIM_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1")  # c2pa-kp-claimSigning
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning


def _bundle(*anchors: bytes) -> str:
    """A PEM bundle laid out like the published C2PA trust lists: comment lines between the certificates."""
    return "".join(f"## anchor {n}\n{pem.decode()}\n" for n, pem in enumerate(anchors))


@pytest.mark.parametrize("eku", [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING, C2PA_CLAIM_SIGNING],
                         ids=["emailProtection", "documentSigning", "c2pa-kp-claimSigning"])
def test_trusted_only_when_the_signer_chains_to_an_anchor(eku) -> None:
    ca, stranger = make_ca(eku=eku), make_ca()
    body = sign_asset(ca, "jpeg", [training_assertion("cawg.training-mining", {
        "cawg.ai_generative_training": {"use": "allowed"}})], settings=reader_settings(ca.ca_pem.decode()))
    chained = read_store(body, "image/jpeg", trust_anchors_pem=_bundle(stranger.ca_pem, ca.ca_pem))
    assert state(chained) == "Trusted"
    assert chained.store.get("validation_status", []) == []
    for anchors in (stranger.ca_pem.decode(), None):  # an anchor the signer does not chain to; no anchors
        unchained = read_store(body, "image/jpeg", trust_anchors_pem=anchors)
        assert state(unchained) == "Valid"
        assert [s["code"] for s in unchained.store["validation_status"]] == ["signingCredential.untrusted"]


def test_format_is_detected_when_the_content_type_lies(signed_assets) -> None:
    assert state(read_store(signed_assets["cawg-allowed.png"], "")) == "Valid"


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_no_manifest(fmt) -> None:
    assert read_store(plain_image(fmt), MIME[fmt]) == StoreResult(None, None)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"0123456789", "image/jpeg"),
        (b"\xff\xd8\xff\xe0garbage", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
    ],
)
def test_garbage_is_an_error_not_consent(body, content_type, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="consentry.middlewares.adapters.manifestreader"):
        result = read_store(body, content_type)
    assert result.store is None
    assert result.error
    # logged at INFO: the decision record carries the error; corrupt files are common and not the crawler's fault
    assert caplog.records[-1].levelno == logging.INFO


def test_truncated_signed_asset_is_an_error(signed_assets) -> None:
    body = signed_assets["cawg-mixed.jpg"]
    result = read_store(body[: len(body) // 2], "image/jpeg")
    assert result.store is None
    assert result.error


def test_remote_manifest_data(test_ca) -> None:
    asset, store = sign_remote(
        test_ca,
        "jpeg",
        [training_assertion("cawg.training-mining", {"cawg.ai_training": {"use": "notAllowed"}})],
    )
    assert read_store(asset, "image/jpeg") == StoreResult(None, None)
    assert state(read_store(asset, "image/jpeg", manifest_data=store)) == "Valid"
    assert (
        state(read_store(plain_image("jpeg")[:-10] + b"\xff\xd9", "image/jpeg", manifest_data=store))
        == "Invalid"
    )
    assert read_store(asset, "image/jpeg", manifest_data=b"not a manifest").error


def test_reader_network_is_off() -> None:
    verify = reader_settings("PEM")["verify"]
    assert verify["remote_manifest_fetch"] is False
    assert verify["ocsp_fetch"] is False
    assert reader_settings("PEM")["trust"]["trust_anchors"] == "PEM"
    assert "trust_anchors" not in reader_settings(None)["trust"]
