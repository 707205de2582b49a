"""The works registry: an SQLite file (WAL) of creators' works, their stated preferences and fingerprints.

docs/signals/registry.md (declarations bound to content codes). Exact lookups (SHA-256, C2PA instance id) use indexes.
Near duplicates use multi-index hashing over 64-bit ISCC Content-Codes. Texts: `BANDS` = 4 bands of 16
bits of `works.code`, each in a covering index (media, band, code). A code within t bits of the query
differs in at most r = t // 4 bits in some band (pigeonhole: 4 × (r + 1) > t), so probing each band's
value and its neighbours within r bits (r = 2 for t = 10: 137 a band) finds every candidate, whose exact
distance is then checked. Images: every code of a work (whole image, borders trimmed, centre crops) is a
row of `codes` with its 16×16 grey thumbnail, split in 3 bands of 22/21/21 bits (r = 2 for t = 8: 718
probes); a candidate within the threshold is confirmed by the thumbnails' correlation (two-stage match).

Schema `consentry.registry/2` (the `codes` table). A `/1` file is upgraded in place when opened (its
image works keep their one whole-image code, without thumbnail); one that cannot be written is refused.
"""

from __future__ import annotations

import functools
import itertools
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from consentry.middlewares.adapters.fingerprint import Fingerprint, fingerprint
from consentry.policies.model import AssetResponse, Signal
from consentry.policies.registrymatch import (
    THRESHOLDS,
    RegistryMatch,
    confirmed,
    match_signal,
    unverifiable_signal,
    within_threshold,
)
from consentry.policies.vocabulary import Purpose

__all__ = [
    "BANDS",
    "IMAGE_BANDS",
    "SCHEMA",
    "Registry",
    "RegistryError",
    "Work",
    "band_values",
    "image_band_values",
    "probes",
]

logger = logging.getLogger(__name__)

#: Stored in the `meta` table; a file without it is not a registry.
SCHEMA = "consentry.registry/2"
_UPGRADABLE = "consentry.registry/1"
BANDS = 4
_BAND_BITS = 64 // BANDS
_RADIUS = THRESHOLDS["text"] // BANDS  # per-band bit flips so that BANDS × (radius + 1) > the threshold
#: Image code bands (bits, most significant first) and the per-band flips for `THRESHOLDS["image"]`.
IMAGE_BANDS = (22, 21, 21)
_IMAGE_RADIUS = THRESHOLDS["image"] // len(IMAGE_BANDS)
_CODES_DDL = f"""
CREATE TABLE codes (work INTEGER NOT NULL, code INTEGER NOT NULL, thumb BLOB,
  {", ".join(f"c{i} INTEGER NOT NULL" for i in range(len(IMAGE_BANDS)))});
{"".join(f"CREATE INDEX codes_c{i} ON codes (c{i}, code, work);" for i in range(len(IMAGE_BANDS)))}
CREATE INDEX codes_work ON codes (work);
"""
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
{_CODES_DDL}
INSERT INTO meta VALUES ('schema', '{SCHEMA}');
"""  # noqa: S608 - constants only
_MASK = (1 << 64) - 1
_PROBES = 1 + sum(len(list(itertools.combinations(range(_BAND_BITS), k))) for k in range(1, _RADIUS + 1))
#: One statement for every band: each `IN` list is answered from the covering index (media, band, code).
_NEAR_SQL = " UNION ".join(
    f"SELECT id, code FROM works WHERE media = ? AND b{i} IN ({', '.join('?' * _PROBES)})"  # noqa: S608
    for i in range(BANDS)
)
_IMAGE_PROBES = [
    1 + sum(len(list(itertools.combinations(range(bits), k))) for k in range(1, _IMAGE_RADIUS + 1))
    for bits in IMAGE_BANDS
]
_IMAGE_SQL = " UNION ".join(
    f"SELECT rowid, work, code FROM codes WHERE c{i} IN ({', '.join('?' * n)})"  # noqa: S608
    for i, n in enumerate(_IMAGE_PROBES)
)
_COLUMNS = "id, creator, title, deny, allow, added, sha256, media, code, instance_id"


class RegistryError(ValueError):
    """The registry file cannot be used: missing, corrupt, or not a consentry registry."""


def band_values(code: int) -> tuple[int, ...]:
    """The code's bands, most significant first."""
    mask = (1 << _BAND_BITS) - 1
    return tuple((code >> (_BAND_BITS * (BANDS - 1 - i))) & mask for i in range(BANDS))


def image_band_values(code: int) -> tuple[int, ...]:
    """The image code's `IMAGE_BANDS`, most significant first."""
    out, shift = [], 64
    for bits in IMAGE_BANDS:
        shift -= bits
        out.append((code >> shift) & ((1 << bits) - 1))
    return tuple(out)


@functools.cache
def _flips(radius: int, width: int) -> tuple[int, ...]:
    """Every mask of at most `radius` set bits among `width` (0 first)."""
    return tuple(
        sum(1 << b for b in bits)
        for flips in range(radius + 1)
        for bits in itertools.combinations(range(width), flips)
    )


