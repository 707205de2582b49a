"""The Scrapy side of `consentry crawl` and `consentry demo`: the crawl's settings and one in-process crawl.

Imported only when a crawl runs (`consentry.crawler.crawl.command` declares the arguments without Scrapy).
`run_crawl` is the reusable entry: it locks DIR (`consentry.crawler.crawl.outlock`), writes DIR/items.jsonl
(`consentry.crawler.crawl.items`), DIR/decisions.jsonl and DIR/crawl.warc.gz and returns a `CrawlSummary`,
whose `error` names the output file that could not be written when the crawl was stopped for it.
Each run replaces the files it writes (the decision log included, wherever `CONSENT_LOG_PATH` puts it): a
Scrapy project using the add-on appends to its decision log instead (docs/cli.md, "crawl: output directory").
The user's `--set` values are checked (`consentry.crawler.crawl.checks`) before the engine starts; the log
level follows `-v`/`-q`, and download errors are one line each (`consentry.crawler.crawl.errorlog`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings

from consentry.crawler.crawl.checks import check_scrapy_settings
from consentry.crawler.crawl.command import MAX_PAGE_LINKS, NOT_STARTED, CrawlSummary, summarise_log
from consentry.crawler.crawl.dataset import dataset_settings
from consentry.crawler.crawl.errorlog import REASON_STAT_PREFIX, VERBOSITY_SETTING, DownloadErrorLog
from consentry.crawler.crawl.items import ITEMS_PATH_SETTING, ItemsWriter
from consentry.crawler.crawl.outlock import OutputLock
from consentry.crawler.crawl.urllist import UrlList
from consentry.crawler.errors import UsageError
from consentry.crawler.spiders.assets import AssetSpider
from consentry.middlewares._appendfile import OUTPUT_ERROR_STAT
from consentry.middlewares._config import consent_settings
from consentry.policies.config import user_agent

__all__ = ["crawl_settings", "output_paths", "run_crawl"]

#: verbosity (-v minus -q) -> Scrapy's LOG_LEVEL; beyond the ends, the nearest end.
_LOG_LEVELS = {-1: "ERROR", 0: "WARNING", 1: "INFO", 2: "DEBUG"}
_OUTPUT_SETTINGS = ("CONSENT_LOG_PATH", "CONSENT_WARC_PATH", ITEMS_PATH_SETTING)


def _logging(settings: Settings, verbosity: int) -> None:
    settings.set("LOG_LEVEL", _LOG_LEVELS[max(-1, min(2, verbosity))], priority="project")
    settings.set(VERBOSITY_SETTING, verbosity, priority="project")
    if verbosity < 1:  # one readable line per message; -v keeps Scrapy's timestamped format
        settings.set("LOG_FORMAT", "%(levelname)s: %(message)s", priority="project")


def crawl_settings(out_dir: Path, overrides: Mapping[str, Any], *, verbosity: int = 0, prefix: str = "") -> Any:
    """The project settings plus output paths (each file name starting with `prefix`: a distributed worker's
    `RUN.WORKER.`) and overrides, `CONSENT_*` and the overridden Scrapy settings checked (`ValueError` naming
    the setting)."""
    settings = Settings()
    settings.setmodule("consentry.crawler.settings", priority="project")
    _logging(settings, verbosity)
    settings.set("CONSENT_LOG_PATH", str(out_dir / f"{prefix}decisions.jsonl"), priority="project")
    settings.set("CONSENT_WARC_PATH", str(out_dir / f"{prefix}crawl.warc.gz"), priority="project")
    settings.set(ITEMS_PATH_SETTING, str(out_dir / f"{prefix}items.jsonl"), priority="project")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions[ItemsWriter] = 500
    extensions[DownloadErrorLog] = 550
    if sys.stderr.isatty() and verbosity >= 0:  # a running count for a person watching (docs/cli.md: long work shows progress)
        settings.set("CONSENT_PROGRESS", True, priority="project")
        extensions["consentry.crawler.progress.CrawlProgress"] = 600
    settings.set("EXTENSIONS", extensions, priority="project")
    for name, value in overrides.items():
        try:
            settings.set(name, value, priority="cmdline")
        except ValueError:  # a component dict (EXTENSIONS, …) is parsed as JSON when set
            raise ValueError(f"--set {name}={value}: expected a JSON object") from None
    check_scrapy_settings(settings, overrides)
    agent = settings.get("CONSENT_AGENT")
    if "USER_AGENT" not in overrides and isinstance(agent, str):
        settings.set("USER_AGENT", user_agent(agent), priority="cmdline")
    if settings.getbool("CONSENT_ENABLED", True):
        consent_settings(settings)
    return settings


def output_paths(settings: Any) -> list[Path]:
    """The files a crawl with `settings` writes (decision log, WARC, items), as set."""
    return [Path(str(settings.get(name))) for name in _OUTPUT_SETTINGS if settings.get(name)]


def _check_outputs(settings: Any) -> None:
    """`UsageError` naming the output setting whose file cannot be written (before the engine starts)."""
    for name in _OUTPUT_SETTINGS:
        if not settings.get(name):
            continue
        path = Path(str(settings.get(name)))
        label = "-o" if name == ITEMS_PATH_SETTING else name
        if path.is_dir():
            raise UsageError(f"{label} {path}: is a directory, not a file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{label} {path}: cannot create its directory ({exc.strerror or exc})") from None
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise UsageError(f"{label} {path}: its directory is not writable")


def run_crawl(
    urls: Sequence[str],
    out_dir: Path | str,
    *,
    settings_overrides: Mapping[str, Any] | None = None,
    max_requests: int = 0,
    sitemaps: bool = False,
    verbosity: int = 0,
    url_list: UrlList | None = None,
    dataset: str = "",
    shard_size: int = 10_000,
    max_page_links: int = MAX_PAGE_LINKS,
    prefix: str = "",
) -> CrawlSummary:
    """Crawl `urls` (or, given `url_list`, exactly the listed URLs) in this process (once per process:
    Twisted's reactor cannot restart); `UsageError` when another crawl holds `out_dir`, `ValueError` for a bad
    setting. The output files are replaced. `sitemaps`: also start from robots.txt's sitemaps (`--sitemaps`).
    `dataset` (`webdataset`/`parquet`) also writes the kept assets as shards under `out_dir`/dataset/.
    `max_page_links`: links read from one page at most. `prefix` (a distributed worker's `RUN.WORKER.`): the
    spider takes its URLs from the run's Redis queue (`settings_overrides` name it), the output files and the
    dataset folder are named by it and the lock is the worker's own, so workers can share `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = crawl_settings(out, settings_overrides or {}, verbosity=verbosity, prefix=prefix)
    if dataset:
        dataset_settings(settings, out / "dataset" / prefix.rstrip("."), dataset, shard_size,
                         url_list.caption_column if url_list is not None else "caption")
    outputs = output_paths(settings)
    _check_outputs(settings)
    with OutputLock(out, prefix.rstrip(".")):
        for path in outputs:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot replace {path}: {exc.strerror or exc}") from None
        process = AsyncCrawlerProcess(settings)
        crawler = process.create_crawler(AssetSpider)
        process.crawl(crawler, urls=list(urls), max_requests=max_requests, sitemaps=sitemaps, url_list=url_list,
                      dataset=bool(dataset), max_page_links=max_page_links, cluster=bool(prefix))
        process.start()
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    counts = summarise_log(Path(str(settings.get("CONSENT_LOG_PATH") or out / "decisions.jsonl")))
    start, finish = stats.get("start_time"), stats.get("finish_time")
    elapsed = (finish - start).total_seconds() if start and finish else 0.0
    errors = {k.removeprefix(REASON_STAT_PREFIX): int(v) for k, v in stats.items()
              if k.startswith(REASON_STAT_PREFIX)}
    return CrawlSummary(
        out,
        int(stats.get("item_scraped_count", 0)),
        dict(counts.actions),
        {k: dict(v) for k, v in counts.by_mechanism.items()},
        elapsed,
        stats,
        error=str(stats.get(OUTPUT_ERROR_STAT) or ""),
        denied_kept=counts.denied_kept,
        download_errors=errors,
        finish_reason=str(stats.get("finish_reason") or NOT_STARTED),
        outputs=tuple(str(p) for p in outputs),
    )
