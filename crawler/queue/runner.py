"""The Redis side of `consentry queue push|status` (`consentry.crawler.queue.command` declares the arguments)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from consentry.crawler import exitcodes
from consentry.crawler.cli import verbosity
from consentry.crawler.crawl.urllist import UrlList, open_url_list
from consentry.crawler.errors import UsageError
from consentry.middlewares._redisrun import RunStore, connect

__all__ = ["open_store", "render_status", "run"]


def open_store(url: str, run_id: str) -> RunStore:
    """The run's store on a reachable Redis (`UsageError`, exit 2, otherwise)."""
    try:
        return RunStore(connect(url), run_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _push(args: argparse.Namespace) -> int:
    keep = None if args.keep_columns is None else [c.strip() for c in args.keep_columns.split(",") if c.strip()]
    if args.url_file.suffix.lower() == ".parquet":
        from consentry.crawler.crawl.listargs import require_pyarrow

        require_pyarrow("a parquet URL list")
    urls: UrlList = open_url_list(args.url_file, url_column=args.url_column, keep_columns=keep)
    store = open_store(args.redis, args.run_id)
    store.create({})
    queued, duplicates = store.push((row.url, row.columns) for row in urls.rows())
    if verbosity(args) >= 0:
        print(f"consentry queue push: run {args.run_id}: {queued} URLs queued, {duplicates} already in the run")
        print(f"  {urls.invalid_line()}")
    return exitcodes.OK


def render_status(status: dict[str, Any]) -> str:
    """The human status: one line of counts, then the leases per worker."""
    lines = [f"run {status['run_id']}: {status['pending']} pending, {status['in_flight']} in flight, "
             f"{status['done']} done, {status['failed']} failed; {status['requeued']} re-queued after a lease expired"]
    meta = status.get("meta") or {}
    if meta.get("config_sha256"):
        lines.append(f"  policy: consentry {meta.get('consentry')}, config_sha256 {meta['config_sha256'][:12]}…")
    lines.extend(f"  {worker}: {count} in flight" for worker, count in status["workers"].items())
    return "\n".join(lines)


def _status(args: argparse.Namespace) -> int:
    store = open_store(args.redis, args.run_id)
    status = store.status()
    if not status["meta"]:
        raise UsageError(f"run {args.run_id!r} does not exist in {args.redis} (seed it with consentry queue push)")
    if args.json:
        print(json.dumps({"schema": "consentry.queue-status/1", **status}, indent=2))
    elif verbosity(args) >= 0:
        print(render_status(status))
    return exitcodes.OK


_RUNNERS = {"push": _push, "status": _status}


def run(args: argparse.Namespace) -> int:
    """Run `consentry queue push|status`."""
    try:
        return _RUNNERS[args.queue_command](args)
    except BrokenPipeError:
        sys.stderr.close()
        return exitcodes.OK
