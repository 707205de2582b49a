"""`consentry crawl --urls FILE --dataset …`: a parquet URL list with captions in, img2dataset-style shards out,
read back by the `webdataset` library and pyarrow (the real engine, every consent component, a loopback site).

The list has `ROWS` rows (1,000 keeps the suite fast; `bench/bench_urls.py --dataset-rows 10000` runs the same
crawl at 10,000). A tenth of the assets is withheld by an `X-Robots-Tag: noai` header, a tenth by ai.txt, a
tenth is disallowed by robots.txt: none of them may appear in a shard; every other one exactly once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
wds = pytest.importorskip("webdataset")

from PIL import Image

from consentry.crawler.demo.server import Route, SiteServer
from tests.crawler._helpers import CrawlResult, run_crawl

pytestmark = pytest.mark.e2e

ROWS = 1000
SHARD = 300
_LOOPBACK = {"CONSENT_ALLOW_PRIVATE_ADDRESSES": True, "CONCURRENT_REQUESTS": 32,
             "CONCURRENT_REQUESTS_PER_DOMAIN": 32}


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def _path(i: int) -> str:
    """Assets by kind: i % 10 == 3 header-withheld, 7 ai.txt-withheld, 9 robots-disallowed, else kept."""
    return {7: f"/w/{i}.png", 9: f"/private/{i}.png"}.get(i % 10, f"/img/{i}.png")


def _kept(i: int) -> bool:
    return i % 10 not in (3, 7, 9)


def _routes() -> dict[str, Route]:
    routes = {
        "/robots.txt": Route.text("User-agent: *\nDisallow: /private/\n"),
        "/ai.txt": Route.text("User-Agent: *\nDisallow: /w/\n"),
    }
    for i in range(ROWS):
        extra = (("X-Robots-Tag", "noai"),) if i % 10 == 3 else ()
        routes[_path(i)] = Route(200, (("Content-Type", "image/png"), *extra), _png(1 + i % 5, 2 + i % 3))
    return routes


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    with SiteServer(_routes()) as server:
        yield server


def _list(site: SiteServer, path: Path) -> Path:
    table = pa.table({
        "url": [site.url(_path(i)) for i in range(ROWS)],
        "caption": [f"caption number {i}" for i in range(ROWS)],
        "id": list(range(ROWS)),
    })  # fmt: skip
    pq.write_table(table, path, row_group_size=128)
    return path


@pytest.fixture(scope="module")
def crawled(site: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    base = tmp_path_factory.mktemp("urllist")
    listed = _list(site, base / "list.parquet")
    result = run_crawl([], base / "out", "--urls", str(listed), "--dataset", "webdataset",
                       "--shard-size", str(SHARD), settings=_LOOPBACK, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _samples(out: Path) -> list[dict[str, object]]:
    shards = sorted(str(p) for p in (out / "dataset").glob("*.tar"))
    return list(wds.WebDataset(shards, shardshuffle=False, empty_check=False))


def test_webdataset_reads_every_kept_asset_exactly_once_with_its_caption(
        site: SiteServer, crawled: CrawlResult) -> None:
    samples = _samples(crawled.out)
    metadata = [json.loads(s["json"]) for s in samples]  # type: ignore[arg-type]
    urls = [m["url"] for m in metadata]
    expected = {site.url(_path(i)): i for i in range(ROWS) if _kept(i)}
    assert sorted(urls) == sorted(expected)
    for sample, meta in zip(samples, metadata, strict=True):
        i = expected[meta["url"]]
        assert sample["txt"] == f"caption number {i}".encode()
        assert meta["id"] == i
        assert meta["key"] == sample["__key__"]
        assert (meta["width"], meta["height"]) == (1 + i % 5, 2 + i % 3)
        assert Image.open(io.BytesIO(sample["png"])).size == (1 + i % 5, 2 + i % 3)  # type: ignore[arg-type]
        assert meta["consent"]["action"] == "keep"
        assert meta["consent"]["purposes"]["ai-train"] in ("allow", "unknown")


def test_no_withheld_asset_is_in_a_shard_and_the_shards_are_full(site: SiteServer, crawled: CrawlResult) -> None:
    tars = sorted((crawled.out / "dataset").glob("*.tar"))
    kept = sum(_kept(i) for i in range(ROWS))
    assert [t.name for t in tars] == [f"{n:05d}.tar" for n in range(-(-kept // SHARD))]
    urls = {json.loads(s["json"])["url"] for s in _samples(crawled.out)}  # type: ignore[arg-type]
    assert not [u for u in urls if "/w/" in u or "/private/" in u]
    assert not any(i % 10 == 3 and site.url(_path(i)) in urls for i in range(ROWS))
    withheld = {d["url"]: d["action"] for d in crawled.decisions if "/w/" in d["url"] or "/private/" in d["url"]}
    assert set(withheld.values()) == {"drop", "skip"}
    assert not list((crawled.out / "dataset").glob(".*.partial"))


def test_pyarrow_reads_the_parquet_index_with_the_consent_columns(crawled: CrawlResult) -> None:
    index = pa.concat_tables([pq.read_table(p) for p in sorted((crawled.out / "dataset").glob("*.parquet"))])
    tars = _samples(crawled.out)
    assert sorted(index.column("key").to_pylist()) == sorted(s["__key__"] for s in tars)
    assert set(index.column("consent_action").to_pylist()) == {"keep"}
    assert "consent_ai-train" in index.column_names
    rows = index.to_pylist()
    assert all(r["caption"] == f"caption number {r['id']}" for r in rows)
    assert all(len(r["sha256"]) == 64 and r["status"] == 200 for r in rows)


def test_items_and_decisions_are_still_written_without_bodies(crawled: CrawlResult) -> None:
    items = crawled.items
    assert len(items) == sum(_kept(i) for i in range(ROWS))
    assert all("_body" not in item and item["dataset_key"] for item in items)
    assert all(item["columns"]["caption"] == f"caption number {item['columns']['id']}" for item in items)
    assert len(crawled.decisions) == ROWS
    assert "url list list.parquet: 1000 rows read; skipped: none" in crawled.stdout  # the summary


def test_a_killed_crawl_leaves_only_complete_shards(tmp_path: Path) -> None:
    """SIGKILL while shards are being written: every shard under its name is whole; the open one is absent."""
    import signal
    import subprocess
    import tarfile
    import time

    from tests.crawler._helpers import ROOT, crawl_command
    from tests.crawler._loopback import serving

    body = _png(2, 2)

    def answer(host: str, path: str, port: int) -> tuple[int, list[tuple[str, str]], bytes]:
        if path == "/robots.txt":
            return 200, [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"
        time.sleep(0.02)
        return 200, [("Content-Type", "image/png")], body

    with serving(answer) as server:
        listed = tmp_path / "list.txt"
        listed.write_text("".join(f"http://127.0.0.1:{server.port}/i/{i}.png\n" for i in range(5000)))
        out = tmp_path / "out"
        command = crawl_command([], out, "--urls", str(listed), "--dataset", "webdataset", "--shard-size", "40",
                                settings={**_LOOPBACK, "CONCURRENT_REQUESTS_PER_DOMAIN": 8})
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while not (out / "dataset" / "00001.tar").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            assert proc.poll() is None, "the crawl ended before it could be killed"
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
    shards = sorted((out / "dataset").glob("*.tar"))
    assert len(shards) >= 2
    for shard in shards:
        with tarfile.open(shard) as tar:
            names = tar.getnames()
        assert len(names) == 40 * 2, shard  # KEY.png + KEY.json for each of the 40 samples (no caption column)
    assert len(list((out / "dataset").glob(".*.tar.partial"))) <= 1  # the shard being written when killed


def test_parquet_shards_in_tag_mode_carry_the_bodies_and_the_deny_verdicts(site: SiteServer, tmp_path: Path) -> None:
    listed = tmp_path / "list.jsonl"
    listed.write_text("".join(json.dumps({"url": site.url(_path(i)), "text": f"t{i}", "n": i}) + "\n"
                              for i in range(20)))
    result = run_crawl([], tmp_path / "out", "--urls", str(listed), "--dataset", "parquet", "--shard-size", "7",
                       "--on-deny", "tag", "--caption-column", "text", "--keep-columns", "n",
                       settings=_LOOPBACK, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    shards = sorted((result.out / "dataset").glob("*.parquet"))
    assert [s.name for s in shards] == ["00000.parquet", "00001.parquet", "00002.parquet"]
    assert not list((result.out / "dataset").glob("*.tar"))
    rows = pa.concat_tables([pq.read_table(s) for s in shards]).to_pylist()
    by_n = {r["n"]: r for r in rows}
    assert sorted(by_n) == [i for i in range(20) if i % 10 != 9]  # robots.txt-disallowed: never fetched
    for n, row in by_n.items():
        assert Image.open(io.BytesIO(row["bytes"])).size == (1 + n % 5, 2 + n % 3)
        assert row["text"] == f"t{n}"
        assert row["consent_action"] == "keep"
        denied = n % 10 in (3, 7)
        assert (row["consent_ai-train"] == "deny") is denied, row
    assert by_n[3]["consent_deciding"] == by_n[13]["consent_deciding"] == ["x-robots-tag"]
    assert by_n[7]["consent_deciding"] == ["ai-txt"]


def test_the_list_is_pulled_lazily_not_loaded_into_the_scheduler(tmp_path: Path) -> None:
    """A crawl stopped after 100 items has read a few batches of a 20,000-row list, not the whole list (an eager
    start() would hand all 20,000 requests to Scrapy's scheduler at once: memory growing with the list)."""
    import re

    from tests.crawler._loopback import serving

    body = _png(1, 1)

    def answer(host: str, path: str, port: int) -> tuple[int, list[tuple[str, str]], bytes]:
        return 200, [("Content-Type", "text/plain" if path == "/robots.txt" else "image/png")], body

    with serving(answer) as server:
        listed = tmp_path / "list.txt"
        listed.write_text("".join(f"http://127.0.0.1:{server.port}/i/{i}.png\n" for i in range(20_000)))
        result = run_crawl([], tmp_path / "out", "--urls", str(listed),
                           settings={**_LOOPBACK, "CLOSESPIDER_ITEMCOUNT": 100}, timeout=120)
    assert result.returncode == 1, result.stderr[-3000:]  # stopped early: a finding (docs/cli.md "Exit codes")
    assert "the crawl stopped early (closespider_itemcount)" in result.stderr
    read = int(re.search(r"url list list.txt: (\d+) rows read", result.stdout)[1])  # type: ignore[index]
    assert 100 <= read <= 100 + 4 * 256, result.stdout[-2000:]
