"""The first pass of `consentry audit`: an on-disk index of the documents every decision may need (docs/cli.md).

Not pure (it reads WARCs and writes SQLite). Every input is read once; the index keeps, across all of them,
every capture of a site file (robots.txt RFC 9309 §2.3, /ai.txt, /.well-known/tdmrep.json W3C TDMRep), of a
licence a robots.txt names (RSL 1.0), of their redirect hops and their fetch failures, which files consentry
wrote, and the revisit records (WARC 1.1 §6.7) with the captures they refer to. SQLite in a temporary
directory, so memory stays flat however many records the inputs hold. A file is indexed into a shard of rows
(`index_file`) that the driver merges (`ArchiveIndex.merge`): local processes and Spark executors produce the same
rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from consentry.crawler.audit.readers.archive import WarcReader
from consentry.crawler.audit.records import (
    Capture,
    DecisionEntry,
    FetchFailure,
    Info,
    Revisit,
    Seen,
    UnusableArchive,
    reason,
    sortable_date,
)
from consentry.crawler.audit.store import DocCapture, is_site_file
from consentry.middlewares.adapters.warcformat import written_by_consentry
from consentry.policies.evaluate import SITE_FILE_PATHS
from consentry.policies.model import SiteFile
from consentry.policies.robots.policy import RobotsPolicy

__all__ = ["ArchiveIndex", "FileEntry", "Original", "Row", "index_file", "second_rows"]

Row = tuple[str, tuple[Any, ...]]  # (table, values)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files(id INTEGER PRIMARY KEY, path TEXT, ours INTEGER, error TEXT);
CREATE TABLE IF NOT EXISTS docs(url TEXT, date TEXT, record_id TEXT, status INTEGER, location TEXT, body BLOB,
    content_type TEXT, problems TEXT, failure TEXT, file INTEGER);
CREATE TABLE IF NOT EXISTS responses(record_id TEXT, digest TEXT, url TEXT, file INTEGER);
CREATE TABLE IF NOT EXISTS revisits(record_id TEXT, refers_to TEXT, digest TEXT, url TEXT, date TEXT,
    status INTEGER, file INTEGER);
CREATE TABLE IF NOT EXISTS wanted(url TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS originals(key TEXT PRIMARY KEY, url TEXT, status INTEGER, headers TEXT, body BLOB,
    problems TEXT, remarks TEXT, full_length INTEGER, full_sha256 TEXT);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS docs_url ON docs(url);
CREATE INDEX IF NOT EXISTS responses_id ON responses(record_id);
CREATE INDEX IF NOT EXISTS responses_digest ON responses(digest);
CREATE INDEX IF NOT EXISTS responses_url ON responses(url);
"""
_WIDTH = {"files": 4, "docs": 10, "responses": 4, "revisits": 7, "wanted": 1, "originals": 9}
_CACHE = 4096
_DOCUMENTS = 100_000  # document URLs held in memory for `is_document`, at most


