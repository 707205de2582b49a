"""The works registry: an SQLite file (WAL) of creators' works, their stated preferences and fingerprints.

docs/signals/registry.md (declarations bound to content codes). Exact lookups (SHA-256, C2PA instance id) use indexes.
Near duplicates use multi-index hashing over 64-bit ISCC Content-Codes, held in memory
(`consentry.middlewares.adapters.bandindex`), loaded from the file's band indexes on the first near lookup and
kept up to the file (rows committed since are appended; a removal, counted in `meta`, reloads them). Texts:
`BANDS` = 4 bands of 16 bits of `works.code` (t = 10, r = 2). Images: every code of a work (whole image,
borders trimmed, centre crops) is a row of `codes` with its 16×16 grey thumbnail, in 3 bands of 22/21/21 bits
(t = 8, r = 2: 718 probes). The index only proposes rows: each is read back from the file, its distance
checked against the threshold for its kind (a work's whole-image code or one of its variants), and an
image match confirmed by the thumbnails' correlation (two-stage match, `IMAGE_RULE`).

Schema `consentry.registry/2` (the `codes` table). A `/1` file is upgraded in place when opened (its
image works keep their one whole-image code, without thumbnail); one that cannot be written is refused.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from consentry.middlewares.adapters.bandindex import BandIndex, flips
from consentry.middlewares.adapters.fingerprint import Fingerprint, fingerprint
from consentry.policies.model import AssetResponse, Signal
from consentry.policies.registrymatch import (
    IMAGE_RULE,
    THRESHOLDS,
    RegistryMatch,
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
#: The in-memory indexes are reloaded from the file once rows added since their load exceed this share.
_TAIL_SHARE, _TAIL_MIN = 8, 2048
#: Per band i: (code, key) rows sorted by band value, read from the covering band indexes.
_IMAGE_LOAD = [f"SELECT code, rowid FROM codes ORDER BY c{i}" for i in range(len(IMAGE_BANDS))]  # noqa: S608
_TEXT_LOAD = [f"SELECT code, id FROM works WHERE media = 'text' ORDER BY b{i}" for i in range(BANDS)]  # noqa: S608
#: Code rows by rowid, with their work's own code (`works.code`): the one equal to it is the whole image's.
_CODE_ROWS = (
    "SELECT codes.rowid, work, codes.code, thumb, works.code FROM codes JOIN works ON works.id = work "
    "WHERE codes.rowid IN ({})"
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


def probes(value: int, radius: int = _RADIUS, width: int = _BAND_BITS) -> list[int]:
    """`value` and every `width`-bit band value within `radius` bit flips of it."""
    return [value ^ mask for mask in flips(radius, width)]


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
        self._image_index = BandIndex(IMAGE_BANDS, THRESHOLDS["image"])
        self._text_index = BandIndex((_BAND_BITS,) * BANDS, THRESHOLDS["text"])
        self._seen: tuple[int, str] | None = None  # (data_version, removals) the indexes reflect; None: reload
        self._loaded = (0, 0)  # the largest codes rowid and works id the indexes hold
        self._written = False  # this connection wrote since (PRAGMA data_version only sees other connections)

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
        self._written = True
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
        """Remove works by id; returns the ids that were not registered.

        A removal is counted in `meta` ("removals"), so that every reader's in-memory index reloads (a
        removed row id may be given again to a new code).
        """
        missing, removed = [], 0
        for work_id in ids:
            if self.connection.execute("DELETE FROM works WHERE id = ?", (work_id,)).rowcount == 0:
                missing.append(work_id)
            else:
                removed += 1
            self.connection.execute("DELETE FROM codes WHERE work = ?", (work_id,))
        if removed:
            self.connection.execute(
                "INSERT INTO meta VALUES ('removals', '1') "
                "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            self._seen = None
        return missing

    def works(self) -> Iterator[Work]:
        """Every work, by id."""
        for row in self.connection.execute(f"SELECT {_COLUMNS} FROM works ORDER BY id"):  # noqa: S608
            yield Work.from_row(row)

    def __len__(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM works").fetchone()[0])

    def image_codes(self, work_id: int) -> list[tuple[int, bytes]]:
        """(unsigned code, thumbnail or b"") of every image code a work stores: the whole image first."""
        rows = self.connection.execute("SELECT code, thumb FROM codes WHERE work = ? ORDER BY rowid", (work_id,))
        return [(int(code) & _MASK, bytes(thumb or b"")) for code, thumb in rows]

    def with_codes(self, work: Work) -> Work:
        """`work` with every image code it stores (variants and thumbnails) in its fingerprint."""
        codes = self.image_codes(work.id) if work.fingerprint.media == "image" else []
        if len(codes) < 2 and not any(thumb for _, thumb in codes):
            return work
        fp = work.fingerprint
        full = Fingerprint(
            fp.sha256, fp.media, fp.code, fp.instance_id, fp.note, tuple(c for c, _ in codes[1:]),
            tuple(t for _, t in codes) if all(t for _, t in codes) else (),
        )  # fmt: skip
        return Work(work.id, work.creator, work.title, work.deny, work.allow, work.added, full)

    def _select(self, where: str, params: Sequence[object]) -> list[Work]:
        query = f"SELECT {_COLUMNS} FROM works WHERE {where}"  # noqa: S608
        return [Work.from_row(r) for r in self.connection.execute(query, params)]

    def _refresh(self) -> None:
        """Bring the in-memory band indexes up to the file: rows added since are appended; after a removal
        (counted in `meta`) or once the appended rows grow past an eighth, both are reloaded."""
        (version,) = self.connection.execute("PRAGMA data_version").fetchone()
        if self._seen is not None and self._seen[0] == version and not self._written:
            return
        outer = self.connection.in_transaction
        if not outer:
            self.connection.execute("BEGIN")  # one snapshot for the counter and every row read
        try:
            row = self.connection.execute("SELECT value FROM meta WHERE key = 'removals'").fetchone()
            removals = str(row[0]) if row else "0"
            grown = self._image_index.tail + self._text_index.tail
            if (
                self._seen is None
                or self._seen[1] != removals
                or grown > max(_TAIL_MIN, len(self._image_index) // _TAIL_SHARE)
            ):
                self._reload()
            else:
                self._append()
            self._seen, self._written = (version, removals), False
        finally:
            if not outer:
                self.connection.execute("COMMIT")

    def _reload(self) -> None:
        execute = self.connection.execute
        self._image_index.load(execute(sql).fetchall() for sql in _IMAGE_LOAD)  # one band's rows at a time
        self._text_index.load(execute(sql).fetchall() for sql in _TEXT_LOAD)
        (codes,) = execute("SELECT coalesce(max(rowid), 0) FROM codes").fetchone()
        (works,) = execute("SELECT coalesce(max(id), 0) FROM works").fetchone()
        self._loaded = (int(codes), int(works))

    def _append(self) -> None:
        codes, works = self._loaded
        execute = self.connection.execute
        self._image_index.extend(execute("SELECT code, rowid FROM codes WHERE rowid > ?", (codes,)).fetchall())
        self._text_index.extend(
            execute("SELECT code, id FROM works WHERE media = 'text' AND id > ?", (works,)).fetchall()
        )
        (codes,) = execute("SELECT coalesce(max(rowid), ?) FROM codes", (codes,)).fetchone()
        (works,) = execute("SELECT coalesce(max(id), ?) FROM works", (works,)).fetchone()
        self._loaded = (int(codes), int(works))

    def _near(self, media: str, code: int) -> list[tuple[Work, int]]:
        """Text works within the threshold: candidates from the band index, distance checked on the file's rows."""
        if media != "text":
            return []
        self._refresh()
        candidates = self._text_index.near(code)
        near = []
        for work in self._select(f"id IN ({', '.join('?' * len(candidates))})", list(candidates)):
            distance = ((work.fingerprint.code or 0) ^ code).bit_count()
            if work.fingerprint.media == media and within_threshold(media, distance):
                near.append((work, distance))
        return sorted(near, key=lambda pair: (pair[1], pair[0].id))

    def _near_image(self, fp: Fingerprint) -> list[tuple[Work, int]]:
        """Works with a code matching one of `fp`'s codes by `IMAGE_RULE`, confirmed by thumbnails.

        The band index proposes code rows; each is read back from the file (it may have been removed or
        replaced since the index was loaded), its distance checked again against the threshold for its
        kind (the work's whole-image code, the one equal to `works.code`, or a variant), then its
        thumbnail compared.
        """
        self._refresh()
        queries = list(
            zip((fp.code or 0, *fp.variants), fp.thumbs or (b"",) * (1 + len(fp.variants)), strict=True)
        )
        proposed = {code: self._image_index.near(code) for code, _ in queries}
        rows = {key for found in proposed.values() for key in found}
        if not rows:
            return []
        query = _CODE_ROWS.format(", ".join("?" * len(rows)))
        stored = {
            int(row): (int(work), int(code) & _MASK, bytes(thumb or b""), code == whole)
            for row, work, code, thumb, whole in self.connection.execute(query, list(rows))
        }
        distances: dict[int, int] = {}
        for code, thumb in queries:
            for row in proposed[code].keys() & stored.keys():
                work_id, stored_code, stored_thumb, whole = stored[row]
                distance = (stored_code ^ code).bit_count()
                if distance < distances.get(work_id, 65) and IMAGE_RULE.matches(
                    distance, whole, thumb, stored_thumb
                ):
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
