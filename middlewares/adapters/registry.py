"""The works registry: an SQLite file (WAL) of creators' works, their stated preferences and fingerprints.

docs/signals/registry.md (declarations bound to content codes). Exact lookups (SHA-256, C2PA instance id) use indexes.
Near duplicates use multi-index hashing over the 64-bit ISCC Content-Code: `BANDS` = 4 bands of 16 bits,
each in a covering index (media, band, code). A code within t bits of the query differs in at most
r = t // 4 bits in some band (pigeonhole: 4 × (r + 1) > t), so probing each band's value and its
neighbours within r bits (r = 2 for t = `MAX_THRESHOLD` = 10: 137 a band) finds every candidate, whose
exact distance is then checked. Cost: 548 index probes plus ≈ N × 548 / 65,536 candidates, not N.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from consentry.middlewares.adapters.fingerprint import Fingerprint, fingerprint
from consentry.policies.model import AssetResponse, Signal
from consentry.policies.registrymatch import (
    MAX_THRESHOLD,
    RegistryMatch,
    match_signal,
    unverifiable_signal,
    within_threshold,
)
from consentry.policies.vocabulary import Purpose

__all__ = ["BANDS", "SCHEMA", "Registry", "RegistryError", "Work", "band_values", "probes"]

logger = logging.getLogger(__name__)

#: Stored in the `meta` table; a file without it is not a registry.
SCHEMA = "consentry.registry/1"
BANDS = 4
_BAND_BITS = 64 // BANDS
_RADIUS = MAX_THRESHOLD // BANDS  # per-band bit flips so that BANDS × (radius + 1) > MAX_THRESHOLD
_MAX_MATCHES = 8
_DDL = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE works (
  id INTEGER PRIMARY KEY, creator TEXT NOT NULL, title TEXT NOT NULL, deny TEXT NOT NULL,
  allow TEXT NOT NULL, added TEXT NOT NULL, sha256 TEXT NOT NULL, media TEXT, code INTEGER,
  instance_id TEXT, {", ".join(f"b{i} INTEGER" for i in range(BANDS))});
CREATE INDEX works_sha256 ON works (sha256);
CREATE INDEX works_instance ON works (instance_id) WHERE instance_id IS NOT NULL;
{"".join(f"CREATE INDEX works_b{i} ON works (media, b{i}, code);" for i in range(BANDS))}
INSERT INTO meta VALUES ('schema', '{SCHEMA}');
"""  # noqa: S608 - constants only
_MASK = (1 << 64) - 1
_PROBES = 1 + sum(len(list(itertools.combinations(range(_BAND_BITS), k))) for k in range(1, _RADIUS + 1))
#: One statement for every band: each `IN` list is answered from the covering index (media, band, code).
_NEAR_SQL = " UNION ".join(
    f"SELECT id, code FROM works WHERE media = ? AND b{i} IN ({', '.join('?' * _PROBES)})"  # noqa: S608
    for i in range(BANDS)
)
_COLUMNS = "id, creator, title, deny, allow, added, sha256, media, code, instance_id"


class RegistryError(ValueError):
    """The registry file cannot be used: missing, corrupt, or not a consentry registry."""


def band_values(code: int) -> tuple[int, ...]:
    """The code's bands, most significant first."""
    mask = (1 << _BAND_BITS) - 1
    return tuple((code >> (_BAND_BITS * (BANDS - 1 - i))) & mask for i in range(BANDS))


def probes(value: int, radius: int = _RADIUS) -> list[int]:
    """`value` and every band value within `radius` bit flips of it."""
    out = [value]
    for flips in range(1, radius + 1):
        for bits in itertools.combinations(range(_BAND_BITS), flips):
            out.append(value ^ sum(1 << b for b in bits))
    return out


def _purposes(text: object) -> tuple[Purpose, ...]:
    return tuple(Purpose(p) for p in str(text).split())


def _signed(code: int) -> int:
    return code - (1 << 64) if code >= 1 << 63 else code


@dataclass(frozen=True, slots=True)
class Work:
    """One registered work."""

    id: int
    creator: str
    title: str
    deny: tuple[Purpose, ...]
    allow: tuple[Purpose, ...]
    added: str
    fingerprint: Fingerprint

    @classmethod
    def from_row(cls, row: Sequence[object]) -> Work:
        """A work from a `works` row (columns as `_COLUMNS`)."""
        id_, creator, title, deny, allow, added, sha256, media, code, instance_id = row
        unsigned = None if code is None else int(str(code)) & ((1 << 64) - 1)
        fp = Fingerprint(
            str(sha256),
            None if media is None else str(media),
            unsigned,
            None if instance_id is None else str(instance_id),
        )
        return cls(int(str(id_)), str(creator), str(title), _purposes(deny), _purposes(allow), str(added), fp)

    def match(self, kind: str, distance: int = 0) -> RegistryMatch:
        """This work as a `RegistryMatch` of `kind`."""
        return RegistryMatch(self.id, self.creator, self.title, self.deny, self.allow, kind, distance)


def _check(connection: sqlite3.Connection, path: Path) -> None:
    try:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        schema = (
            connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if "meta" in tables
            else None
        )
    except sqlite3.DatabaseError as exc:
        raise RegistryError(f"{path}: not a consentry registry ({exc})") from None
    if schema is None or "works" not in tables:
        found = ", ".join(sorted(tables)) or "none"
        raise RegistryError(f"{path}: an SQLite database but not a consentry registry (tables: {found})")
    if schema[0] != SCHEMA:
        raise RegistryError(f"{path}: registry schema {schema[0]!r}, this consentry reads {SCHEMA!r}")


