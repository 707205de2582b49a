"""The Scrapy side of `consentry crawl` and `consentry demo`: the crawl's settings and one in-process crawl.

Imported only when a crawl runs (`consentry.crawler.crawl.command` declares the arguments without Scrapy).
`run_crawl` is the reusable entry: it locks DIR (`consentry.crawler.crawl.outlock`), writes DIR/items.jsonl
(`consentry.crawler.crawl.items`), DIR/decisions.jsonl and DIR/crawl.warc.gz and returns a `CrawlSummary`,
whose `error` names the output file that could not be written when the crawl was stopped for it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings

from consentry.crawler.crawl.command import CrawlSummary, summarise_log
from consentry.crawler.crawl.dataset import dataset_settings
from consentry.crawler.crawl.items import ITEMS_PATH_SETTING, ItemsWriter
from consentry.crawler.crawl.outlock import OutputLock
from consentry.crawler.crawl.urllist import UrlList
from consentry.crawler.spiders.assets import AssetSpider
from consentry.middlewares._appendfile import OUTPUT_ERROR_STAT
from consentry.middlewares._config import consent_settings
from consentry.policies.config import user_agent

__all__ = ["crawl_settings", "run_crawl"]


def crawl_settings(out_dir: Path, overrides: Mapping[str, Any]) -> Any:
    """The project settings plus output paths and overrides, `CONSENT_*` validated (`ValueError`)."""
    settings = Settings()
    settings.setmodule("consentry.crawler.settings", priority="project")
    settings.set("LOG_LEVEL", "WARNING", priority="project")
    settings.set("CONSENT_LOG_PATH", str(out_dir / "decisions.jsonl"), priority="project")
    settings.set("CONSENT_WARC_PATH", str(out_dir / "crawl.warc.gz"), priority="project")
    settings.set(ITEMS_PATH_SETTING, str(out_dir / "items.jsonl"), priority="project")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions[ItemsWriter] = 500
    if sys.stderr.isatty():  # a running count for a person watching (docs/cli.md: long work shows progress)
        settings.set("CONSENT_PROGRESS", True, priority="project")
        extensions["consentry.crawler.progress.CrawlProgress"] = 600
    settings.set("EXTENSIONS", extensions, priority="project")
    settings.setdict(dict(overrides), priority="cmdline")
    agent = settings.get("CONSENT_AGENT")
    if "USER_AGENT" not in overrides and isinstance(agent, str):
        settings.set("USER_AGENT", user_agent(agent), priority="cmdline")
    if settings.getbool("CONSENT_ENABLED", True):
        consent_settings(settings)
    return settings


def run_crawl(
    urls: Sequence[str],
    out_dir: Path | str,
    *,
    settings_overrides: Mapping[str, Any] | None = None,
    max_requests: int = 0,
    url_list: UrlList | None = None,
    dataset: str = "",
    shard_size: int = 10_000,
) -> CrawlSummary:
    """Crawl `urls` (or, given `url_list`, exactly the listed URLs) in this process (once per process:
    Twisted's reactor cannot restart); `UsageError` when another crawl holds `out_dir`. `dataset`
    (`webdataset`/`parquet`) also writes the kept assets as shards under `out_dir`/dataset/."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = crawl_settings(out, settings_overrides or {})
    if dataset:
        dataset_settings(settings, out / "dataset", dataset, shard_size,
                         url_list.caption_column if url_list is not None else "caption")
    with OutputLock(out):
        for name in ("decisions.jsonl", "crawl.warc.gz", "items.jsonl"):
            (out / name).unlink(missing_ok=True)
        process = AsyncCrawlerProcess(settings)
        crawler = process.create_crawler(AssetSpider)
        process.crawl(crawler, urls=list(urls), max_requests=max_requests, url_list=url_list,
                      dataset=bool(dataset))
        process.start()
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    log_path = settings.get("CONSENT_LOG_PATH") or out / "decisions.jsonl"  # `--set CONSENT_LOG_PATH=…` moves it
    actions, by_mechanism = summarise_log(Path(log_path))
    start, finish = stats.get("start_time"), stats.get("finish_time")
    elapsed = (finish - start).total_seconds() if start and finish else 0.0
    return CrawlSummary(
        out,
        int(stats.get("item_scraped_count", 0)),
        dict(actions),
        {k: dict(v) for k, v in by_mechanism.items()},
        elapsed,
        stats,
        error=str(stats.get(OUTPUT_ERROR_STAT) or ""),
    )