@dataclass(frozen=True, slots=True)
class FileEntry:
    """What the first pass learnt about one input file."""

    path: str
    ours: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class Original:
    """The capture a revisit record refers to: its status, headers and (capped, decoded) body."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    problems: tuple[str, ...]
    remarks: tuple[str, ...]
    full_length: int | None
    full_sha256: str | None


def _doc_row(url: str, doc: DocCapture, file_id: int) -> Row:
    return ("docs", (url, doc.date, doc.record_id, doc.status, doc.location, doc.body, doc.content_type,
                     json.dumps(doc.problems), doc.failure, file_id))


class _FileIndexer:
    """Rows for one file: documents (with the URLs they make wanted), responses, revisits. Only site files and
    documents already named are parsed; other responses are identities (`Seen`)."""

    def __init__(self, file_id: int, max_bytes: int, agent: str) -> None:
        self.file_id, self.max_bytes, self.agent = file_id, max_bytes, agent
        self.ours = False
        self.wanted: set[str] = set()

    def keep(self, url: str) -> bool:
        """Whether the reader must parse this response: a site file or a document already named."""
        return is_site_file(url) or url in self.wanted

    def item(self, item: Any) -> Iterator[Row]:
        kind = type(item)
        if kind is Seen:
            yield ("responses", (item.record_id, item.payload_digest, item.url, self.file_id))
        elif kind is Capture:
            yield from self._capture(item)
        elif kind is FetchFailure:
            doc = DocCapture(sortable_date(item.date), item.record_id, 0, None, b"", "", (), item.detail)
            yield _doc_row(item.url, doc, self.file_id)
        elif kind is Revisit:
            yield ("revisits", (item.record_id, item.refers_to, item.payload_digest, item.url,
                                sortable_date(item.date), item.status, self.file_id))
        elif kind is Info:
            self.ours = self.ours or written_by_consentry(item.fields)
        elif kind is DecisionEntry:
            self.ours = True

    def _capture(self, capture: Capture) -> Iterator[Row]:
        url = capture.url
        yield ("responses", (capture.record_id, capture.payload_digest, url, self.file_id))
        if is_site_file(url) or url in self.wanted:
            yield from self._keep(url, capture)

    def _keep(self, url: str, capture: Capture) -> Iterator[Row]:
        doc = DocCapture(sortable_date(capture.date), capture.record_id, capture.status, capture.location,
                         capture.body[: self.max_bytes + 1], capture.content_type, tuple(capture.problems))
        yield _doc_row(url, doc, self.file_id)
        more: list[str] = []
        if doc.location:
            more.append(urljoin(url, doc.location))
        if urlsplit(url).path == SITE_FILE_PATHS["robots"] and doc.status == 200:
            site_file = SiteFile.from_http(url, 200, doc.body, max_bytes=self.max_bytes)
            more.extend(RobotsPolicy.parse(site_file, self.agent).license_urls)
        for target in more:  # captured later in this file: kept; earlier or elsewhere: by the second pass
            if target not in self.wanted:
                self.wanted.add(target)
                yield ("wanted", (target,))


def index_file(path: str, file_id: int, *, body_cap: int, max_bytes: int, agent: str) -> Iterator[Row]:
    """Every index row one input file contributes (never raises for bad input: the file row says why)."""
    indexer = _FileIndexer(file_id, max_bytes, agent)
    error = None
    try:
        for item in WarcReader(Path(path), body_cap=body_cap, keep=indexer.keep):
            yield from indexer.item(item)
    except UnusableArchive as exc:
        error = str(exc)
    except Exception as exc:  # one bad file never costs the others their results
        error = f"{path}: unreadable ({reason(exc)})"
    yield ("files", (file_id, path, int(indexer.ours), error))


def second_rows(path: str, keys: set[str], *, body_cap: int, max_bytes: int) -> Iterator[Row]:
    """Rows for the captures in `path` the first pass could not know it needed: revisit originals (`keys`
    holding their record id or payload digest) and wanted documents (`url:` + their URL)."""
    try:
        for item in WarcReader(Path(path), body_cap=body_cap):
            if type(item) is not Capture:
                continue
            if "url:" + item.url in keys:
                doc = DocCapture(sortable_date(item.date), item.record_id, item.status, item.location,
                                 item.body[: max_bytes + 1], item.content_type, tuple(item.problems))
                yield _doc_row(item.url, doc, 0)
            for key in (item.record_id, item.payload_digest):
                if key and key in keys:
                    yield ("originals", (key, item.url, item.status, json.dumps(item.headers), item.body,
                                         json.dumps(item.problems), json.dumps(item.remarks), item.full_length,
                                         item.full_sha256))
    except Exception:
        return


class ArchiveIndex:
    """The SQLite index: written by `merge`, read by the replay (`captures`, `file`, `original`)."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        if create:
            self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        self._cache: OrderedDict[str, list[DocCapture]] = OrderedDict()
        self._documents: tuple[frozenset[str], bool] | None = None  # (URLs, all of them) once loaded

    def merge(self, rows: Iterable[Row]) -> None:
        """Insert rows (from `index_file` / `second_rows`, in any order), then build the lookup indexes."""
        batch: dict[str, list[tuple[Any, ...]]] = {}
        for table, values in rows:
            batch.setdefault(table, []).append(values)
            if len(batch[table]) >= 2048:
                self._insert(table, batch.pop(table))
        for table, values_list in batch.items():
            self._insert(table, values_list)
        self.db.executescript(_INDEXES)
        self.db.commit()

    def _insert(self, table: str, values: list[tuple[Any, ...]]) -> None:
        marks = ",".join("?" * _WIDTH[table])
        verb = "INSERT OR IGNORE" if table in ("wanted", "originals") else "INSERT"
        self.db.executemany(f"{verb} INTO {table} VALUES ({marks})", values)

    # -- the second fetch of wanted documents and revisit originals --------------------------------------------
    def missing(self) -> dict[str, set[str]]:
        """File path → keys (record ids, digests, wanted URLs) whose captures the first pass did not keep."""
        found: dict[str, set[str]] = {}
        queries = (
            "SELECT f.path, r.record_id FROM revisits v JOIN responses r ON r.record_id = v.refers_to "
            "JOIN files f ON f.id = r.file",
            "SELECT f.path, r.digest FROM revisits v JOIN responses r ON r.digest = v.digest "
            "JOIN files f ON f.id = r.file WHERE v.refers_to IS NULL OR v.refers_to NOT IN "
            "(SELECT record_id FROM responses)",
            "SELECT f.path, 'url:' || w.url FROM wanted w JOIN responses r ON r.url = w.url "
            "JOIN files f ON f.id = r.file WHERE w.url NOT IN (SELECT url FROM docs)",
        )
        for query in queries:
            for path, key in self.db.execute(query):
                found.setdefault(path, set()).add(key)
        return found

    # -- reading -------------------------------------------------------------------------------------------------
    def files(self) -> list[FileEntry]:
        """Every input file, in input order."""
        query = "SELECT path, ours, error FROM files ORDER BY id"
        return [FileEntry(p, bool(o), e) for p, o, e in self.db.execute(query)]

    def captures(self, url: str) -> list[DocCapture]:
        """Every indexed capture of `url`, sorted by (date, record id)."""
        found = self._cache.get(url)
        if found is not None:
            self._cache.move_to_end(url)
            return found
        query = ("SELECT date, record_id, status, location, body, content_type, problems, failure FROM docs "
                 "WHERE url = ? ORDER BY date, record_id")
        found = [
            DocCapture(d, r, s, loc, bytes(b), ct or "", tuple(json.loads(p)), f)
            for d, r, s, loc, b, ct, p, f in self.db.execute(query, (url,))
        ]
        self._cache[url] = found
        while len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
        return found

    def is_document(self, url: str) -> bool:
        """Whether `url` was indexed as a document (a licence, a redirect hop of a site file). The document URLs
        are held in memory when there are at most `_DOCUMENTS` of them (memory stays bounded); else asked of
        SQLite per URL."""
        if self._documents is None:
            rows = self.db.execute("SELECT DISTINCT url FROM docs LIMIT ?", (_DOCUMENTS + 1,)).fetchall()
            complete = len(rows) <= _DOCUMENTS
            self._documents = (frozenset(u for (u,) in rows) if complete else frozenset(), complete)
        urls, complete = self._documents
        if complete:
            return url in urls
        return self.db.execute("SELECT 1 FROM docs WHERE url = ? LIMIT 1", (url,)).fetchone() is not None

    def has_revisits(self) -> bool:
        """Whether any input holds a revisit record."""
        return self.db.execute("SELECT 1 FROM revisits LIMIT 1").fetchone() is not None

    def original(self, refers_to: str | None, digest: str | None) -> Original | None:
        """The capture a revisit refers to (by WARC-Refers-To, else by payload digest), if any input holds it."""
        for key in (refers_to, digest):
            if not key:
                continue
            row = self.db.execute(
                "SELECT url, status, headers, body, problems, remarks, full_length, full_sha256 FROM originals "
                "WHERE key = ?", (key,)).fetchone()
            if row is not None:
                url, status, headers, body, problems, remarks, length, sha = row
                return Original(url, status, tuple(tuple(h) for h in json.loads(headers)), bytes(body),
                                tuple(json.loads(problems)), tuple(json.loads(remarks)), length, sha)
        return None

    def close(self) -> None:
        """Close the database."""
        self.db.close()
