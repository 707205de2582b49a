"""Signed C2PA fixtures and XMP-carrying images, generated in the test session (real parts: nothing mocked).

A throwaway ES256 CA + leaf made with `cryptography`; manifests signed with c2pa-python's Builder over
small Pillow images (JPEG, PNG, WebP). XMP packets are written into JPEG APP1 and PNG iTXt by hand.
"""

from __future__ import annotations

import datetime
import io
import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

__all__ = [
    "MIME",
    "TestCA",
    "flip_data_byte",
    "jpeg_with_app1_xmp",
    "make_ca",
    "plain_image",
    "png_with_itxt_xmp",
    "sign_asset",
    "sign_remote",
    "signed_assets",
    "test_ca",
    "training_assertion",
    "xmp_packet",
]

MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class TestCA:
    """A throwaway root CA and an ES256 leaf: `chain` is leaf PEM + CA PEM."""

    __test__ = False  # not a pytest test class

    ca_pem: bytes
    chain: bytes
    key_pem: bytes


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _usage(*, signature: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(*, valid_days: int = 30, eku: x509.ObjectIdentifier = ExtendedKeyUsageOID.EMAIL_PROTECTION) -> TestCA:
    """An ES256 root CA (ca=True, keyCertSign) and a leaf (digitalSignature, extended key usage `eku`
    (default emailProtection), AKI/SKI)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Test CA", "Test CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=max(365, valid_days)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(signature=False, cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("C2PA Signer", "consentry tests"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signature=True, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return TestCA(ca_pem, leaf.public_bytes(serialization.Encoding.PEM) + ca_pem, key_pem)


def plain_image(fmt: str, *, xmp: bytes | None = None) -> bytes:
    """A small manifest-less image made with Pillow; `xmp` is embedded by Pillow where it can."""
    image = Image.new("RGB", (64, 48))
    for x in range(64):
        for y in range(48):
            image.putpixel((x, y), ((x * 4) % 256, (y * 5) % 256, (x * y) % 256))
    out = io.BytesIO()
    kwargs: dict[str, object] = {"xmp": xmp} if xmp is not None else {}
    image.save(out, format={"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt], **kwargs)
    return out.getvalue()


def training_assertion(label: str, entries: Mapping[str, Mapping[str, str]], *, top_level: bool = False):
    """A training-mining assertion; `top_level` puts the entries at the map's top level (C2PA 1.4 CDDL)."""
    data = dict(entries) if top_level else {"entries": dict(entries)}
    return {"label": label, "data": data}


def sign_asset(
    ca: TestCA, fmt: str, assertions: list[dict[str, object]], *, source: bytes | None = None,
    source_type: str = "digitalCreation", settings: Mapping[str, object] | None = None,
) -> bytes:
    """`source` (default: a plain Pillow image) signed with a manifest whose first assertion is c2pa.actions
    (`c2pa.created` with IPTC digital source type `source_type`); `settings`: c2pa settings for the Builder
    (it verifies what it signed)."""
    return _sign(ca, fmt, assertions, source=source, embed=True, source_type=source_type, settings=settings)[0]


def sign_remote(ca: TestCA, fmt: str, assertions: list[dict[str, object]]) -> tuple[bytes, bytes]:
    """(asset without an embedded manifest, the external `.c2pa` manifest store bound to it)."""
    return _sign(ca, fmt, assertions, source=None, embed=False)


def _sign(
    ca: TestCA, fmt: str, assertions: list[dict[str, object]], *, source: bytes | None, embed: bool,
    source_type: str = "digitalCreation", settings: Mapping[str, object] | None = None,
) -> tuple[bytes, bytes]:
    manifest = {
        "claim_generator_info": [{"name": "consentry-tests", "version": "0.1"}],
        "title": f"fixture.{fmt}",
        "format": MIME[fmt],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": f"http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}",
                        }
                    ]
                },
            },
            *assertions,
        ],
    }
    info = c2pa.C2paSignerInfo(b"es256", ca.chain, ca.key_pem, None)
    signer = c2pa.Signer.from_info(info)
    try:
        context = c2pa.Context.from_dict(dict(settings)) if settings is not None else None
        with c2pa.Builder(json.dumps(manifest), context=context) as builder:
            if not embed:
                builder.set_no_embed()
            out = io.BytesIO()
            src = io.BytesIO(source if source is not None else plain_image(fmt))
            store = builder.sign(signer, MIME[fmt], src, out)
            return out.getvalue(), store
    finally:
        signer.close()


def flip_data_byte(body: bytes, fmt: str) -> bytes:
    """A tampered copy: one byte of image data flipped (well past the headers and the manifest)."""
    markers = {"jpeg": b"\xff\xda", "png": b"IDAT", "webp": b"VP8 "}
    at = body.rfind(markers[fmt]) + 40
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]


# --- XMP carriers -------------------------------------------------------------------------------------


def xmp_packet(description: str, *, extra_ns: str = "") -> bytes:
    """An XMP packet with one rdf:Description holding `description` (attributes and children)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" {extra_ns} {description}'
        "</rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def jpeg_with_app1_xmp(jpeg: bytes, packet: bytes) -> bytes:
    """`jpeg` with an APP1 XMP segment inserted right after SOI."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_itxt_xmp(png: bytes, packet: bytes) -> bytes:
    """`png` with an uncompressed iTXt `XML:com.adobe.xmp` chunk inserted after IHDR."""
    data = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
    ihdr_end = 8 + 8 + 13 + 4
    return png[:ihdr_end] + _png_chunk(b"iTXt", data) + png[ihdr_end:]


# --- session fixtures ---------------------------------------------------------------------------------

_CAWG_MIXED = {
    "cawg.ai_generative_training": {"use": "notAllowed"},
    "cawg.ai_inference": {"use": "constrained", "constraint_info": "https://example.com/license"},
    "cawg.ai_training": {"use": "allowed"},
}
_C2PA_V1 = {
    "c2pa.ai_training": {"use": "allowed"},
    "c2pa.ai_generative_training": {"use": "notAllowed"},
    "c2pa.data_mining": {"use": "constrained", "constraints_info": "ask first"},
}

#: name -> (format, assertions)
VARIANTS: dict[str, tuple[str, list[dict[str, object]]]] = {
    "cawg-mixed.jpg": ("jpeg", [training_assertion("cawg.training-mining", _CAWG_MIXED)]),
    "cawg-allowed.png": (
        "png",
        [training_assertion("cawg.training-mining", {"cawg.ai_generative_training": {"use": "allowed"}})],
    ),
    "c2pa-v1-toplevel.png": ("png", [training_assertion("c2pa.training-mining", _C2PA_V1, top_level=True)]),
    "cawg-notallowed.webp": (
        "webp",
        [training_assertion("cawg.training-mining", {"cawg.data_mining": {"use": "notAllowed"}})],
    ),
    "no-training.jpg": ("jpeg", []),
}


@pytest.fixture(scope="session")
def test_ca() -> TestCA:
    """The session's throwaway CA."""
    return make_ca()


@pytest.fixture(scope="session")
def signed_assets(test_ca: TestCA) -> dict[str, bytes]:
    """Every VARIANTS entry signed once, plus `tampered-<name>` copies of the JPEG/PNG/WebP ones."""
    out: dict[str, bytes] = {}
    for name, (fmt, assertions) in VARIANTS.items():
        out[name] = sign_asset(test_ca, fmt, assertions)
        out[f"tampered-{name}"] = flip_data_byte(out[name], fmt)
    out["ai-generated.jpg"] = sign_asset(test_ca, "jpeg", [], source_type="trainedAlgorithmicMedia")
    return out
