"""`consentry crawl`'s URL-list and dataset options (`--urls`, `--url-column`, `--keep-columns`,
`--caption-column`, `--dataset`, `--shard-size`; docs/cli.md): the arguments, their checks and the summary
lines, without Scrapy. The list itself is read by `consentry.crawler.crawl.urllist`, the shards written by
`consentry.crawler.crawl.dataset`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consentry.crawler.crawl.urllist import UrlList, open_url_list
from consentry.crawler.errors import UsageError

__all__ = [
    "add_distributed_arguments", "add_list_arguments", "list_overrides", "list_summary_lines", "open_list",
    "require_pyarrow",
]  # fmt: skip

_DATASETS = ("webdataset", "parquet")


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the URL-list and dataset options to `crawl`."""
    parser.add_argument("--urls", type=Path, dest="url_file", metavar="FILE",
                        help="fetch exactly the URLs listed in FILE (.txt, .csv, .tsv, .jsonl, .parquet) and "
                             "follow no links; instead of URL arguments")
    parser.add_argument("--url-column", default="url", metavar="NAME",
                        help="the column holding the URL in a .csv/.tsv/.jsonl/.parquet list")
    parser.add_argument("--keep-columns", metavar="A,B",
                        help="carry only these list columns into the output (default: every column)")
    parser.add_argument("--caption-column", default="caption", metavar="NAME",
                        help="the list column written as each sample's KEY.txt")
    parser.add_argument("--dataset", choices=_DATASETS,
                        help="also write the kept assets as shards in DIR/dataset/ (needs pyarrow)")
    parser.add_argument("--shard-size", type=int, default=10_000, metavar="N",
                        help="samples per dataset shard")


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected seconds > 0")
    return seconds


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `crawl`'s distributed-run options (docs/distributed.md)."""
    from consentry.crawler.queue.command import add_redis_arguments

    group = parser.add_argument_group("distributed crawl (docs/distributed.md)")
    add_redis_arguments(group, required=False)  # type: ignore[arg-type]
    group.add_argument("--worker-id", metavar="NAME",
                       help="this worker's name in the run and in its output file names (default: HOST-PID)")
    group.add_argument("--idle-timeout", type=_seconds, metavar="S",
                       help="stop once the run has had nothing pending or in flight for S seconds "
                            "(CONSENT_IDLE_TIMEOUT, default 10)")
    group.add_argument("--lease-timeout", type=_seconds, metavar="S",
                       help="re-queue a URL whose worker has not acknowledged it after S seconds "
                            "(CONSENT_LEASE_TIMEOUT, default 60)")


def require_pyarrow(what: str) -> None:
    """`UsageError` (one line, exit 2) naming the `dataset` extra when pyarrow is not installed."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError(f"{what} needs pyarrow: pip install 'consentry[dataset]'") from None


def _keep(args: argparse.Namespace) -> list[str] | None:
    if args.keep_columns is None:
        return None
    return [name.strip() for name in args.keep_columns.split(",") if name.strip()]


def list_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Check the list/dataset options; the settings list mode implies (a dropped page is not kept for its
    links: list mode follows none)."""
    if args.url_file is not None and args.urls:
        raise UsageError("give URL arguments or --urls FILE, not both")
    redis = getattr(args, "redis", None)
    if redis and args.urls:
        raise UsageError("--redis: a worker crawls the run's queue; seed it with --urls FILE or consentry queue push")
    if args.url_file is None and not args.urls and not redis:
        raise UsageError("nothing to crawl: give start URLs or --urls FILE")
    if args.shard_size < 1:
        raise UsageError("--shard-size must be 1 or more")
    if args.dataset:
        require_pyarrow(f"--dataset {args.dataset}")
    return {"CONSENT_FOLLOW_DROPPED_PAGES": False} if args.url_file is not None or redis else {}


def open_list(args: argparse.Namespace) -> UrlList | None:
    """The opened URL list of `--urls` (`UsageError` when the file is unusable), or None."""
    if args.url_file is None:
        return None
    if args.url_file.suffix.lower() == ".parquet":
        require_pyarrow("a parquet URL list")
    return open_url_list(args.url_file, url_column=args.url_column, keep_columns=_keep(args),
                         caption_column=args.caption_column)


def list_summary_lines(summary: Any, url_list: UrlList | None, dataset_dir: str = "dataset/") -> list[str]:
    """The summary's URL-list and dataset lines (`dataset_dir`: the shards' folder under the output directory)."""
    lines = []
    if url_list is not None:
        lines.append(f"  {url_list.invalid_line()}")
    shards = summary.stats.get("consent/dataset/shards")
    if shards is not None:
        lines.append(f"  dataset: {summary.out_dir}/{dataset_dir} ({summary.stats.get('consent/dataset/samples', 0)} "
                     f"samples in {shards} shards)")
    return lines