"""The work of `consentry registry`: add, list, remove, match, export and import works in an SQLite registry.

Imported by `consentry.crawler.registry.command` only when a subcommand runs (fingerprinting needs Pillow and
iscc-core, the store needs sqlite3). Exchange format `consentry.work/1`: see `WORK_SCHEMA`.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from consentry.crawler.errors import UsageError
from consentry.middlewares.adapters.clock import now
from consentry.middlewares.adapters.fingerprint import (
    THUMB_SIDE,
    Fingerprint,
    code_from_iscc,
    fingerprint,
    iscc_of,
)
from consentry.middlewares.adapters.registry import Registry, RegistryError, Work
from consentry.policies.registrymatch import RegistryMatch, match_signal
from consentry.policies.vocabulary import parse_purpose

__all__ = ["WORK_SCHEMA", "match_record", "run", "work_from_record", "work_record"]

WORK_SCHEMA = "consentry.work/1"
_BATCH = 200  # works per transaction in `add`: concurrent readers see progress
_MIMES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
          ".gif": "image/gif", ".tif": "image/tiff", ".tiff": "image/tiff", ".bmp": "image/bmp",
          ".html": "text/html", ".htm": "text/html", ".xhtml": "application/xhtml+xml",
          ".txt": "text/plain", ".md": "text/markdown"}  # fmt: skip


def _files(paths: Sequence[Path], skipped: list[tuple[Path, str]]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            yield path
        else:
            skipped.append((path, "no such file or directory"))


def _read(path: Path) -> Fingerprint | str:
    """The fingerprint of a file to register, or why it is skipped."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    fp = fingerprint(body, _MIMES.get(path.suffix.lower(), ""), crops=True)
    if fp.media is None and fp.note.startswith(("unsupported", "cannot decode")):
        return fp.note
    return fp


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rregistry add: {done}/{total} files", end="" if done < total else "\n", file=sys.stderr)


def _add(registry: Registry, args: argparse.Namespace) -> int:
    if not args.deny and not args.allow:
        raise UsageError("registry add: state at least one --deny or --allow purpose")
    skipped: list[tuple[Path, str]] = []
    files = list(_files(args.paths, skipped))
    known = {(w.fingerprint.sha256, w.creator): w.id for w in registry.works()}
    added: list[int] = []
    for start in range(0, len(files), _BATCH):
        with registry.batch():
            for path in files[start : start + _BATCH]:
                fp = _read(path)
                if isinstance(fp, str):
                    skipped.append((path, fp))
                elif (fp.sha256, args.creator) in known:
                    skipped.append((path, f"already registered as work {known[fp.sha256, args.creator]}"))
                else:
                    work_id = registry.add(
                        fp,
                        creator=args.creator,
                        title=path.name,
                        deny=args.deny,
                        allow=args.allow,
                        added=now(),
                    )
                    known[fp.sha256, args.creator] = work_id
                    added.append(work_id)
        _progress(min(start + _BATCH, len(files)), len(files))
    for path, reason in skipped:
        print(f"consentry: skipped {path}: {reason}", file=sys.stderr)
    span = f" (ids {added[0]}–{added[-1]})" if added else ""
    print(f"registered {len(added)} works{span} for {args.creator}; skipped {len(skipped)}")
    return 0 if added or not skipped else 2


def work_record(work: Work) -> dict[str, object]:
    """A work as a `consentry.work/1` object (with "image_codes" when its fingerprint carries variants)."""
    fp = work.fingerprint
    record: dict[str, object] = {
        "schema": WORK_SCHEMA,
        "id": work.id,
        "creator": work.creator,
        "title": work.title,
        "deny": [p.value for p in work.deny],
        "allow": [p.value for p in work.allow],
        "sha256": fp.sha256,
        "iscc": fp.iscc,
        "c2pa_instance_id": fp.instance_id,
        "added": work.added,
    }
    if fp.media == "image" and fp.code is not None and (fp.variants or fp.thumbs):
        thumbs = fp.thumbs or (b"",) * (1 + len(fp.variants))
        record["image_codes"] = [
            {"iscc": iscc_of("image", code), "thumb": base64.b64encode(thumb).decode() if thumb else None}
            for code, thumb in zip((fp.code, *fp.variants), thumbs, strict=True)
        ]
    return record


def _image_codes(record: dict[str, Any], code: int | None) -> tuple[tuple[int, ...], tuple[bytes, ...]]:
    """(variants, thumbnails) of a record's "image_codes": the whole image's code first, then its variants."""
    entries = record.get("image_codes")
    if entries is None:
        return (), ()
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ValueError("'image_codes' must be a non-empty list of {\"iscc\", \"thumb\"} objects")
    codes, thumbs = [], []
    for entry in entries:
        media, value = code_from_iscc(str(entry.get("iscc")))
        thumb = entry.get("thumb")
        try:
            raw = base64.b64decode(thumb, validate=True) if isinstance(thumb, str) else b""
        except ValueError:
            raw = b"?"
        if media != "image" or len(raw) not in {0, THUMB_SIDE * THUMB_SIDE} or (thumb is not None and not raw):
            raise ValueError(f"'image_codes': bad entry {entry!r} (image ISCC, {THUMB_SIDE}² grey bytes in base64)")
        codes.append(value)
        thumbs.append(raw)
    if codes[0] != code:
        raise ValueError("'image_codes' must start with the work's own 'iscc'")
    return tuple(codes[1:]), tuple(thumbs) if all(thumbs) else ()


def _strings(record: dict[str, Any], key: str) -> list[str]:
    value = record.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} must be a list of purposes")
    return value


