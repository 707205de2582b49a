"""`consentry check` on assets carrying their creator's terms: C2PA/CAWG signed in this session, IPTC XMP,
remote manifests named by `Link`, trust anchors, and `--root` mode reading the same files locally."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from consentry.crawler.cli import main
from consentry.crawler.demo.server import Route, SiteServer
from consentry.policies.record import record_problems
from tests.provenance_fixtures import (
    TestCA,
    jpeg_with_app1_xmp,
    plain_image,
    sign_remote,
    training_assertion,
    xmp_packet,
)

ROBOTS = Route.text("User-agent: *\nAllow: /\n")


def _image(body: bytes, kind: str = "image/jpeg", *headers: tuple[str, str]) -> Route:
    return Route(200, (("Content-Type", kind), *headers), body)


@pytest.fixture
def site(signed_assets: dict[str, bytes], test_ca: TestCA) -> Iterator[SiteServer]:
    remote_asset, remote_store = sign_remote(test_ca, "jpeg", [training_assertion(
        "cawg.training-mining", {"cawg.ai_generative_training": {"use": "notAllowed"}})])
    xmp_jpeg = jpeg_with_app1_xmp(plain_image("jpeg"), xmp_packet(
        'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-GENAIMLTRAINING"/>'))
    server = SiteServer({
        "/robots.txt": ROBOTS,
        "/mixed.jpg": _image(signed_assets["cawg-mixed.jpg"]),
        "/tampered.png": _image(signed_assets["tampered-cawg-allowed.png"], "image/png"),
        "/allowed.png": _image(signed_assets["cawg-allowed.png"], "image/png"),
        "/xmp.jpg": _image(xmp_jpeg),
        "/remote.c2pa": Route(200, (("Content-Type", "application/c2pa"),), remote_store),
        "/missing-manifest.jpg": _image(remote_asset, "image/jpeg", ("Link", '</gone.c2pa>; rel="c2pa-manifest"')),
    }).start()
    server.set_route("/remote.jpg", _image(remote_asset, "image/jpeg",
                                           ("Link", f'<{server.url("/remote.c2pa")}>; rel="c2pa-manifest"')))
    yield server
    server.stop()


def _records(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main(["check", "--json", *argv]) == 0
    records = json.loads(capsys.readouterr().out)
    for record in records:
        assert record_problems(record) == []
    return records


def _c2pa(record: dict[str, object]) -> dict[str, object]:
    return next(s for s in record["signals"] if s["mechanism"] == "c2pa")  # type: ignore[union-attr, index]


def test_signed_cawg_restrictions_drop_the_asset(site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    [record] = _records(capsys, site.url("/mixed.jpg"))
    assert record["action"] == "drop"
    assert record["purposes"]["genai-train"] == "deny"  # type: ignore[index]
    assert record["purposes"]["ml-train"] == "allow"  # type: ignore[index]
    assert record["purposes"]["ai-input"] == "deny"  # type: ignore[index]
    signal = _c2pa(record)
    assert signal["scope"] == "embedded"
    assert "cawg.ai_generative_training=notAllowed" in str(signal["evidence"])
    assert "Valid" in str(signal["evidence"])
    assert "C2PA Signer" in str(signal["evidence"])
    assert "conditional" in signal["tags"]  # type: ignore[operator]  # constrained ai_inference


def test_tampered_allowed_is_not_consent(site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    [record] = _records(capsys, site.url("/tampered.png"))
    assert record["purposes"]["genai-train"] == "unknown"  # type: ignore[index]
    assert "Invalid" in str(_c2pa(record)["evidence"])


def test_trust_anchor_reads_trusted(site: SiteServer, test_ca: TestCA, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(test_ca.ca_pem)
    [untrusted] = _records(capsys, site.url("/allowed.png"))
    [trusted] = _records(capsys, "--trust-anchors", str(anchors), site.url("/allowed.png"))
    assert "Trusted" not in str(_c2pa(untrusted)["evidence"])
    assert "Trusted" in str(_c2pa(trusted)["evidence"])
    assert trusted["purposes"]["genai-train"] == "allow"  # type: ignore[index]
    assert trusted["policy"] != untrusted["policy"]  # the trust anchors are part of the policy fingerprint


def test_xmp_data_mining_is_read(site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    [record] = _records(capsys, site.url("/xmp.jpg"))
    assert record["action"] == "drop"
    assert record["purposes"]["genai-train"] == "deny"  # type: ignore[index]
    assert record["purposes"]["ml-train"] == "unknown"  # type: ignore[index]
    assert "iptc-xmp" in {s["mechanism"] for s in record["signals"]}  # type: ignore[index, union-attr]


def test_remote_manifest_is_fetched_by_our_transport(site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    [record] = _records(capsys, site.url("/remote.jpg"))
    assert "/remote.c2pa" in site.requested
    assert record["purposes"]["genai-train"] == "deny"  # type: ignore[index]
    assert _c2pa(record)["source"] == site.url("/remote.c2pa")


def test_unfetchable_remote_manifest_is_unverifiable(site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    [record] = _records(capsys, site.url("/missing-manifest.jpg"))
    assert "/gone.c2pa" in site.requested
    assert "unverifiable" in record["tags"]  # type: ignore[operator]
    assert record["action"] == "drop"  # CONSENT_ON_UNVERIFIABLE defaults to drop


def test_table_names_label_entry_state_and_signer(site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", site.url("/mixed.jpg")]) == 0
    out = capsys.readouterr().out
    for text in ("c2pa", "cawg.training-mining", "cawg.ai_generative_training=notAllowed", "Valid", "C2PA Signer"):
        assert text in out


def test_root_mode_reads_embedded_signals(signed_assets: dict[str, bytes], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "mixed.jpg").write_bytes(signed_assets["cawg-mixed.jpg"])
    [record] = _records(capsys, "--root", str(tmp_path), "https://example.com/art/mixed.jpg")
    assert record["action"] == "drop"
    assert record["purposes"]["genai-train"] == "deny"  # type: ignore[index]


def test_table_says_why_an_allowed_entry_of_an_invalid_manifest_does_not_count(
        site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", site.url("/tampered.png")]) == 0
    out = capsys.readouterr().out
    entry = "cawg.ai_generative_training=allowed not counted: manifest is Invalid"
    assert f"c2pa                         embedded  —  [{entry}]" in out  # present, and why it did not count
    action = " ".join(out[out.index("ACTION"):].split("AI-GENERATED")[0].split())
    assert action == f"ACTION KEEP: genai-train, ml-train unknown (c2pa (embedded) {entry})"
    assert "(no signal)" not in out
