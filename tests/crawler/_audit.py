"""Shared helpers for the audit tests: run `consentry audit` in process, rewrite gzip WARC members."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from consentry.crawler.audit import command as audit
from consentry.crawler.errors import Parser as _Parser
from consentry.crawler.errors import UsageError


def run_audit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `consentry audit ARGV` (jobs 1 unless given)."""
    parser = _Parser(prog="consentry")
    audit.add_parser(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    try:
        code = audit.run(parser.parse_args(["audit", *argv]))
    except UsageError as exc:
        print(f"consentry: error: {exc}", file=__import__("sys").stderr)
        code = 2
    out, err = capsys.readouterr()
    return code, out, err


def members(path: Path) -> list[tuple[Any, bytes]]:
    """(rec_headers, raw gzip member bytes) of every record of a gzip-per-record WARC."""
    data = path.read_bytes()
    found = []
    iterator = ArchiveIterator(io.BytesIO(data))
    for record in iterator:
        headers = record.rec_headers
        record.raw_stream.read()
        found.append((headers, iterator.get_record_offset(), iterator.get_record_length()))
    return [(h, data[o : o + n]) for h, o, n in found]


def results(out: str) -> list[dict[str, Any]]:
    """The `--json` array."""
    value = json.loads(out)
    assert isinstance(value, list)
    return value