def probes(value: int, radius: int = _RADIUS, width: int = _BAND_BITS) -> list[int]:
    """`value` and every `width`-bit band value within `radius` bit flips of it."""
    return [value ^ mask for mask in _flips(radius, width)]


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
    if schema[0] == _UPGRADABLE:
        _upgrade(connection, path)
    elif schema[0] != SCHEMA:
        raise RegistryError(f"{path}: registry schema {schema[0]!r}, this consentry reads {SCHEMA!r}")


def _upgrade(connection: sqlite3.Connection, path: Path) -> None:
    """`/1` → `/2`: add `codes`, holding each image work's one code (no thumbnail), in one transaction."""
    bands = ", ".join(
        f"(code >> {64 - sum(IMAGE_BANDS[: i + 1])}) & {(1 << bits) - 1}"
        for i, bits in enumerate(IMAGE_BANDS)
    )
    columns = ", ".join(f"c{i}" for i in range(len(IMAGE_BANDS)))
    statements = [
        *filter(None, (s.strip() for s in _CODES_DDL.split(";"))),
        f"INSERT INTO codes (work, code, {columns}) SELECT id, code, {bands} FROM works "  # noqa: S608 - constants only
        "WHERE media = 'image' AND code IS NOT NULL",
        f"UPDATE meta SET value = '{SCHEMA}' WHERE key = 'schema'",  # noqa: S608 - constants only
    ]
    try:
        connection.execute("BEGIN IMMEDIATE")
        (schema,) = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        for statement in statements if schema == _UPGRADABLE else ():  # another process may have upgraded it
            connection.execute(statement)
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise RegistryError(
            f"{path}: registry schema {_UPGRADABLE!r} must be upgraded to {SCHEMA!r} and could not be ({exc}); "
            f"open it once with write access (e.g. consentry registry list --db {path})"
        ) from None


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
            # 96 MB: the band indexes of 100k works (600k image codes) stay in memory
            connection.execute("PRAGMA cache_size = -96000")
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
        work_id = int(cursor.lastrowid or 0)
        if fp.media == "image" and fp.code is not None:
            self._add_codes(work_id, fp)
        return work_id

    def _add_codes(self, work_id: int, fp: Fingerprint) -> None:
        codes = (fp.code or 0, *fp.variants)
        thumbs = fp.thumbs if len(fp.thumbs) == len(codes) else (None,) * len(codes)
        marks = ", ".join("?" * (3 + len(IMAGE_BANDS)))
        self.connection.executemany(
            f"INSERT INTO codes VALUES ({marks})",  # noqa: S608 - constants only
            [
                (work_id, _signed(code), thumb or None, *image_band_values(code))
                for code, thumb in zip(codes, thumbs, strict=True)
            ],
        )

    def batch(self) -> _Batch:
        """A context in which every `add`/`remove` commits together (or not at all)."""
        return _Batch(self.connection)

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Remove works by id; returns the ids that were not registered."""
        missing = []
        for work_id in ids:
            if self.connection.execute("DELETE FROM works WHERE id = ?", (work_id,)).rowcount == 0:
                missing.append(work_id)
            self.connection.execute("DELETE FROM codes WHERE work = ?", (work_id,))
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
        return self._works_at(distances)

    def _near_image(self, fp: Fingerprint) -> list[tuple[Work, int]]:
        """Works with a code within the image threshold of one of `fp`'s codes, confirmed by thumbnails."""
        queries = list(
            zip((fp.code or 0, *fp.variants), fp.thumbs or (b"",) * (1 + len(fp.variants)), strict=True)
        )
        hits: dict[int, list[tuple[int, int, bytes]]] = {}  # row → [(distance, work, query thumbnail)]
        for code, thumb in queries:
            params: list[object] = []
            for value, bits in zip(image_band_values(code), IMAGE_BANDS, strict=True):
                params += probes(value, _IMAGE_RADIUS, bits)
            for row, work_id, stored in self.connection.execute(_IMAGE_SQL, params):
                distance = ((stored & _MASK) ^ code).bit_count()
                if within_threshold("image", distance):
                    hits.setdefault(int(row), []).append((distance, int(work_id), thumb))
        distances: dict[int, int] = {}
        for row, found in hits.items():
            (stored_thumb,) = self.connection.execute(
                "SELECT thumb FROM codes WHERE rowid = ?", (row,)
            ).fetchone()
            for distance, work_id, thumb in found:
                if confirmed(thumb, bytes(stored_thumb or b"")) and distance < distances.get(work_id, 65):
                    distances[work_id] = distance
        return self._works_at(distances)

    def _works_at(self, distances: dict[int, int]) -> list[tuple[Work, int]]:
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
            near = self._near_image(fp) if fp.media == "image" else self._near(fp.media, fp.code)
            for work, distance in near:
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
