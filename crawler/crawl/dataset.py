"""`consentry crawl --dataset webdataset|parquet`: the kept assets as training shards in img2dataset's layout.

Scrapy item pipeline (installed by `consentry.crawler.crawl.runner` when a dataset is asked for; docs/cli.md,
"Dataset output"). Every item reaching it is a kept asset (in `--on-deny tag` mode, a tagged one too, its
verdicts riding along). Shard N of DIR/dataset/ is, in `webdataset` mode, `NNNNN.tar` holding `KEY.<ext>` (the
body), `KEY.txt` (the caption, when the list has a caption column) and `KEY.json` (the metadata), plus
`NNNNN.parquet`, the index: one row per sample with the same metadata. In `parquet` mode the shard is
`NNNNN.parquet` alone, the body in its `bytes` column. KEY is the shard number (5 digits) followed by the
sample's index in the shard, as img2dataset writes it.

A shard is written under a temporary name (`.NNNNN.tar.partial`) and renamed when complete (tar first, then
its index), so a crawl killed mid-shard leaves complete shards or none — never a torn one under a shard's
name. Samples are streamed into the open shard; memory holds one shard's index rows, not its bodies
(parquet mode buffers at most `PARQUET_ROW_GROUP` bodies).

In a distributed crawl (`consentry.middlewares.cluster`) a kept asset's lease is acknowledged only once its
shard is published, so a worker killed with a shard open leaves those URLs to be decided (and written) again by
another worker: every kept asset is in a published shard (in two only when its URL was decided twice, e.g. the
worker died between publishing a shard and acknowledging its leases; docs/distributed.md). When the run's queue
runs dry the worker publishes its open shard early (`ClusterRun.flushers`), so no lease waits for a shard that
would never fill.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import os
import posixpath
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured

from consentry.crawler.spiders.assets import BODY_FIELD, LEASE_FIELD
from consentry.policies.model import media_type

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

__all__ = [
    "CAPTION_COLUMN_SETTING",
    "DATASET_FORMATS",
    "DATASET_FORMAT_SETTING",
    "DATASET_PATH_SETTING",
    "PARQUET_ROW_GROUP",
    "SHARD_SIZE_SETTING",
    "DatasetWriter",
    "dataset_settings",
    "extension_of",
    "image_size",
]

CAPTION_COLUMN_SETTING = "CONSENTRY_CAPTION_COLUMN"
DATASET_FORMAT_SETTING = "CONSENTRY_DATASET_FORMAT"
DATASET_PATH_SETTING = "CONSENTRY_DATASET_PATH"
SHARD_SIZE_SETTING = "CONSENTRY_SHARD_SIZE"
DATASET_FORMATS = ("webdataset", "parquet")
#: Parquet mode: bodies buffered before a row group is written.
PARQUET_ROW_GROUP = 256

_EXTENSIONS = {"image/jpeg": "jpg", "image/pjpeg": "jpg", "text/plain": "txt", "image/svg+xml": "svg",
               "audio/mpeg": "mp3", "application/octet-stream": "bin"}  # fmt: skip
#: The index's own columns (besides `consent_*`), never converted.
_INDEX_FIELDS = frozenset({"key", "url", "final_url", "status", "content_type", "length", "sha256", "width",
                           "height", "ext", "bytes"})  # fmt: skip
_INTEGER_FIELDS = frozenset({"status", "length", "width", "height"})
#: Names a sample's metadata uses; a carried column with one of these names is stored as `column_<name>`.
_OWN_FIELDS = frozenset({"key", "url", "final_url", "status", "content_type", "length", "sha256", "width",
                         "height", "ext", "consent", "bytes"})  # fmt: skip


def dataset_settings(settings: Any, directory: Path, kind: str, shard_size: int, caption_column: str) -> None:
    """Install `DatasetWriter` (writing `kind` shards of `shard_size` samples to `directory`) in `settings`."""
    pipelines = dict(settings.getdict("ITEM_PIPELINES"))
    pipelines[DatasetWriter] = 800
    settings.set("ITEM_PIPELINES", pipelines, priority="project")
    settings.set(DATASET_PATH_SETTING, str(directory), priority="project")
    settings.set(DATASET_FORMAT_SETTING, kind, priority="project")
    settings.set(SHARD_SIZE_SETTING, shard_size, priority="project")
    settings.set(CAPTION_COLUMN_SETTING, caption_column, priority="project")


def extension_of(content_type: str, url: str) -> str:
    """The sample's file extension: from the media type, else the URL's path, else `bin`."""
    media = media_type(content_type)
    known = _EXTENSIONS.get(media) or (mimetypes.guess_extension(media) or "").lstrip(".")
    if known:
        return known
    suffix = posixpath.splitext(urlsplit(url).path)[1].lstrip(".").lower()
    return suffix if suffix.isalnum() and len(suffix) <= 5 else "bin"


def image_size(content_type: str, body: bytes) -> tuple[int | None, int | None]:
    """(width, height) of an image read from its header by Pillow; (None, None) for anything else or a body
    Pillow cannot read (remote content never raises)."""
    if not content_type.lower().startswith("image/"):
        return None, None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(body)) as image:
            width, height = image.size
    except Exception:  # a truncated, foreign or hostile image: no size
        return None, None
    return int(width), int(height)


def _metadata(item: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    content_type = str(item.get("content_type") or "")
    url = str(item.get("listed_url") or item.get("url") or "")
    width, height = image_size(content_type, body)
    consent = item.get("consent") or {}
    record: dict[str, Any] = {
        "key": key, "url": url, "final_url": item.get("url"), "status": item.get("status"),
        "content_type": content_type, "length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
        "width": width, "height": height, "ext": extension_of(content_type, str(item.get("url") or url)),
        "consent": {"action": consent.get("action"), "purposes": consent.get("purposes") or {},
                    "deciding": item.get("deciding") or [], "mechanisms": consent.get("mechanisms") or [],
                    "reason": consent.get("reason")},
    }  # fmt: skip
    for name, value in (item.get("columns") or {}).items():
        record[f"column_{name}" if name in _OWN_FIELDS else name] = value
    return record


def _index_row(record: dict[str, Any]) -> dict[str, Any]:
    """The parquet index's flat row: `consent_action`, `consent_<purpose>`, `consent_deciding`, …"""
    row = {k: v for k, v in record.items() if k != "consent"}
    consent = record["consent"]
    row["consent_action"] = consent["action"]
    row["consent_reason"] = consent["reason"]
    row["consent_deciding"] = list(consent["deciding"])
    row["consent_mechanisms"] = list(consent["mechanisms"])
    for purpose, verdict in sorted(consent["purposes"].items()):
        row[f"consent_{purpose}"] = verdict
    return row