class Registry:
    """An open registry file. Readers see every committed write (WAL), also from other processes."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, create: bool = False) -> Registry:
        """Open (with `create`, create) the registry at `path`; `RegistryError` names the problem."""
        path = Path(path)
        fresh = not path.exists() or (create and path.stat().st_size == 0)
        if fresh and not create:
            raise RegistryError(f"{path}: no such registry")
        if path.is_dir():
            raise RegistryError(f"{path}: is a directory, not a registry file")
        try:
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise RegistryError(f"{path}: cannot open registry ({exc})") from None
        try:
            if fresh:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.executescript(f"BEGIN; {_DDL} COMMIT;")
            _check(connection, path)
            connection.execute("PRAGMA cache_size = -32000")  # 32 MB: the band indexes of 100k works
        except (sqlite3.Error, RegistryError) as exc:
            connection.close()
            if isinstance(exc, RegistryError):
                raise
            raise RegistryError(f"{path}: cannot open registry ({exc})") from None
        return cls(connection, path)

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(
        self,
        fp: Fingerprint,
        *,
        creator: str,
        title: str,
        deny: Iterable[Purpose],
        allow: Iterable[Purpose],
        added: str,
    ) -> int:
        """Register one work (one transaction per call unless inside `batch`); returns its id."""
        bands = band_values(fp.code) if fp.code is not None else (None,) * BANDS
        code = _signed(fp.code) if fp.code is not None else None
        row = (
            creator,
            title,
            " ".join(p.value for p in deny),
            " ".join(p.value for p in allow),
            added,
            fp.sha256,
            fp.media if code is not None else None,
            code,
            fp.instance_id,
            *bands,
        )
        marks = ", ".join("?" * len(row))
        names = (
            f"creator, title, deny, allow, added, sha256, media, code, instance_id, "
            f"{', '.join(f'b{i}' for i in range(BANDS))}"
        )
        cursor = self.connection.execute(f"INSERT INTO works ({names}) VALUES ({marks})", row)  # noqa: S608
        return int(cursor.lastrowid or 0)

    def batch(self) -> _Batch:
        """A context in which every `add`/`remove` commits together (or not at all)."""
        return _Batch(self.connection)

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Remove works by id; returns the ids that were not registered."""
        missing = []
        for work_id in ids:
            if self.connection.execute("DELETE FROM works WHERE id = ?", (work_id,)).rowcount == 0:
                missing.append(work_id)
        return missing

    def works(self) -> Iterator[Work]:
        """Every work, by id."""
        for row in self.connection.execute(f"SELECT {_COLUMNS} FROM works ORDER BY id"):  # noqa: S608
            yield Work.from_row(row)

    def __len__(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM works").fetchone()[0])

    def _select(self, where: str, params: Sequence[object]) -> list[Work]:
        query = f"SELECT {_COLUMNS} FROM works WHERE {where}"  # noqa: S608
        return [Work.from_row(r) for r in self.connection.execute(query, params)]

    def _near(self, media: str, code: int) -> list[tuple[Work, int]]:
        """Candidates sharing a band within `_RADIUS` bits (covering indexes), verified by exact distance."""
        params: list[object] = []
        for value in band_values(code):
            params += [media, *probes(value)]
        distances = {}
        for work_id, stored in self.connection.execute(_NEAR_SQL, params):
            distance = ((stored & _MASK) ^ code).bit_count()
            if within_threshold(media, distance):
                distances[int(work_id)] = distance
        if not distances:
            return []
        works = self._select(f"id IN ({', '.join('?' * len(distances))})", list(distances))
        return sorted(((w, distances[w.id]) for w in works), key=lambda pair: (pair[1], pair[0].id))

    def lookup(self, fp: Fingerprint) -> list[RegistryMatch]:
        """Works matching `fp`, best first, one match per work (exact bytes > C2PA instance > content)."""
        best: dict[int, RegistryMatch] = {}
        for work in self._select("sha256 = ?", [fp.sha256]):
            best.setdefault(work.id, work.match("sha256"))
        if fp.instance_id:
            for work in self._select("instance_id = ?", [fp.instance_id]):
                best.setdefault(work.id, work.match("c2pa"))
        if fp.media is not None and fp.code is not None:
            for work, distance in self._near(fp.media, fp.code):
                best.setdefault(work.id, work.match(fp.media, distance))
        return list(best.values())[:_MAX_MATCHES]

    def signals(self, asset: AssetResponse) -> list[Signal]:
        """The `registry` signals of a fetched asset (empty when nothing matches); never raises.

        A registry that cannot be read (I/O error, lock held too long) gives an `unverifiable` signal.
        """
        if not 200 <= asset.status < 300 or not asset.body:
            return []
        fp = fingerprint(asset.body, asset.content_type)
        try:
            matches = self.lookup(fp)
        except sqlite3.Error as exc:
            logger.warning("registry %s: lookup for %s failed: %s", self.path, asset.url, exc)
            return [unverifiable_signal(asset.url, f"{self.path}: {exc}")]
        return [match_signal(m, asset.url) for m in matches]


class _Batch:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self.connection.execute("COMMIT" if kind is None else "ROLLBACK")
