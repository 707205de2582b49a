"""`consentry crawl`'s items.jsonl: one JSON line per scraped item, written as the item is scraped.

Scrapy extension (installed by `consentry.crawler.crawl.runner`, replacing a `FEEDS` exporter, whose file
buffer lags the decision log and can leave a torn last line). Each line goes to the kernel whole through
`consentry.middlewares._appendfile.AppendOnlyFile` — as often as the decision log — so after a SIGKILL
items.jsonl holds every item scraped before it, and a line that cannot be written (a full disk) is not left
torn: the crawl is stopped and `consentry crawl` exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.serialize import ScrapyJSONEncoder

from consentry.middlewares._appendfile import AppendOnlyFile, OutputWriteError, stop_crawl

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

__all__ = ["ITEMS_PATH_SETTING", "ItemsWriter"]

#: The Scrapy setting naming the items file (set by `consentry.crawler.crawl.runner.crawl_settings`).
ITEMS_PATH_SETTING = "CONSENTRY_ITEMS_PATH"


class ItemsWriter:
    """Appends every scraped item to items.jsonl as one JSON line."""

    def __init__(self, path: str, crawler: Crawler) -> None:
        self.crawler = crawler
        self._file = AppendOnlyFile(path, "items file")
        self._encoder = ScrapyJSONEncoder(ensure_ascii=False)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """`NotConfigured` without `CONSENTRY_ITEMS_PATH`."""
        path = crawler.settings.get(ITEMS_PATH_SETTING)
        if not path:
            raise NotConfigured(f"{ITEMS_PATH_SETTING} is not set")
        writer = cls(str(path), crawler)
        crawler.signals.connect(writer.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(writer.close, signal=signals.engine_stopped)
        return writer

    def item_scraped(self, item: Any, **_: Any) -> None:
        """Write the item's line; a write failure stops the crawl. A plain dict (the spider's items) is encoded
        as it is; other item types through `ItemAdapter.asdict`."""
        line = self._encoder.encode(item if type(item) is dict else ItemAdapter(item).asdict()) + "\n"
        try:
            self._file.append(line.encode("utf-8"))
        except OutputWriteError as exc:
            stop_crawl(self.crawler, exc)

    def close(self) -> None:
        """Close items.jsonl at the end of the crawl."""
        self._file.close()