def _carried_as(rows: list[dict[str, Any]], convert: Any) -> list[dict[str, Any]]:
    return [{k: v if k in _INDEX_FIELDS or k.startswith("consent_") else convert(v) for k, v in row.items()}
            for row in rows]


def _json_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _typed(field: Any) -> Any:
    """A column with no value yet gets the type its values will have (int64 sizes, lists of text, else text)."""
    import pyarrow as pa

    if pa.types.is_null(field.type):
        return field.with_type(pa.int64() if field.name in _INTEGER_FIELDS else pa.string())
    if pa.types.is_list(field.type) and pa.types.is_null(field.type.value_type):
        return field.with_type(pa.list_(pa.string()))
    return field


def _table(rows: list[dict[str, Any]], schema: Any = None) -> Any:
    """The rows as an Arrow table (of `schema` when given). Carried columns whose values do not fit one type
    (an id that is a number here and text there) are stored as JSON text, and where even that does not fit
    an earlier row group's schema, as nulls; a column with no value yet is typed string."""
    import pyarrow as pa

    for attempt in (rows, _carried_as(rows, _json_text), _carried_as(rows, lambda _: None)):
        try:
            table = pa.Table.from_pylist(attempt, schema=schema)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            continue
        return table if schema is not None else table.cast(pa.schema([_typed(f) for f in table.schema]))
    raise ValueError("dataset rows cannot be stored")  # not reached: a null fits every type


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(_table(rows), path)


def _publish(partial: Path, final: Path) -> None:
    """Flush `partial` to disk and give it its shard name (an atomic rename)."""
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    partial.replace(final)


