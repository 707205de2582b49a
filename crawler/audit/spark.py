"""`consentry audit --spark MASTER`: the index pass and the replay as Spark jobs (docs/cli.md, "audit").

Not pure (it drives a Spark cluster). Needs the `spark` extra (`pip install 'consentry[spark]'`, PySpark) and
Java. The WARC paths must be readable at the same path on every executor (a shared file system). The first
pass runs one task per input file (`consentry.crawler.audit.index.index_file`); the driver merges the rows
into the SQLite index and ships it to the executors (`SparkContext.addFile`); the replay runs one task per
file (`consentry.crawler.audit.runner.audit_file`) and returns its outcome with its JSON lines. The tasks are
the local run's own functions, so the records are the same.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from consentry.crawler.audit.index import Row, index_file, second_rows
from consentry.crawler.audit.result import AuditOptions
from consentry.crawler.audit.runner import FileOutcome, audit_file, build_index
from consentry.crawler.errors import UsageError

__all__ = ["spark_audit"]

_INDEX_NAME = "consentry-audit-index.sqlite"


def _task_rows(task: tuple[str, Any, dict[str, Any]]) -> Iterator[Row]:
    kind, argument, caps = task
    if kind == "first":
        file_id, path = argument
        yield from index_file(path, file_id, **caps)
    else:
        path, keys = argument
        yield from second_rows(path, keys, body_cap=caps["body_cap"], max_bytes=caps["max_bytes"])


def _replay(task: tuple[str, bool | None, str | None, AuditOptions, bool]) -> FileOutcome:
    from pyspark import SparkFiles

    path, ours, error, options, want_json = task
    if error is not None:
        return FileOutcome(path, error=error)
    index = SparkFiles.get(_INDEX_NAME)
    return audit_file(path, options, want_json=want_json, index_path=index, ours=ours, inline_json=True)


def _context(master: str) -> Any:
    try:
        from pyspark import SparkConf, SparkContext
    except ImportError:
        raise UsageError("--spark needs PySpark: pip install 'consentry[spark]'") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = (
        SparkConf()
        .setMaster(master)
        .setAppName("consentry audit")
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
        .set("spark.driver.host", os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"))
    )
    try:
        context = SparkContext(conf=conf)
    except Exception as exc:
        raise UsageError(f"--spark {master}: Spark did not start ({type(exc).__name__}: {exc})") from None
    context.setLogLevel("ERROR")
    return context


def spark_audit(
    master: str,
    paths: Sequence[str],
    options: AuditOptions,
    *,
    want_json: bool = False,
    site_files: Sequence[str] = (),
) -> list[FileOutcome]:
    """Audit `paths` on the Spark cluster at `master` (e.g. `local[2]`, `spark://host:7077`)."""
    context = _context(master)
    absolute = [str(Path(p).absolute()) for p in [*paths, *site_files]]
    try:
        with tempfile.TemporaryDirectory(prefix="consentry-audit-") as directory:

            def mapper(tasks: list[tuple[str, Any, dict[str, Any]]]) -> Iterator[Row]:
                rdd = context.parallelize(tasks, max(1, len(tasks)))
                rows: Iterator[Row] = rdd.flatMap(_task_rows).toLocalIterator()
                return rows

            index = build_index(absolute, Path(directory), options, mapper)
            entries = index.files()[: len(paths)]
            index.close()
            shipped = Path(directory) / _INDEX_NAME
            (Path(directory) / "index.sqlite").rename(shipped)
            context.addFile(str(shipped))
            tasks = [(e.path, e.ours, e.error, options, want_json) for e in entries]
            outcomes: list[FileOutcome] = context.parallelize(tasks, max(1, len(tasks))).map(_replay).collect()
    finally:
        context.stop()
    for outcome, path in zip(outcomes, paths, strict=True):
        outcome.path = path  # as the auditor named it, like the local run
        if outcome.error is not None:
            outcome.error = outcome.error.replace(str(Path(path).absolute()), path)
    return outcomes
