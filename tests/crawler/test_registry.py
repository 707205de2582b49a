"""`consentry registry` and the registry in `check` and the crawl: works registered from one folder are caught
when another loopback origin, carrying no other signal, serves them transformed; unrelated media is not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bench.registry_thresholds import encode, synthetic_image
from consentry.crawler.check.checker import Checker
from consentry.crawler.check.sources import HttpSource
from consentry.crawler.cli import main as consentry_main
from consentry.crawler.demo.server import Route, SiteServer
from consentry.crawler.registry.runner import WORK_SCHEMA
from consentry.middlewares.adapters.addresses import FetchGuard
from consentry.middlewares.adapters.registry import Registry
from consentry.policies.config import PolicyConfig
from tests.crawler._helpers import html, run_crawl

ESSAY = (
    "Every photograph in this portfolio was made on long walks along the northern harbour between 2019 "
    "and 2024. The series follows the light of the early morning as it crosses the water, the cranes and "
    "the fishing boats, and it is meant to be seen as a whole, in the order in which it was made. Please "
    "ask before you reuse these pictures or these words anywhere; they are not offered for training."
)
ROBOTS = Route.text("User-agent: *\nAllow: /\n")


def main(argv: list[str]) -> int:
    """`consentry registry ARGV…` through the real console entry point."""
    return consentry_main(["registry", *argv])


def _jpeg_with_exif(image: Image.Image) -> bytes:
    exif = Image.Exif()
    exif[0x013B] = "Ada Artist"  # Artist
    return encode(image, "JPEG", quality=95, exif=exif.tobytes())


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("portfolio")
    for seed in range(4):
        (folder / f"harbour-{seed}.jpg").write_bytes(_jpeg_with_exif(synthetic_image(100 + seed)))
    (folder / "essay.txt").write_text(ESSAY)
    (folder / "notes").mkdir()
    (folder / "notes" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes" / "archive.zip").write_bytes(b"PK\x03\x04 zip")
    return folder


@pytest.fixture(scope="module")
def db(portfolio: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "works.db"
    assert (
        main(
            [
                "add",
                str(portfolio),
                "--db",
                str(path),
                "--creator",
                "Ada Artist",
                "--deny",
                "ai-train",
                "--allow",
                "search",
            ]
        )
        == 0
    )
    return path


def _copies() -> dict[str, Route]:
    """The portfolio as a re-posting site serves it: resized, recompressed, re-encoded, metadata stripped."""

    def image(body: bytes, kind: str) -> Route:
        return Route(200, (("Content-Type", kind),), body)

    img = [synthetic_image(100 + seed) for seed in range(4)]
    page = (
        f"<html><body><nav>Home · Feed</nav><article><p>{ESSAY}</p></article><footer>© farm</footer></body>"
    )
    return {
        "/robots.txt": ROBOTS,
        "/c/resized.jpg": image(encode(img[0].resize((160, 120)), "JPEG", quality=80), "image/jpeg"),
        "/c/recompressed.jpg": image(encode(img[1], "JPEG", quality=40), "image/jpeg"),
        "/c/converted.webp": image(encode(img[2], "WEBP", quality=75), "image/webp"),
        "/c/stripped.png": image(encode(img[3], "PNG"), "image/png"),
        "/c/unrelated.jpg": image(encode(synthetic_image(999), "JPEG"), "image/jpeg"),
        "/c/article.html": html(page),
        "/": html(
            "".join(
                f'<img src="/c/{n}">'
                for n in (
                    "resized.jpg",
                    "recompressed.jpg",
                    "converted.webp",
                    "stripped.png",
                    "unrelated.jpg",
                )
            )
            + '<a href="/c/article.html">article</a>'
        ),
    }


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    server = SiteServer(_copies()).start()
    yield server
    server.stop()


CAUGHT = {"/c/resized.jpg": "harbour-0.jpg", "/c/recompressed.jpg": "harbour-1.jpg",
          "/c/converted.webp": "harbour-2.jpg", "/c/stripped.png": "harbour-3.jpg",
          "/c/article.html": "essay.txt"}  # fmt: skip


# --- the CLI --------------------------------------------------------------------------------------------


def test_add_registers_the_folder_and_reports_what_it_skipped(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "--db", str(db), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["title"] for r in records) == ["essay.txt", *(f"harbour-{i}.jpg" for i in range(4))]
    assert all(
        r["schema"] == WORK_SCHEMA and r["deny"] == ["ai-train"] and r["allow"] == ["search"] for r in records
    )
    assert {r["iscc"][:7] for r in records} == {"ISCC:EE", "ISCC:EA"}  # image and text Content-Codes


def test_add_skips_unreadable_and_unsupported(
    portfolio: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.db"
    argv = [
        "add",
        str(portfolio),
        str(tmp_path / "missing.jpg"),
        "--db",
        str(db),
        "--creator",
        "A",
        "--deny",
        "tdm",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "registered 5 works (ids 1–5) for A; skipped 3" in captured.out
    assert "broken.png: cannot decode image" in captured.err
    assert "archive.zip: unsupported media type" in captured.err
    assert "missing.jpg: no such file or directory" in captured.err
    assert main(argv) == 2  # everything already registered: nothing new
    assert "already registered as work 1" in capsys.readouterr().err


def test_match_shows_work_and_distance(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy.webp"
    copy.write_bytes(encode(synthetic_image(101).resize((200, 150)), "WEBP"))
    other = tmp_path / "other.png"
    other.write_bytes(encode(synthetic_image(555), "PNG"))
    assert main(["match", "--db", str(db), str(copy), str(other)]) == 0
    out = capsys.readouterr().out
    assert f"{copy}: 1 matching work" in out
    assert '"harbour-1.jpg" by Ada Artist: image content code' in out
    assert "bits apart (threshold 8)" in out
    assert f"{other}: 0 matching works" in out


def test_match_json_is_one_element_per_file_in_argument_order(
    db: Path, portfolio: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exact = portfolio / "harbour-2.jpg"
    near = tmp_path / "near.webp"
    near.write_bytes(encode(synthetic_image(101).resize((200, 150)), "WEBP"))
    other = tmp_path / "other.png"
    other.write_bytes(encode(synthetic_image(555), "PNG"))
    missing = tmp_path / "missing.jpg"
    assert main(["match", "--db", str(db), str(other), str(missing), str(exact), str(near), "--json"]) == 2
    captured = capsys.readouterr()
    elements = json.loads(captured.out)  # stdout is the array alone
    assert [e["file"] for e in elements] == [str(other), str(missing), str(exact), str(near)]
    assert elements[0] == {"file": str(other), "error": None, "matches": []}
    assert elements[1]["matches"] == []
    assert "cannot read" in elements[1]["error"]
    assert f"cannot read {missing}" in captured.err
    [byte_copy] = elements[2]["matches"]
    assert (byte_copy["title"], byte_copy["kind"], byte_copy["distance"]) == ("harbour-2.jpg", "sha256", 0)
    assert byte_copy["counted"] == {"ai-train": "deny", "search": "allow"}  # an exact copy carries the allow
    [similar] = elements[3]["matches"]
    assert (similar["title"], similar["kind"]) == ("harbour-1.jpg", "image")
    assert similar["allow"] == ["search"]
    assert similar["counted"] == {"ai-train": "deny"}


def test_export_import_round_trip_and_remove(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ada.jsonl"
    assert main(["export", "--db", str(db), "-o", str(out)]) == 0
    other = tmp_path / "society.db"
    assert main(["import", "--db", str(other), str(out)]) == 0
    assert main(["import", "--db", str(other), str(out)]) == 0
    assert "imported 0 works; 5 already registered" in capsys.readouterr().out
    with Registry.open(db) as a, Registry.open(other) as b:
        strip = lambda w: (w.creator, w.title, w.deny, w.allow, w.fingerprint)
        assert [strip(w) for w in a.works()] == [strip(w) for w in b.works()]
    assert main(["remove", "--db", str(other), "1", "2"]) == 0
    with Registry.open(other) as b:
        assert len(b) == 3
    assert main(["remove", "--db", str(other), "1"]) == 2
    assert "no work with id 1" in capsys.readouterr().err


def test_an_imported_work_keeps_every_image_code_and_matches_a_crop(
    db: Path, portfolio: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ada.jsonl"
    assert main(["export", "--db", str(db), "-o", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    images = [r for r in records if r["title"].endswith(".jpg")]
    assert images
    assert all(r["image_codes"][0]["iscc"] == r["iscc"] for r in images)
    assert all(len(r["image_codes"]) > 1 for r in images)  # centre crops, beside the whole image
    assert not any("image_codes" in r for r in records if r["title"] == "essay.txt")
    other = tmp_path / "society.db"
    assert main(["import", "--db", str(other), str(out)]) == 0
    with Registry.open(db) as a, Registry.open(other) as b:
        for first, second in zip(a.works(), b.works(), strict=True):
            assert a.image_codes(first.id) == b.image_codes(second.id)
        assert any(thumb for work in b.works() for _, thumb in b.image_codes(work.id))
    image = Image.open(portfolio / "harbour-2.jpg")
    dx, dy = round(image.width * 0.075), round(image.height * 0.075)  # found through the crop codes only
    crop = tmp_path / "crop.jpg"
    crop.write_bytes(encode(image.crop((dx, dy, image.width - dx, image.height - dy)), "JPEG", quality=85))
    capsys.readouterr()
    assert main(["match", "--db", str(other), str(crop)]) == 0
    assert '"harbour-2.jpg" by Ada Artist: image content code' in capsys.readouterr().out


def test_import_rejects_image_codes_that_do_not_start_with_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole, other = "ISCC:EEAZ4PEZG7XV5WNT", "ISCC:EEARENCWPCIKXTPP"
    line = {"schema": WORK_SCHEMA, "creator": "B", "sha256": "b" * 64, "deny": ["tdm"], "iscc": whole,
            "image_codes": [{"iscc": other, "thumb": None}]}  # fmt: skip
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(line) + "\n")
    assert main(["import", "--db", str(tmp_path / "r.db"), str(source)]) == 2
    assert "must start with the work's own 'iscc'" in capsys.readouterr().err
    line["image_codes"] = [{"iscc": whole, "thumb": "AAAA"}]  # 3 bytes, not a 16×16 thumbnail
    source.write_text(json.dumps(line) + "\n")
    assert main(["import", "--db", str(tmp_path / "r.db"), str(source)]) == 2
    assert "'image_codes': bad entry" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "line 2: Expecting value"),
        ('{"schema": "consentry.work/2"}', "line 2: not a consentry.work/1 object"),
        ('{"schema": "consentry.work/1", "creator": "A", "sha256": "xyz", "deny": ["tdm"]}', "sha256"),
        (
            '{"schema": "consentry.work/1", "creator": "A", "sha256": "'
            + "a" * 64
            + '", "deny": ["training"]}',
            "unknown purpose 'training'",
        ),
        (
            '{"schema": "consentry.work/1", "creator": "A", "sha256": "' + "a" * 64 + '", "deny": ["tdm"], '
            '"iscc": "ISCC:nope"}',
            "ISCC",
        ),
        (
            '{"schema": "consentry.work/1", "creator": "A", "sha256": "' + "a" * 64 + '"}',
            "states no preference",
        ),
    ],
)
def test_import_rejects_a_bad_line_and_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, problem: str
) -> None:
    good = {"schema": WORK_SCHEMA, "creator": "B", "sha256": "b" * 64, "deny": ["tdm"]}
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(good) + "\n" + line + "\n")
    assert main(["import", "--db", str(tmp_path / "r.db"), str(source)]) == 2
    err = capsys.readouterr().err
    assert problem in err
    assert "nothing imported" in err
    assert len(err.strip().splitlines()) == 1
    with Registry.open(tmp_path / "r.db") as registry:
        assert len(registry) == 0


@pytest.mark.parametrize("content", [b"just some text\n", b"SQLite format 3\x00" + b"\x00" * 200])
def test_corrupt_database_is_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    for argv in (["list"], ["match", str(bad)], ["add", str(bad), "--creator", "A", "--deny", "tdm"]):
        assert main([argv[0], "--db", str(bad), *argv[1:]]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"consentry: error: {bad}")
        assert len(err.strip().splitlines()) == 1
    assert bad.read_bytes() == content


def test_missing_registry_is_not_created_by_readers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "--db", str(tmp_path / "none.db")]) == 2
    assert "no such registry" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


# --- check and crawl ------------------------------------------------------------------------------------


def _registry_signal(record: dict) -> dict | None:
    return next((s for s in record["signals"] if s["mechanism"] == "registry"), None)


def test_check_catches_transformed_copies_on_another_origin(db: Path, site: SiteServer) -> None:
    with Registry.open(db) as registry:
        guard = FetchGuard()
        guard.allow_urls([site.origin])  # as `check` allows the addresses of the URLs it checks
        checker = Checker(HttpSource("consentry", [], guard=guard), PolicyConfig(), registry=registry)
        for path, title in CAUGHT.items():
            record = checker.check(site.url(path)).decision.to_record()
            signal = _registry_signal(record)
            assert signal is not None, path
            assert f'"{title}" by Ada Artist' in signal["evidence"]
            assert signal["scope"] == "registry"
            assert signal["statement"] == {"ai-train": "deny"}  # near match: the allow is not counted
            assert record["action"] == "drop"
            assert [s["mechanism"] for s in record["signals"] if s["statement"]] == ["registry"]
        record = checker.check(site.url("/c/unrelated.jpg")).decision.to_record()
        assert _registry_signal(record) is None
        assert record["action"] == "keep"


def test_check_cli_registry_option(db: Path, site: SiteServer, capsys: pytest.CaptureFixture[str]) -> None:
    from consentry.crawler.cli import main as cli

    assert (
        cli(
            [
                "check",
                "--json",
                "--registry",
                str(db),
                site.url("/c/converted.webp"),
                site.url("/c/unrelated.jpg"),
            ]
        )
        == 0
    )
    copy, unrelated = json.loads(capsys.readouterr().out)
    assert copy["action"] == "drop"
    assert "harbour-2.jpg" in _registry_signal(copy)["evidence"]
    assert unrelated["action"] == "keep"
    assert _registry_signal(unrelated) is None
    text = Path(db.parent / "text.db")
    text.write_text("not a database")
    assert cli(["check", "--registry", str(text), site.url("/")]) == 2


@pytest.mark.e2e
def test_crawl_drops_registered_works_served_elsewhere(db: Path, site: SiteServer, tmp_path: Path) -> None:
    result = run_crawl([site.url("/")], tmp_path / "out", settings={"CONSENT_REGISTRY": str(db)})
    assert result.returncode == 0, result.stderr[-2000:]
    for path, title in CAUGHT.items():
        decision = result.decision(site.url(path))
        assert decision["action"] == "drop", path
        assert f'"{title}" by Ada Artist' in _registry_signal(decision)["evidence"]
    unrelated = result.decision(site.url("/c/unrelated.jpg"))
    assert unrelated["action"] == "keep"
    assert _registry_signal(unrelated) is None
    assert site.url("/c/unrelated.jpg") in result.item_urls()
    assert not {site.url(p) for p in CAUGHT if p.endswith((".jpg", ".webp", ".png"))} & result.item_urls()


def test_crawl_with_a_foreign_registry_file_is_a_usage_error(site: SiteServer, tmp_path: Path) -> None:
    bad = tmp_path / "x.db"
    bad.write_text("hello")
    result = run_crawl([site.url("/")], tmp_path / "out", settings={"CONSENT_REGISTRY": str(bad)})
    assert result.returncode == 2
    assert "CONSENT_REGISTRY" in result.stderr
    assert "not a consentry registry" in result.stderr


def test_crawl_registry_option(db: Path, site: SiteServer, tmp_path: Path) -> None:
    result = run_crawl([site.url("/")], tmp_path / "out", "--registry", str(db))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.decision(site.url("/c/converted.webp"))["action"] == "drop"


def test_registry_through_the_console_script(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from consentry.crawler.cli import main as cli

    assert cli(["registry", "list", "--db", str(db)]) == 0
    assert "harbour-0.jpg" in capsys.readouterr().out
    assert cli(["registry", "frobnicate"]) == 2


def test_audit_replays_a_registry_crawl(db: Path, site: SiteServer, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from consentry.crawler.cli import main as cli

    result = run_crawl([site.url("/")], tmp_path / "out", "--registry", str(db))
    assert result.returncode == 0, result.stderr[-2000:]
    warc = str(result.out / "crawl.warc.gz")
    assert cli(["audit", warc, "--registry", str(db)]) == 0  # the same registry reproduces every decision
    capsys.readouterr()
    assert cli(["audit", warc, "--json"]) == 1  # without it the registry signals cannot be reproduced
    mismatched = [r for r in json.loads(capsys.readouterr().out) if r["match"] is False]
    assert mismatched
    assert all("registry" in json.dumps(r["differences"]) for r in mismatched)
