"""`consentry queue push|status`: seed a distributed crawl's Redis queue and watch it (docs/distributed.md).

`push` streams a URL list (`consentry.crawler.crawl.urllist`, the reader of `crawl --urls`, same bad-row
counting) into the run's queue, skipping URLs the run has seen (scrapy-redis's request fingerprint); `status`
shows pending / in flight / done / failed, re-queued rows and the leases per worker (`--json`:
`consentry.queue-status/1`). Exit codes: 0 done; 2 bad input (a URL list, a Redis URL, an unreachable server,
a run id that does not exist for `status`). Arguments here; the Redis work is in
`consentry.crawler.queue.runner`, imported only when a subcommand runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consentry.crawler.helptext import examples

__all__ = ["add_parser", "run", "run_id"]

_DESCRIPTION = """\
A distributed crawl: several `consentry crawl --redis URL --run-id ID` workers, on one machine or many,
share the run's queue, duplicate filter, site files and politeness in Redis. `queue push` seeds the run
with a URL list (streamed; URLs the run has seen already are skipped); `queue status` shows what is
pending, in flight and done. docs/distributed.md describes the design."""

_EXAMPLES = (
    ("consentry queue push --redis redis://127.0.0.1:6379/0 --run-id may --urls urls.parquet",
     "seed run `may` with a list"),
    ("consentry crawl --redis redis://127.0.0.1:6379/0 --run-id may -o out",
     "a worker (start one per machine or core)"),
    ("consentry queue status --redis redis://127.0.0.1:6379/0 --run-id may", "pending / in flight / done"),
)

_SUBCOMMANDS = {
    "push": ("seed a run's queue with a URL list",
             "Stream the URL list FILE into run ID's queue (created on the first push). Rows the list reader\n"
             "skips are counted by reason, as `crawl --urls` does; URLs already in the run are skipped."),
    "status": ("show a run's pending / in-flight / done counts",
               "Counts of the run's queue: pending, in flight (leased by a worker), done, failed (given up after\n"
               "repeated worker deaths), rows re-queued from expired leases, leases per worker."),
}


def run_id(value: str) -> str:
    """A run id: letters, digits, `-`, `_`, `.` (it names Redis keys and output files)."""
    if not value or len(value) > 64 or not all(c.isalnum() or c in "-_." for c in value):
        raise argparse.ArgumentTypeError(f"{value!r}: a run id is 1-64 letters, digits, '-', '_' or '.'")
    return value


def add_redis_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """`--redis URL` and `--run-id ID`."""
    parser.add_argument("--redis", required=required, metavar="URL",
                        help="the run's Redis: redis://HOST:PORT/DB (CONSENT_REDIS_URL)")
    parser.add_argument("--run-id", required=required, type=run_id, metavar="ID",
                        help="the run's name, shared by every worker (CONSENT_RUN_ID)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `queue` subcommand group to `consentry`'s subparsers."""
    group: argparse.ArgumentParser = subparsers.add_parser(
        "queue", help="seed and watch a distributed crawl's Redis queue", description=_DESCRIPTION,
        epilog=examples(_EXAMPLES))
    sub = group.add_subparsers(dest="queue_command", required=True, metavar="SUBCOMMAND")
    push = sub.add_parser("push", help=_SUBCOMMANDS["push"][0], description=_SUBCOMMANDS["push"][1],
                          epilog=examples(_EXAMPLES[:1]))
    status = sub.add_parser("status", help=_SUBCOMMANDS["status"][0], description=_SUBCOMMANDS["status"][1],
                            epilog=examples(_EXAMPLES[2:]))
    for parser in (push, status):
        add_redis_arguments(parser, required=True)
    push.add_argument("--urls", required=True, type=Path, dest="url_file", metavar="FILE",
                      help="the URL list (.txt, .csv, .tsv, .jsonl, .parquet)")
    push.add_argument("--url-column", default="url", metavar="NAME",
                      help="the column holding the URL in a .csv/.tsv/.jsonl/.parquet list")
    push.add_argument("--keep-columns", metavar="A,B",
                      help="carry only these list columns into the output (default: every column)")
    status.add_argument("--json", action="store_true", help="print the counts as JSON (consentry.queue-status/1)")
    return group


def run(args: argparse.Namespace) -> int:
    """Run one `consentry queue` subcommand."""
    from consentry.crawler.queue.runner import run as run_queue

    return run_queue(args)
