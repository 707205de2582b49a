"""consentry.middlewares.adapters.registry + consentry.middlewares.adapters.fingerprint: the SQLite store, its band index, fingerprints of hostile bytes,
corrupt/foreign files, and a writer process adding works while this process reads (WAL)."""

from __future__ import annotations

import random
import sqlite3
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.registry_thresholds import encode, synthetic_image
from consentry.middlewares.adapters.bandindex import BandIndex
from consentry.middlewares.adapters.fingerprint import (
    Fingerprint,
    code_from_iscc,
    fingerprint,
    iscc_of,
    visible_text,
)
from consentry.middlewares.adapters.registry import BANDS, Registry, RegistryError, band_values, probes
from consentry.policies.model import AssetResponse
from consentry.policies.registrymatch import MAX_THRESHOLD, THRESHOLDS
from consentry.policies.vocabulary import Mechanism, Purpose, Verdict

ROOT = Path(__file__).resolve().parents[2]
PROSE = ("Consent travels with the work, not with the address it was first published at. " * 4).strip()


def _add(registry: Registry, fp: Fingerprint, title: str = "w", creator: str = "Ada") -> int:
    return registry.add(
        fp,
        creator=creator,
        title=title,
        deny=[Purpose.AI_TRAIN],
        allow=[Purpose.SEARCH],
        added="2026-01-01T00:00:00Z",
    )


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry.open(tmp_path / "works.db", create=True)
    yield reg
    reg.close()


# --- the band index -------------------------------------------------------------------------------------


def test_bands_split_the_code_in_order() -> None:
    assert band_values(0x0123_4567_89AB_CDEF) == (0x0123, 0x4567, 0x89AB, 0xCDEF)
    assert len(probes(0)) == 1 + 16 + 120  # radius 2 within a 16-bit band
    assert BANDS * (MAX_THRESHOLD // BANDS + 1) > MAX_THRESHOLD  # pigeonhole covers the largest threshold


def test_near_lookup_finds_every_code_within_threshold_among_random_codes(registry: Registry) -> None:
    rng = random.Random(7)
    with registry.batch():
        for i in range(2000):
            _add(registry, Fingerprint(f"{i:064x}", "image", rng.getrandbits(64)))
    target = rng.getrandbits(64)
    with registry.batch():
        work = _add(registry, Fingerprint("f" * 64, "image", target), title="target")
    for flips in range(THRESHOLDS["image"] + 3):
        query = target
        for bit in rng.sample(range(64), flips):
            query ^= 1 << bit
        found = {m.work_id: m for m in registry.lookup(Fingerprint("0" * 63 + "x", "image", query))}
        assert (work in found) is (flips <= THRESHOLDS["image"]), flips
        if work in found:
            assert found[work].distance == flips
            assert found[work].kind == "image"
    # same code, other media: never compared
    assert registry.lookup(Fingerprint("e" * 64, "text", target)) == []


def test_exact_and_instance_matches(registry: Registry) -> None:
    work = _add(registry, Fingerprint("a" * 64, None, None, "xmp.iid:123"))
    assert [(m.work_id, m.kind) for m in registry.lookup(Fingerprint("a" * 64))] == [(work, "sha256")]
    assert [m.kind for m in registry.lookup(Fingerprint("b" * 64, instance_id="xmp.iid:123"))] == ["c2pa"]
    assert registry.lookup(Fingerprint("b" * 64, instance_id="xmp.iid:124")) == []


def test_remove_and_list(registry: Registry) -> None:
    first = _add(registry, Fingerprint("a" * 64, "text", 5))
    second = _add(registry, Fingerprint("b" * 64, "image", (1 << 64) - 1))
    assert registry.remove([first, 99]) == [99]
    [work] = list(registry.works())
    assert work.id == second
    assert work.fingerprint.code == (1 << 64) - 1  # unsigned survives SQLite's signed 64-bit integers
    assert work.deny == (Purpose.AI_TRAIN,)
    assert len(registry) == 1


def _flipped(code: int, count: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), count):
        code ^= 1 << bit
    return code


@pytest.mark.parametrize(("widths", "threshold"), [((22, 21, 21), 8), ((16, 16, 16, 16), 10), ((32, 32), 3)])
def test_band_index_finds_exactly_the_codes_a_linear_scan_finds(widths: tuple[int, ...], threshold: int) -> None:
    rng = random.Random(sum(widths) + threshold)
    centres = [rng.getrandbits(64) for _ in range(40)]
    # clusters around a few centres, so that many codes lie within the threshold of a query
    rows = [(_flipped(rng.choice(centres), rng.randrange(threshold + 4), rng), key) for key in range(3000)]
    index = BandIndex(widths, threshold)
    index.build(rows[:2500])
    index.extend(rows[2500:])  # the second segment
    for _ in range(60):
        query = _flipped(rng.choice(centres), rng.randrange(threshold + 2), rng)
        expected = {key: (code ^ query).bit_count() for code, key in rows if (code ^ query).bit_count() <= threshold}
        assert index.near(query) == expected
    assert len(index) == 3000
    assert index.tail == 500