class _Shard:
    """One open shard: samples go to its temporary file(s) until `close()` renames them."""

    def __init__(self, directory: Path, number: int, kind: str) -> None:
        self.directory = directory
        self.name = f"{number:05d}"
        self.kind = kind
        self.rows: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._writer: Any = None
        self._tar: tarfile.TarFile | None = None
        if kind == "webdataset":
            self._tar = tarfile.open(self._partial(".tar"), "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def _partial(self, suffix: str) -> Path:
        return self.directory / f".{self.name}{suffix}.partial"

    def add(self, record: dict[str, Any], body: bytes, caption: str | None) -> None:
        """Append one sample."""
        row = _index_row(record)
        if self._tar is not None:
            members = [(record["ext"], body), ("json", json.dumps(record, ensure_ascii=False, default=str).encode())]
            if caption is not None:
                members.append(("txt", caption.encode("utf-8")))
            for ext, data in members:
                info = tarfile.TarInfo(f"{record['key']}.{ext}")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                self._tar.addfile(info, io.BytesIO(data))
            self.rows.append(row)
            return
        self._pending.append({**row, "bytes": body})
        self.rows.append(row)
        if len(self._pending) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            table = _table(self._pending)
            self._writer = pq.ParquetWriter(self._partial(".parquet"), table.schema)
        else:
            table = _table([{name: row.get(name) for name in self._writer.schema.names} for row in self._pending],
                           self._writer.schema)
        self._writer.write_table(table)
        self._pending = []

    def close(self) -> None:
        """Finish the shard and give its files their names."""
        if self._tar is not None:
            self._tar.close()
            _publish(self._partial(".tar"), self.directory / f"{self.name}.tar")
            _write_parquet(self.rows, self._partial(".parquet"))
        else:
            if self._pending:
                self._flush()
            if self._writer is not None:
                self._writer.close()
        if self._partial(".parquet").exists():
            _publish(self._partial(".parquet"), self.directory / f"{self.name}.parquet")


class DatasetWriter:
    """Item pipeline: every item with a body becomes one sample of the open shard."""

    def __init__(self, directory: Path, kind: str, shard_size: int, *, caption_column: str = "caption",
                 crawler: Crawler | None = None) -> None:
        self.directory = directory
        self.caption_column = caption_column
        self.crawler = crawler
        self.kind = kind
        self.shard_size = shard_size
        self.shards = 0
        self.samples = 0
        self._shard: _Shard | None = None
        self._digits = max(4, len(str(shard_size - 1)))
        self._leases: list[Any] = []  # a distributed crawl's leases of the open shard's samples
        self._run: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` without `CONSENTRY_DATASET_PATH`."""
        path = crawler.settings.get(DATASET_PATH_SETTING)
        if not path:
            raise NotConfigured(f"{DATASET_PATH_SETTING} is not set")
        kind = crawler.settings.get(DATASET_FORMAT_SETTING, "webdataset")
        return cls(Path(path), kind, crawler.settings.getint(SHARD_SIZE_SETTING, 10_000),
                   caption_column=crawler.settings.get(CAPTION_COLUMN_SETTING) or "caption", crawler=crawler)

    def open_spider(self, spider: Any = None) -> None:
        """Start with an empty DIR/dataset/ (shards of an earlier crawl there are removed)."""
        if self.crawler is not None and self.crawler.settings.get("CONSENT_REDIS_URL"):
            from consentry.middlewares.cluster import run_of

            self._run = run_of(self.crawler)
            if self._run is not None:
                self._run.flushers.append(self._close_shard)
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in [*self.directory.glob("[0-9]*.tar"), *self.directory.glob("[0-9]*.parquet"),
                    *self.directory.glob(".*.partial")]:
            old.unlink()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        """Write the sample (the body is taken out of the item, which goes on to items.jsonl)."""
        if not isinstance(item, dict):
            return item
        lease = item.pop(LEASE_FIELD, None)
        if BODY_FIELD not in item:
            if lease is not None and self._run is not None:
                self._run.acknowledge(lease)
            return item
        body = item.pop(BODY_FIELD)
        if lease is not None:
            self._leases.append(lease)
        if self._shard is None:
            self._shard = _Shard(self.directory, self.shards, self.kind)
        key = f"{self.shards:05d}{len(self._shard.rows):0{self._digits}d}"
        columns = item.get("columns") or {}
        caption = columns.get(self.caption_column)
        record = _metadata(item, key, body)
        self._shard.add(record, body, None if caption is None else str(caption))
        item["dataset_key"] = key
        self.samples += 1
        if len(self._shard.rows) >= self.shard_size:
            self._close_shard()
        return item

    def _close_shard(self) -> None:
        """Publish the open shard; in a distributed crawl, then acknowledge its samples' leases."""
        if self._shard is not None:
            self._shard.close()
            self._shard = None
            self.shards += 1
        leases, self._leases = self._leases, []
        if self._run is not None:
            self._run.acknowledge_all(leases)

    def close_spider(self, spider: Any = None) -> None:
        """Finish the open shard."""
        self._close_shard()
        stats = self.crawler.stats if self.crawler is not None else None
        if stats is not None:
            stats.set_value("consent/dataset/samples", self.samples)
            stats.set_value("consent/dataset/shards", self.shards)
