"""`consentry demo` (README's first command): the bundled origins crawled offline, every mechanism deciding."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from consentry.crawler.crawl.command import deciding_mechanisms
from consentry.crawler.demo.server import Route, SiteServer
from consentry.middlewares.adapters.manifestreader import C2paReader
from consentry.policies.assets.embedded import embedded_signals
from consentry.policies.model import AssetResponse
from consentry.policies.record import record_problems
from consentry.policies.vocabulary import Purpose, Verdict


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("demo")
    done = subprocess.run([sys.executable, "-m", "consentry.crawler.cli", "demo", "-o", str(out)], capture_output=True,
                          text=True, timeout=240, check=False)
    return done, out


def _by_path(out: Path) -> dict[str, dict[str, object]]:
    records = [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]
    for record in records:
        assert record_problems(record) == [], record
    return {urlsplit(r["url"]).path + ("#" + str(urlsplit(r["url"]).port)): r for r in records}


def _find(records: dict[str, dict[str, object]], path: str) -> dict[str, object]:
    matches = [r for key, r in records.items() if key.split("#")[0] == path]
    assert matches, f"no decision for {path}"
    return matches[0]


def test_demo_exits_0_and_explains(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, _ = demo_run
    assert done.returncode == 0, done.stderr
    for text in ("DECIDED BY", "Every decision", "KEEP", "DROP", "SKIP", "What the actions mean", "gallery",
                 "newsroom", "mirror", "plain"):
        assert text in done.stdout


@pytest.mark.parametrize(("path", "action", "mechanism"), [
    ("/drafts/wip.html", "skip", "robots"),
    ("/sketches/sketch.jpg", "drop", "robots-inferred"),
    ("/blog/", "keep", "robots-content-usage"),
    ("/portfolio/", "drop", "robots-content-usage"),
    # found on a dropped page that was still followed; robots.txt denies it too: withheld before download
    ("/portfolio/landscape.jpg", "drop", "robots-content-usage"),
    ("/blog/poster.png", "drop", "ai-txt"),
    ("/about/portrait.jpg", "drop", "page-inherited"),
    ("/provenance/c2pa-notallowed.jpg", "drop", "c2pa"),
    ("/provenance/c2pa-allowed.jpg", "keep", "c2pa"),
    ("/provenance/xmp-prohibited.jpg", "drop", "iptc-xmp"),
    ("/provenance/remote.jpg", "drop", "c2pa"),
    ("/premium/story.html", "drop", "robots-license"),
    ("/archive/2024.html", "drop", "tdmrep-file"),
    ("/news/reserved.html", "drop", "tdmrep-html"),
    ("/news/no-train.html", "drop", "content-usage-header"),
    ("/news/open.html", "keep", "tdmrep-file"),
    ("/notes.html", "keep", "(no signal)"),
])
def test_demo_decisions(demo_run: tuple[subprocess.CompletedProcess[str], Path], path: str, action: str,
                        mechanism: str) -> None:
    _, out = demo_run
    record = _find(_by_path(out), path)
    assert record["action"] == action, record["reason"]
    assert mechanism in deciding_mechanisms(record)


def test_tampered_permission_is_not_consent(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = demo_run
    record = _find(_by_path(out), "/provenance/c2pa-allowed-tampered.jpg")
    assert record["purposes"]["genai-train"] == "unknown"  # type: ignore[index]
    assert "Invalid" in json.dumps(record["signals"])


def test_unreachable_robots_origin_is_never_crawled(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = demo_run
    mirror = [r for r in _by_path(out).values() if "503" in str(r["reason"])]
    assert [urlsplit(str(r["url"])).path for r in mirror] == ["/"]
    assert all(r["action"] == "skip" for r in mirror)
    port = urlsplit(str(mirror[0]["url"])).port
    assert not [r for r in _by_path(out).values() if urlsplit(str(r["url"])).port == port and r["action"] != "skip"]


def test_items_hold_only_kept_assets_with_consent(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = demo_run
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    kept = {str(r["url"]) for r in _by_path(out).values() if r["action"] == "keep"}
    assert items
    assert {item["url"] for item in items} <= kept
    assert all(item["consent"]["action"] == "keep" for item in items)


def test_warc_holds_site_files_responses_and_decisions(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = demo_run
    kinds: dict[str, int] = {}
    targets: set[str] = set()
    with (out / "crawl.warc.gz").open("rb") as handle:
        for record in ArchiveIterator(handle):
            kinds[record.rec_type] = kinds.get(record.rec_type, 0) + 1
            targets.add(urlsplit(record.rec_headers.get_header("WARC-Target-URI") or "").path)
    assert {"/robots.txt", "/ai.txt", "/.well-known/tdmrep.json", "/license.xml", "/provenance/remote.c2pa"} <= targets
    decisions = len((out / "decisions.jsonl").read_text().splitlines())
    assert kinds["metadata"] == decisions
    assert kinds["response"] >= decisions - 2  # every fetched asset plus site files; skips have no response


@pytest.mark.parametrize(("name", "purpose", "verdict"), [
    ("c2pa-notallowed.jpg", Purpose.GENAI_TRAIN, Verdict.DENY),
    ("c2pa-allowed.jpg", Purpose.ML_TRAIN, Verdict.ALLOW),
    ("c2pa-constrained.png", Purpose.GENAI_TRAIN, Verdict.DENY),
    ("xmp-prohibited.jpg", Purpose.AI_TRAIN, Verdict.DENY),
])
def test_bundled_demo_assets_read_as_named(name: str, purpose: Purpose, verdict: Verdict) -> None:
    body = (resources.files("consentry.crawler.demo") / "assets" / name).read_bytes()
    kind = "image/png" if name.endswith(".png") else "image/jpeg"
    [signal] = embedded_signals(AssetResponse(f"http://demo/{name}", 200, (("Content-Type", kind),), body), C2paReader())
    assert signal.statement[purpose] is verdict


def test_a_client_hanging_up_mid_body_is_noted_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    """The demo's own origins serve a crawler that may stop reading (an oversized body, the crawl's end): the
    server notes the hang-up and prints no traceback into the demo's output."""
    with SiteServer({"/big.bin": Route(body=b"x" * (32 << 20))}) as site:
        port = int(site.origin.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            client.recv(1)  # the answer has begun
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        deadline = time.monotonic() + 20
        while not site.hung_up and time.monotonic() < deadline:
            time.sleep(0.02)
        assert site.hung_up == ["/big.bin"]
        assert site.body_bytes["/big.bin"] == 0  # the body was never counted as written
    assert "Traceback" not in capfd.readouterr().err