def work_from_record(record: object) -> tuple[Fingerprint, dict[str, Any]]:
    """(fingerprint, `Registry.add` keywords) of a `consentry.work/1` object; `ValueError` names the problem."""
    if not isinstance(record, dict) or record.get("schema") != WORK_SCHEMA:
        raise ValueError(f"not a {WORK_SCHEMA} object")
    creator, sha256 = record.get("creator"), record.get("sha256")
    if not isinstance(creator, str) or not creator.strip():
        raise ValueError("'creator' must be a non-empty string")
    if not isinstance(sha256, str) or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("'sha256' must be 64 lower-case hex digits")
    deny = [parse_purpose(p) for p in _strings(record, "deny")]
    allow = [parse_purpose(p) for p in _strings(record, "allow")]
    if not deny and not allow:
        raise ValueError("states no preference ('deny' and 'allow' both empty)")
    media = code = None
    if record.get("iscc") is not None:
        media, code = code_from_iscc(str(record["iscc"]))
    instance = record.get("c2pa_instance_id")
    variants, thumbs = _image_codes(record, code if media == "image" else None)
    fp = Fingerprint(
        sha256, media, code, instance if isinstance(instance, str) and instance else None, "", variants, thumbs
    )
    title, added = record.get("title"), record.get("added")
    return fp, {
        "creator": creator,
        "title": title if isinstance(title, str) else "",
        "deny": deny,
        "allow": allow,
        "added": added if isinstance(added, str) else now(),
    }


def _identity(fp: Fingerprint, creator: str) -> tuple[object, ...]:
    """What makes an imported work one already registered (its variants and thumbnails aside)."""
    return fp.sha256, fp.media, fp.code, fp.instance_id, creator


def _import(registry: Registry, args: argparse.Namespace) -> int:
    try:
        lines = args.input.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"cannot read {args.input}: {exc}") from None
    works = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                works.append(work_from_record(json.loads(line)))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                raise UsageError(f"{args.input} line {number}: {exc}; nothing imported") from None
    known = {_identity(w.fingerprint, w.creator) for w in registry.works()}
    new = [(fp, kw) for fp, kw in works if _identity(fp, kw["creator"]) not in known]
    with registry.batch():
        for fp, keywords in new:
            registry.add(fp, **keywords)
    print(f"imported {len(new)} works; {len(works) - len(new)} already registered")
    return 0


def _export(registry: Registry, args: argparse.Namespace) -> int:
    lines = [json.dumps(work_record(registry.with_codes(w)), ensure_ascii=False) + "\n" for w in registry.works()]
    if args.output is None:
        sys.stdout.writelines(lines)
        return 0
    try:
        args.output.write_text("".join(lines), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"exported {len(lines)} works to {args.output}", file=sys.stderr)
    return 0


def _list(registry: Registry, args: argparse.Namespace) -> int:
    for work in registry.works():
        if args.json:
            print(json.dumps(work_record(registry.with_codes(work)), ensure_ascii=False))
            continue
        kinds = ["sha256", work.fingerprint.media, "c2pa" if work.fingerprint.instance_id else None]
        terms = " ".join([*(f"{p.value}=deny" for p in work.deny), *(f"{p.value}=allow" for p in work.allow)])
        print(f"{work.id:>6}  {work.creator}  {work.title}  [{terms}]  ({', '.join(k for k in kinds if k)})")
    return 0


def _remove(registry: Registry, args: argparse.Namespace) -> int:
    with registry.batch():
        missing = registry.remove(args.ids)
    print(f"removed {len(args.ids) - len(missing)} works")
    if missing:
        raise UsageError(f"no work with id {', '.join(map(str, missing))}")
    return 0


def _describe(match: RegistryMatch, out: TextIO) -> None:
    signal = match_signal(match, "")
    terms = " ".join(f"{p.value}={v.value}" for p, v in signal.statement.items())
    print(f"  {signal.evidence}  [{terms}]", file=out)


def match_record(match: RegistryMatch) -> dict[str, object]:
    """One match as JSON: the work, how it matched, the creator's terms and those that count for this copy (the
    statement of its `registry` signal: allows only for a byte-identical copy)."""
    signal = match_signal(match, "")
    return {"work_id": match.work_id, "creator": match.creator, "title": match.title, "kind": match.kind,
            "distance": match.distance, "deny": [p.value for p in match.deny],
            "allow": [p.value for p in match.allow],
            "counted": {p.value: v.value for p, v in signal.statement.items()}, "evidence": signal.evidence}


def _lookup(registry: Registry, path: Path) -> list[RegistryMatch] | str:
    """The works `path` matches, or why it could not be read."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return registry.lookup(fingerprint(body, _MIMES.get(path.suffix.lower(), "")))


def _match(registry: Registry, args: argparse.Namespace) -> int:
    failed = False
    elements: list[dict[str, object]] = []
    for path in args.files:
        matches = _lookup(registry, path)
        if isinstance(matches, str):
            print(f"consentry: {matches}", file=sys.stderr)
            failed = True
            elements.append({"file": str(path), "error": matches, "matches": []})
            continue
        elements.append({"file": str(path), "error": None, "matches": [match_record(m) for m in matches]})
        if not args.json:
            print(f"{path}: {len(matches)} matching work{'s' * (len(matches) != 1)}")
            for match in matches:
                _describe(match, sys.stdout)
    if args.json:
        print(json.dumps(elements, ensure_ascii=False, indent=1))
    return 2 if failed else 0


_COMMANDS = {"add": _add, "list": _list, "remove": _remove, "match": _match, "export": _export,
             "import": _import}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Run one `consentry registry` subcommand (arguments declared by `consentry.crawler.registry.command`);
    an unusable registry file raises `UsageError`."""
    create = args.registry_command in {"add", "import"}
    try:
        with Registry.open(args.db, create=create) as registry:
            return _COMMANDS[args.registry_command](registry, args)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None