def test_band_index_refuses_bands_that_do_not_cover_the_code() -> None:
    with pytest.raises(ValueError, match="do not cover 64 bits"):
        BandIndex((22, 21), 8)


def test_a_reader_sees_works_removed_and_added_by_another_connection(tmp_path: Path) -> None:
    """Row ids freed by a removal are given again: the reader's in-memory index must not keep the old codes."""
    path = tmp_path / "r.db"
    rng = random.Random(3)
    with Registry.open(path, create=True) as writer:
        codes = [rng.getrandbits(64) for _ in range(6)]
        ids = [_add(writer, Fingerprint(f"{i:064x}", "image", code)) for i, code in enumerate(codes)]
        with Registry.open(path) as reader:
            assert [m.work_id for m in reader.lookup(Fingerprint("q", "image", codes[-1] ^ 0b11))] == [ids[-1]]
            with writer.batch():
                writer.remove([ids[-1]])
                replacement = rng.getrandbits(64)
                new = _add(writer, Fingerprint("f" * 64, "image", replacement), title="new")
            assert reader.lookup(Fingerprint("q", "image", codes[-1] ^ 0b11)) == []
            assert [m.work_id for m in reader.lookup(Fingerprint("q", "image", replacement ^ 0b11))] == [new]
            _add(writer, Fingerprint("e" * 64, "text", codes[0]), title="text")  # appended, no removal
            assert [m.title for m in reader.lookup(Fingerprint("q", "text", codes[0] ^ 0b1))] == ["text"]
            # the writer's own index follows its own writes (PRAGMA data_version does not show them)
            assert [m.title for m in writer.lookup(Fingerprint("q", "text", codes[0]))] == ["text"]


# --- fingerprints ---------------------------------------------------------------------------------------


def test_transformed_image_copies_stay_within_threshold() -> None:
    image = synthetic_image(11)
    original = fingerprint(encode(image, "JPEG", quality=95)).code
    copies = [
        encode(image.resize((160, 120)), "PNG"),
        encode(image, "WEBP", quality=80),
        encode(image, "JPEG", quality=40),
        encode(image.resize((640, 480)), "JPEG", quality=75),
    ]
    for body in copies:
        fp = fingerprint(body)
        assert fp.media == "image"
        assert fp.code is not None
        assert original is not None
        assert (fp.code ^ original).bit_count() <= THRESHOLDS["image"]
    other = fingerprint(encode(synthetic_image(12), "JPEG")).code
    assert other is not None
    assert (other ^ original).bit_count() > THRESHOLDS["image"]


def test_html_fingerprint_reads_visible_text_only() -> None:
    page = (
        f"<html><head><title>T</title><style>p{{}}</style></head><body><script>var a=1</script><p>{PROSE}</p>"
    )
    text = visible_text(page.encode(), html=True)
    assert "var a" not in text
    assert "Consent travels" in text
    assert fingerprint(page.encode(), "text/html").code == fingerprint(PROSE.encode(), "text/plain").code


@pytest.mark.parametrize(
    ("body", "content_type", "note"),
    [
        (b"", "image/jpeg", "cannot decode image"),
        (b"\xff\xd8\xff\xe0 truncated", "", "cannot decode image"),
        (encode(Image.new("RGB", (64, 64), "red"), "PNG"), "", "flat"),
        (encode(synthetic_image(3).resize((8, 8)), "PNG"), "", "too small"),
        (b"short text", "text/plain", "too short"),
        (b"<html><body>\x00\xff</body>", "text/html", "too short"),
        (b"%PDF-1.7 ...", "application/pdf", "unsupported"),
    ],
)
def test_hostile_or_unfit_bytes_get_no_content_code(body: bytes, content_type: str, note: str) -> None:
    fp = fingerprint(body, content_type)
    assert fp.code is None
    assert fp.media is None
    assert note in fp.note


def test_decompression_bomb_header_is_not_decoded() -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
    fp = fingerprint(bomb)
    assert fp.code is None
    assert "not decoded" in fp.note or "cannot decode" in fp.note


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(
        ["", "image/png", "image/jpeg", "text/html", "text/plain", "image/webp", "image/gif"]
    ),
)
def test_fingerprint_never_raises(body: bytes, content_type: str) -> None:
    fp = fingerprint(body, content_type)
    assert len(fp.sha256) == 64


