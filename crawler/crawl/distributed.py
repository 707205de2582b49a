"""`consentry crawl --redis URL --run-id ID`: one worker of a distributed crawl (docs/distributed.md).

Everything that can refuse the worker is checked before any file is written (exit 2, one line): the Redis URL
and server, the run (it must exist — `consentry queue push` or this command's own `--urls` creates it — and,
once a first worker joined, have the same consentry version and policy digest). A server without persistence
is a warning: the run survives worker deaths, not a Redis restart (the workers then stop, `redis_run_lost`).
The worker writes DIR/RUN.WORKER.decisions.jsonl, .crawl.warc.gz, .items.jsonl (and DIR/dataset/RUN.WORKER/),
so workers may share DIR; the crawl itself is `consentry.crawler.crawl.runner.run_crawl` with the run's
settings (`consentry.middlewares.cluster`).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

from consentry.crawler.crawl.command import (
    check_output_dir,
    emit,
    max_requests_of,
    render_summary,
    report,
)
from consentry.crawler.crawl.listargs import list_summary_lines, open_list
from consentry.crawler.errors import UsageError

__all__ = ["cluster_lines", "run_worker", "worker_overrides"]


def worker_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The `CONSENT_*` settings of this worker (`UsageError` without `--run-id`)."""
    if not args.run_id:
        raise UsageError("--redis needs --run-id ID (the run's name, shared by every worker)")
    values: dict[str, Any] = {
        "CONSENT_REDIS_URL": args.redis,
        "CONSENT_RUN_ID": args.run_id,
        "CONSENT_WORKER_ID": args.worker_id or f"{socket.gethostname()}-{os.getpid()}",
    }
    if args.idle_timeout is not None:
        values["CONSENT_IDLE_TIMEOUT"] = args.idle_timeout
    if args.lease_timeout is not None:
        values["CONSENT_LEASE_TIMEOUT"] = args.lease_timeout
    return values


def _join(settings: Any, url_list: Any, verbosity: int) -> None:
    """Connect, seed the run with `url_list` (when given), join it under this worker's policy; `UsageError`."""
    from consentry.crawler.queue.runner import open_store
    from consentry.middlewares._config import consent_settings
    from consentry.middlewares._redisrun import RunMismatch, persistence_problem
    from consentry.middlewares.cluster import run_identity

    store = open_store(str(settings.get("CONSENT_REDIS_URL")), str(settings.get("CONSENT_RUN_ID")))
    if url_list is not None:
        store.create({})
        queued, duplicates = store.push((row.url, row.columns) for row in url_list.rows())
        if verbosity >= 0:
            emit(f"consentry crawl: run {store.run_id}: {queued} URLs queued, {duplicates} already in the run",
                 sys.stderr)
    try:
        store.join(run_identity(consent_settings(settings).config.config_sha256))
    except RunMismatch as exc:
        raise UsageError(str(exc)) from None
    problem = persistence_problem(store.client)
    if problem is not None and verbosity >= 0:
        emit(f"consentry crawl: warning: {problem} (docs/distributed.md, \"Failure modes\")", sys.stderr)


def cluster_lines(stats: dict[str, Any], run_id: str, worker: str) -> list[str]:
    """The summary's run line: leases, re-decided URLs, site files fetched here or shared."""
    def count(name: str) -> int:
        return int(stats.get(f"consent/cluster/{name}", 0))

    line = (f"  run {run_id}, worker {worker}: {count('leased')} URLs leased ({count('redecided')} decided again "
            f"after a lease expired); site files fetched {count('sitefile/fetched')}, "
            f"taken from the cluster {count('sitefile/shared')}; {count('round_trips')} Redis round trips")
    error = stats.get("consent/cluster/error")
    return [line, f"  stopped: {error}"] if error else [line]


def run_worker(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    """Run one worker; `UsageError` (exit 2) before anything is written when it may not run."""
    from consentry.crawler.cli import verbosity
    from consentry.crawler.crawl.runner import crawl_settings, run_crawl

    overrides = {**overrides, **worker_overrides(args)}
    url_list = open_list(args)
    run_id, worker = overrides["CONSENT_RUN_ID"], overrides["CONSENT_WORKER_ID"]
    prefix = f"{run_id}.{worker}."
    try:
        settings = crawl_settings(args.output, overrides, prefix=prefix)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _join(settings, url_list, verbosity(args))
    check_output_dir(args.output)
    summary = run_crawl([], args.output, settings_overrides=overrides, max_requests=max_requests_of(args, listed=True),
                        verbosity=verbosity(args), dataset=args.dataset or "", shard_size=args.shard_size,
                        max_page_links=args.max_page_links, prefix=prefix)
    human = "\n".join([render_summary(summary), *list_summary_lines(summary, url_list, f"dataset/{run_id}.{worker}/"),
                       *cluster_lines(dict(summary.stats), run_id, worker)])
    return report(summary, args, human=human)
