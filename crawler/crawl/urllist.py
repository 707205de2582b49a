"""URL lists for `consentry crawl --urls FILE` (docs/cli.md, "URL lists"): one streamed reader per file kind.

`.txt` (one URL a line, `#` comments and blank lines skipped), `.csv`/`.tsv` (a header row; the URL in
`url_column`), `.jsonl` (one JSON object a line) and `.parquet` (pyarrow, read one row group at a time in
batches). Rows are produced lazily, so memory stays flat however long the list: lines longer than
`MAX_LINE` are skipped without being held, duplicates are detected among the last `DEDUP_WINDOW / 2` to
`DEDUP_WINDOW` distinct URLs (a bounded window; a list with duplicates further apart fetches them again), and
nothing else is kept
per row. A bad row is counted under one reason of `REASONS` and skipped, never fatal; a file that cannot be
read at all (missing, unknown extension, no such column, not a parquet file) raises `UsageError` when
opened, before the crawl starts.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urldefrag, urlsplit

from consentry.crawler.errors import UsageError

__all__ = [
    "DEDUP_WINDOW",
    "KINDS",
    "MAX_LINE",
    "REASONS",
    "ListedUrl",
    "UrlList",
    "check_url",
    "open_url_list",
]

#: The longest line (and URL) read, in bytes; longer lines are counted `too long` and skipped unread.
MAX_LINE = 64 * 1024
#: Duplicates are recognised among the last half to all of this many distinct URLs (memory stays bounded).
DEDUP_WINDOW = 100_000
#: Rows read from a parquet file per batch.
PARQUET_BATCH = 1024

#: Why a row was skipped, in the order the summary prints them.
REASONS = (
    "empty", "not a URL", "not http(s)", "duplicate", "too long", "missing column", "not JSON",
    "unreadable",
)  # fmt: skip

_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class ListedUrl:
    """One usable row: its URL (fragment removed) and the carried columns."""

    url: str
    columns: Mapping[str, Any]


def check_url(value: object) -> tuple[str, str]:
    """(url, "") for an absolute http(s) URL (fragment removed), else ("", reason)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "", "empty"
    if not isinstance(value, str):
        return "", "not a URL"
    url = value.strip()
    if len(url) > MAX_LINE:
        return "", "too long"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a bad port raises ValueError)
    except ValueError:
        return "", "not a URL"
    if not parts.scheme or any(c.isspace() for c in url):
        return "", "not a URL"
    if parts.scheme.lower() not in _SCHEMES:
        return "", "not http(s)"
    if not parts.hostname:
        return "", "not a URL"
    return urldefrag(url)[0], ""


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a carried cell (bytes and other objects become text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


class _Window:
    """Exact duplicate detection among the most recent distinct URLs: two generations of `size // 2` 8-byte
    digests each; when the newer one is full it becomes the older and the older is forgotten. A URL is
    recognised when it was seen among the last `size // 2` to `size` distinct URLs; memory never exceeds `size`
    digests (fresh sets, no deletions, so the hash tables never outgrow them)."""

    def __init__(self, size: int) -> None:
        self._generation = max(1, size // 2)
        self._newer: set[int] = set()
        self._older: set[int] = set()

    def seen(self, url: str) -> bool:
        digest = int.from_bytes(hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest())
        if digest in self._newer or digest in self._older:
            return True
        self._newer.add(digest)
        if len(self._newer) >= self._generation:
            self._older, self._newer = self._newer, set()
        return False


#: A raw row: the URL cell and the carried cells, or a reason string for a row unusable before its URL.
_Raw = tuple[object, dict[str, Any]] | str


@dataclass
class UrlList:
    """An opened URL list: iterate `rows()` once; `invalid` counts skipped rows per reason as they go."""

    path: Path
    kind: str
    url_column: str
    keep: Sequence[str] | None  # carried columns; None: every other column
    columns: Sequence[str] = ()  # the file's columns (tabular kinds)
    caption_column: str = "caption"
    read: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    dedup_window: int = DEDUP_WINDOW

    def rows(self) -> Iterator[ListedUrl]:
        """The usable rows, in file order."""
        window = _Window(self.dedup_window)
        for raw in _READERS[self.kind](self):
            self.read += 1
            if isinstance(raw, str):
                self.invalid[raw] += 1
                continue
            url, reason = check_url(raw[0])
            if not reason and window.seen(url):
                reason = "duplicate"
            if reason:
                self.invalid[reason] += 1
                continue
            yield ListedUrl(url, raw[1])

    def carried(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The columns of `row` carried into the output."""
        names = self.keep if self.keep is not None else [k for k in row if k != self.url_column]
        if self.caption_column in row and self.caption_column not in names:
            names = [*names, self.caption_column]
        return {name: _plain(row[name]) for name in names if name in row}

    def invalid_line(self) -> str:
        """`url list: N rows read; skipped: 2 duplicate, 1 not http(s)` (one line)."""
        skipped = ", ".join(f"{self.invalid[r]} {r}" for r in REASONS if self.invalid.get(r))
        return f"url list {self.path.name}: {self.read} rows read; skipped: {skipped or 'none'}"


def _lines(handle: IO[bytes], counts: Callable[[], None]) -> Iterator[bytes]:
    """The file's lines (without line ends), each at most `MAX_LINE` bytes; a longer line is read past
    in pieces, `counts()` is called for it and it is not produced."""
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = handle.readline(MAX_LINE + 1)
            counts()
            continue
        yield line.rstrip(b"\r\n")


def _read_txt(urls: UrlList) -> Iterator[_Raw]:
    with urls.path.open("rb") as handle:
        too_long: list[str] = []
        for line in _lines(handle, lambda: too_long.append("too long")):
            while too_long:
                yield too_long.pop()
            text = line.decode("utf-8", "replace").strip()
            if text and not text.startswith("#"):
                yield text, {}
        yield from too_long


def _text_lines(urls: UrlList, pending: list[str]) -> Iterator[str]:
    with urls.path.open("rb") as handle:
        for line in _lines(handle, lambda: pending.append("too long")):
            yield line.decode("utf-8", "replace") + "\n"


def _read_table(urls: UrlList) -> Iterator[_Raw]:
    pending: list[str] = []
    reader = csv.reader(_text_lines(urls, pending), delimiter="\t" if urls.kind == "tsv" else ",")
    header = next(reader, None) or []
    index = header.index(urls.url_column)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            pending.append("unreadable")
            cells = []
        while pending:
            yield pending.pop()
        if not cells:
            continue
        if index >= len(cells):
            yield "missing column"
            continue
        yield cells[index], urls.carried(dict(zip(header, cells, strict=False)))
    yield from pending


def _read_jsonl(urls: UrlList) -> Iterator[_Raw]:
    with urls.path.open("rb") as handle:
        too_long: list[str] = []
        for line in _lines(handle, lambda: too_long.append("too long")):
            while too_long:
                yield too_long.pop()
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                yield "not JSON"
                continue
            if not isinstance(row, dict):
                yield "not JSON"
            elif urls.url_column not in row:
                yield "missing column"
            else:
                yield row[urls.url_column], urls.carried(row)
        yield from too_long


def _read_parquet(urls: UrlList) -> Iterator[_Raw]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = [urls.url_column, *(c for c in urls.columns if c != urls.url_column and
                                 (urls.keep is None or c in urls.keep or c == urls.caption_column))]
    with pq.ParquetFile(urls.path) as parquet:
        for group in range(parquet.num_row_groups):
            produced = 0
            try:
                for batch in parquet.iter_batches(PARQUET_BATCH, row_groups=[group], columns=wanted):
                    for row in batch.to_pylist():
                        produced += 1
                        yield row[urls.url_column], urls.carried(row)
            except (pa.ArrowException, OSError):
                yield from ["unreadable"] * (parquet.metadata.row_group(group).num_rows - produced)


_READERS: dict[str, Callable[[UrlList], Iterator[_Raw]]] = {
    "txt": _read_txt, "csv": _read_table, "tsv": _read_table, "jsonl": _read_jsonl, "parquet": _read_parquet,
}  # fmt: skip
KINDS = tuple(_READERS)


def _table_columns(path: Path, kind: str) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline(MAX_LINE + 1).decode("utf-8", "replace")
    return next(csv.reader([first], delimiter="\t" if kind == "tsv" else ","), [])


def _jsonl_columns(path: Path, kind: str) -> list[str]:
    """The keys of the first JSON object in the file (a list whose first record has no URL is unusable)."""
    with path.open("rb") as handle:
        for line in _lines(handle, lambda: None):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                return list(row)
    return []


def _parquet_columns(path: Path, kind: str) -> list[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            "reading a parquet URL list needs pyarrow: pip install 'consentry[dataset]'"
        ) from None
    try:
        with pq.ParquetFile(path) as parquet:
            return list(parquet.schema_arrow.names)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError… for a truncated or foreign file
        raise UsageError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0][:200]})") from None


_COLUMNS: dict[str, Callable[[Path, str], list[str]]] = {
    "csv": _table_columns, "tsv": _table_columns, "jsonl": _jsonl_columns, "parquet": _parquet_columns,
}  # fmt: skip


def open_url_list(
    path: Path | str,
    *,
    url_column: str = "url",
    keep_columns: Sequence[str] | None = None,
    caption_column: str = "caption",
) -> UrlList:
    """Check that `path` is a usable URL list and return its (not yet read) `UrlList`; `UsageError` otherwise."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in _READERS:
        raise UsageError(f"--urls {path}: unknown list format {path.suffix!r} (expected one of "
                         f"{', '.join('.' + k for k in KINDS)})")
    if not path.is_file():
        raise UsageError(f"--urls {path}: no such file")
    columns: list[str] = []
    if kind in _COLUMNS:
        try:
            columns = _COLUMNS[kind](path, kind)
        except OSError as exc:
            raise UsageError(f"--urls {path}: cannot be read ({exc.strerror or exc})") from None
        missing = [c for c in (url_column, *(keep_columns or ())) if c not in columns]
        if missing:
            raise UsageError(f"--urls {path}: no column {missing[0]!r} (columns: {', '.join(columns) or 'none'})")
    elif keep_columns:
        raise UsageError(f"--keep-columns: a .txt list has no columns ({path})")
    return UrlList(path, kind, url_column, tuple(keep_columns) if keep_columns is not None else None,
                   tuple(columns), caption_column)