@given(code=st.integers(min_value=0, max_value=(1 << 64) - 1), media=st.sampled_from(["image", "text"]))
def test_iscc_round_trip(code: int, media: str) -> None:
    assert code_from_iscc(iscc_of(media, code)) == (media, code)


@pytest.mark.parametrize("value", ["", "ISCC:", "ISCC:KAA2Y5NUEFYKXAZE", "not an iscc", "ISCC:EEA!!!"])
def test_bad_iscc_raises_value_error(value: str) -> None:
    with pytest.raises(ValueError, match="ISCC"):
        code_from_iscc(value)


# --- signals --------------------------------------------------------------------------------------------


def test_signals_of_a_transformed_copy_name_the_work(registry: Registry) -> None:
    image = synthetic_image(21)
    work = _add(registry, fingerprint(encode(image, "JPEG", quality=95)), title="harbour.jpg")
    copy = AssetResponse(
        "http://copy.test/h.webp",
        200,
        (("Content-Type", "image/webp"),),
        encode(image.resize((200, 150)), "WEBP", quality=70),
    )
    [signal] = registry.signals(copy)
    assert signal.mechanism is Mechanism.REGISTRY
    assert f'work {work} "harbour.jpg" by Ada' in signal.evidence
    assert dict(signal.statement) == {Purpose.AI_TRAIN: Verdict.DENY}
    unrelated = AssetResponse("http://copy.test/o.jpg", 200, (), encode(synthetic_image(22), "JPEG"))
    assert registry.signals(unrelated) == []
    assert registry.signals(AssetResponse("http://copy.test/h.webp", 404, (), copy.body)) == []


# --- bad files ------------------------------------------------------------------------------------------


def test_missing_text_and_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no such registry"):
        Registry.open(tmp_path / "absent.db")
    assert not (tmp_path / "absent.db").exists()
    text = tmp_path / "notes.db"
    text.write_text("shopping list\n" * 100)
    with pytest.raises(RegistryError, match="not a consentry registry"):
        Registry.open(text, create=True)
    assert text.read_text().startswith("shopping list")  # untouched
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(RegistryError, match=r"not a consentry registry \(tables: photos\)"):
        Registry.open(foreign, create=True)
    with pytest.raises(RegistryError, match="directory"):
        Registry.open(tmp_path, create=True)


def test_new_registry_is_wal(tmp_path: Path) -> None:
    Registry.open(tmp_path / "r.db", create=True).close()
    with sqlite3.connect(tmp_path / "r.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


_WRITER = """
import sys
from consentry.middlewares.adapters.fingerprint import Fingerprint
from consentry.middlewares.adapters.registry import Registry
from consentry.policies.vocabulary import Purpose
with Registry.open(sys.argv[1], create=True) as registry:
    for batch in range(20):
        with registry.batch():
            for i in range(25):
                n = batch * 25 + i
                registry.add(Fingerprint(f"{n:064x}", "image", n * 2654435761 % (1 << 64)), creator="w",
                             title=str(n), deny=[Purpose.TDM], allow=[], added="2026-01-01T00:00:00Z")
"""


def test_reader_loses_nothing_while_another_process_adds(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Registry.open(path, create=True).close()
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_WRITER), str(path)], cwd=ROOT)
    seen: list[int] = []
    deadline = time.monotonic() + 60
    with Registry.open(path) as reader:
        while (writer.poll() is None or not seen or seen[-1] < 500) and time.monotonic() < deadline:
            count = len(reader)
            assert not seen or count >= seen[-1]
            assert count % 25 == 0  # whole batches only: never a half-committed one
            if count:
                n = count - 1  # the newest committed work is found by exact and by near lookup
                assert [m.work_id for m in reader.lookup(Fingerprint(f"{n:064x}"))] != []
                near = reader.lookup(Fingerprint("x", "image", (n * 2654435761 % (1 << 64)) ^ 0b101))
                assert any(m.title == str(n) and m.distance == 2 for m in near)
            seen.append(count)
            if writer.poll() is not None and count < 500:
                assert writer.returncode == 0
            time.sleep(0.001)
    assert writer.wait(timeout=60) == 0
    assert seen[-1] == 500
    assert len(set(seen)) > 2  # the reader did run while the writer wrote


def test_a_registry_that_cannot_be_read_gives_an_unverifiable_signal(tmp_path: Path) -> None:
    registry = Registry.open(tmp_path / "r.db", create=True)
    registry.close()  # every later query fails: a stand-in for an I/O error mid-crawl
    asset = AssetResponse("http://copy.test/a.jpg", 200, (), encode(synthetic_image(5), "JPEG"))
    [signal] = registry.signals(asset)
    assert signal.statement == {}
    assert [t.value for t in signal.tags] == ["unverifiable"]
    assert "registry lookup failed" in signal.evidence
