"""Bad URL lists: every invalid-row reason counted and the row skipped (never fatal); an unusable file is a
one-line error and exit 2 before any crawl (`consentry.crawler.crawl.urllist`, `consentry crawl --urls`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from consentry.crawler.cli import main
from consentry.crawler.crawl.urllist import DEDUP_WINDOW, MAX_LINE, UrlList, open_url_list
from tests.crawler._helpers import ROOT

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

GOOD = "http://127.0.0.1:9/a.png"
#: One bad row per reason, as a (url cell, reason) pair usable in every tabular format.
BAD_CELLS = [
    ("", "empty"),
    ("no scheme/x.png", "not a URL"),
    ("http://", "not a URL"),
    ("http://[::1/x", "not a URL"),
    ("http://h:99999/x", "not a URL"),
    ("http://exa mple.org/", "not a URL"),
    ("ftp://example.org/x", "not http(s)"),
    ("javascript:alert(1)", "not http(s)"),
    (GOOD, "duplicate"),
    (GOOD + "#fragment", "duplicate"),
]


def _counts(urls: UrlList) -> tuple[list[str], dict[str, int]]:
    return [row.url for row in urls.rows()], dict(urls.invalid)


def _expected() -> dict[str, int]:
    expected: dict[str, int] = {}
    for _, reason in BAD_CELLS:
        expected[reason] = expected.get(reason, 0) + 1
    return expected


def test_txt_skips_comments_and_blank_lines_and_counts_every_bad_line(tmp_path: Path) -> None:
    lines = [GOOD, "# a comment", "", "   ", *(cell for cell, _ in BAD_CELLS if cell),
             "http://" + "x" * (MAX_LINE + 10), "https://127.0.0.1:9/b.png  "]
    path = tmp_path / "list.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    urls, invalid = _counts(open_url_list(path))
    assert urls == [GOOD, "https://127.0.0.1:9/b.png"]
    expected = {k: v for k, v in _expected().items() if k != "empty"}
    assert invalid == {**expected, "too long": 1}


def test_a_gigantic_line_is_skipped_without_being_held(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as out:
        out.write(b"http://h/" + b"a" * (50 * MAX_LINE) + b"\n" + GOOD.encode() + b"\n")
    urls = open_url_list(path)
    assert _counts(urls) == ([GOOD], {"too long": 1})
    assert "1 too long" in urls.invalid_line()


@pytest.mark.parametrize("kind", ["csv", "tsv"])
def test_csv_and_tsv_count_each_reason_and_carry_columns(tmp_path: Path, kind: str) -> None:
    sep = "\t" if kind == "tsv" else ","
    rows = [f"id{sep}link{sep}caption", f"1{sep}{GOOD}{sep}a cat"]
    rows += [f"{n}{sep}{cell}{sep}c{n}" for n, (cell, _) in enumerate(BAD_CELLS, start=2)]
    rows += ["99"]  # a short row: no URL cell
    rows += [f"100{sep}{'http://h/' + 'x' * (MAX_LINE + 1)}{sep}big"]
    path = tmp_path / f"list.{kind}"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    listed = open_url_list(path, url_column="link")
    got = list(listed.rows())
    assert [(r.url, dict(r.columns)) for r in got] == [(GOOD, {"id": "1", "caption": "a cat"})]
    assert dict(listed.invalid) == {**_expected(), "missing column": 1, "too long": 1}
    assert listed.read == 1 + len(BAD_CELLS) + 2


def test_keep_columns_carries_only_those_and_the_caption(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(f"url,id,caption,secret\n{GOOD},7,a dog,x\n", encoding="utf-8")
    (row,) = open_url_list(path, keep_columns=["id"]).rows()
    assert dict(row.columns) == {"id": "7", "caption": "a dog"}


def test_jsonl_counts_bad_json_missing_columns_and_non_strings(tmp_path: Path) -> None:
    lines = [json.dumps({"url": GOOD, "caption": "c", "n": 1}), "{not json", json.dumps([GOOD]),
             json.dumps({"href": GOOD}), json.dumps({"url": 42}), json.dumps({"url": None})]
    lines += [json.dumps({"url": cell}) for cell, _ in BAD_CELLS]
    path = tmp_path / "list.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    listed = open_url_list(path)
    got = list(listed.rows())
    assert [(r.url, dict(r.columns)) for r in got] == [(GOOD, {"caption": "c", "n": 1})]
    expected = _expected()
    expected["empty"] += 1  # null
    expected["not a URL"] += 1  # 42
    assert dict(listed.invalid) == {**expected, "not JSON": 2, "missing column": 1}


def test_parquet_counts_each_reason_and_reads_row_group_by_row_group(tmp_path: Path) -> None:
    cells = [GOOD, None, *(cell for cell, _ in BAD_CELLS), "https://127.0.0.1:9/z.png"]
    path = tmp_path / "list.parquet"
    pq.write_table(pa.table({"url": cells, "caption": [f"c{i}" for i in range(len(cells))]}), path,
                   row_group_size=3)
    listed = open_url_list(path)
    got = list(listed.rows())
    assert [r.url for r in got] == [GOOD, "https://127.0.0.1:9/z.png"]
    assert dict(got[1].columns) == {"caption": f"c{len(cells) - 1}"}
    expected = _expected()
    expected["empty"] += 1
    assert dict(listed.invalid) == expected


def test_duplicates_are_found_within_the_window_only(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("".join(f"http://h/{c}\n" for c in "abcdeae"), encoding="utf-8")
    listed = open_url_list(path)
    listed.dedup_window = 4  # remembers the last 2 to 4 distinct URLs
    assert [r.url for r in listed.rows()] == [f"http://h/{c}" for c in "abcdea"]
    assert dict(listed.invalid) == {"duplicate": 1}
    assert DEDUP_WINDOW >= 100_000


def _truncated_parquet(tmp_path: Path) -> Path:
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.table({"url": [GOOD] * 100}), whole)
    data = whole.read_bytes()
    path = tmp_path / "cut.parquet"
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda d: d / "absent.txt", [], "no such file"),
        (lambda d: _write(d / "list.xlsx", "url\n"), [], "unknown list format '.xlsx'"),
        (lambda d: _write(d / "list.csv", "link,caption\nhttp://h/,c\n"), [], "no column 'url' (columns: link, caption)"),
        (lambda d: _write(d / "list.tsv", "url\tcaption\n"), ["--url-column", "href"], "no column 'href'"),
        (lambda d: _write(d / "list.jsonl", '{"href": "http://h/"}\n'), [], "no column 'url'"),
        (lambda d: _write(d / "list.csv", "url\nhttp://h/\n"), ["--keep-columns", "caption"], "no column 'caption'"),
        (lambda d: _write(d / "list.txt", "http://h/\n"), ["--keep-columns", "a"], "a .txt list has no columns"),
        (_truncated_parquet, [], "not a readable parquet file"),
        (lambda d: _write(d / "list.parquet", "url\nhttp://h/\n"), [], "not a readable parquet file"),
    ],
)
def test_an_unusable_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 make: object, args: list[str], message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    code = main(["crawl", "--urls", str(path), "-o", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://h/", "--urls", "LIST"], "not both"),
        ([], "nothing to crawl"),
        (["--urls", "LIST", "--shard-size", "0"], "--shard-size must be 1 or more"),
    ],
)
def test_conflicting_options_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     args: list[str], message: str) -> None:
    listed = _write(tmp_path / "l.txt", "http://h/\n")
    code = main(["crawl", *(str(listed) if a == "LIST" else a for a in args), "-o", str(tmp_path / "out")])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--dataset", "webdataset"], []])
def test_without_pyarrow_the_error_names_the_dataset_extra(tmp_path: Path, args: list[str]) -> None:
    listed = tmp_path / ("l.txt" if args else "l.parquet")
    listed.write_text("http://h/\n", encoding="utf-8")
    code = ("import sys; sys.modules['pyarrow'] = None; from consentry.crawler.cli import main; "
            "raise SystemExit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "crawl", "--urls", str(listed), "-o", str(tmp_path / "o"),
                           *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"consentry: error: {'--dataset webdataset' if args else 'a parquet URL list'} needs pyarrow: "
        "pip install 'consentry[dataset]'"
    ]


@pytest.mark.parametrize("kind", ["webdataset", "parquet"])
def test_carried_columns_of_mixed_types_still_make_a_readable_index(tmp_path: Path, kind: str) -> None:
    import consentry.crawler.crawl.dataset as dataset

    writer = dataset.DatasetWriter(tmp_path, kind, shard_size=10)
    writer.open_spider()
    values = [None, 5, "x", [1, 2], {"a": 1}]
    for n, value in enumerate(values):
        item = {"url": f"http://h/{n}.bin", "status": 200, "content_type": "application/x-thing",
                "columns": {"id": value, "caption": f"c{n}"}, "_body": bytes([n]) * 3,
                "consent": {"action": "keep", "purposes": {"ai-train": "unknown"}, "mechanisms": []}}
        assert "_body" not in writer.process_item(item)
    writer.close_spider()
    rows = pq.read_table(tmp_path / "00000.parquet").to_pylist()
    assert [r["id"] for r in rows] == [None, "5", "x", "[1, 2]", '{"a": 1}']
    assert [r["caption"] for r in rows] == [f"c{n}" for n in range(5)]
    assert [r["key"] for r in rows] == [f"00000{n:04d}" for n in range(5)]
    assert all(r["ext"] == "bin" and r["width"] is None for r in rows)
    if kind == "parquet":
        assert [r["bytes"] for r in rows] == [bytes([n]) * 3 for n in range(5)]
    else:
        assert (tmp_path / "00000.tar").exists()
