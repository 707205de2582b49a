"""Regenerate the demo's provenance images in crawler/demo/assets/ (run by hand; the product only ships bytes).

    .venv/bin/python -m tests.make_demo_assets

Signed with a throwaway CA made here (valid ~50 years, so the bundled files keep reading `Valid`); the key
is discarded. tests/crawler/test_demo.py checks that every bundled file reads as its name says.
"""

from __future__ import annotations

from pathlib import Path

from tests.provenance_fixtures import (
    flip_data_byte,
    jpeg_with_app1_xmp,
    make_ca,
    plain_image,
    sign_asset,
    sign_remote,
    training_assertion,
    xmp_packet,
)

ASSETS = Path(__file__).resolve().parents[1] / "crawler" / "demo" / "assets"
_DENY_TRAINING = {"cawg.ai_generative_training": {"use": "notAllowed"}, "cawg.ai_training": {"use": "notAllowed"}}
_ALLOW_TRAINING = {"cawg.ai_generative_training": {"use": "allowed"}, "cawg.ai_training": {"use": "allowed"}}
_CONSTRAINED = {"cawg.ai_generative_training": {"use": "constrained", "constraint_info": "https://example.com/licence"}}


def main() -> None:
    ca = make_ca(valid_days=365 * 50)
    cawg = "cawg.training-mining"
    allowed = sign_asset(ca, "jpeg", [training_assertion(cawg, _ALLOW_TRAINING)])
    remote_asset, remote_store = sign_remote(ca, "jpeg", [training_assertion(cawg, _DENY_TRAINING)])
    files = {
        "c2pa-notallowed.jpg": sign_asset(ca, "jpeg", [training_assertion(cawg, _DENY_TRAINING)]),
        "c2pa-allowed.jpg": allowed,
        "c2pa-allowed-tampered.jpg": flip_data_byte(allowed, "jpeg"),
        "c2pa-constrained.png": sign_asset(ca, "png", [training_assertion(cawg, _CONSTRAINED)]),
        "c2pa-remote.jpg": remote_asset,
        "c2pa-remote.c2pa": remote_store,
        "xmp-prohibited.jpg": jpeg_with_app1_xmp(plain_image("jpeg"), xmp_packet(
            'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/>')),
    }
    for name, body in files.items():
        (ASSETS / name).write_bytes(body)
        print(f"wrote {name} ({len(body)} bytes)")


if __name__ == "__main__":
    main()
