"""Shared helpers for crawl tests: run `consentry crawl` (python -m consentry.crawler.cli crawl) against loopback sites.

Each crawl runs in its own process because Twisted's reactor cannot be restarted in one process; the
loopback `SiteServer`s run in the test process, so their request logs are visible here.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from consentry.crawler.demo.server import Route

ROOT = Path(__file__).resolve().parents[2]
SITE_FILES = frozenset({"/robots.txt", "/ai.txt", "/.well-known/tdmrep.json"})

#: A user's own Scrapy spider (a test project's `spiders/site.py`): dict items, page links, media with `consent_media`.
USER_SPIDER = '''
import scrapy


class SiteSpider(scrapy.Spider):
    name = "site"

    def __init__(self, start_url=None, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start_url]

    def parse(self, response):
        yield {"url": response.url, "title": response.css("title::text").get()}
        for src in response.css("img::attr(src)").getall():
            yield response.follow(src, callback=self.media, meta={"consent_media": True})
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse)

    def media(self, response):
        yield {"url": response.url, "length": len(response.body)}
'''


def html(body: str, *headers: tuple[str, str], status: int = 200) -> Route:
    """An HTML route."""
    return Route.text(body, "text/html; charset=utf-8", status=status, headers=tuple(headers))


def jpeg(*headers: tuple[str, str], body: bytes = b"\xff\xd8\xff\xe0 fake jpeg body") -> Route:
    """A (fake) JPEG route with extra headers."""
    return Route(200, (("Content-Type", "image/jpeg"), *headers), body)


def gzipped(body: bytes, content_type: str = "text/html; charset=utf-8") -> Route:
    """A route whose body is gzip-encoded on the wire."""
    return Route(200, (("Content-Type", content_type), ("Content-Encoding", "gzip")), gzip.compress(body))


@dataclass
class CrawlResult:
    """What one crawl left on disk."""

    returncode: int
    stderr: str
    out: Path
    stdout: str = ""

    @property
    def items(self) -> list[dict[str, Any]]:
        path = self.out / "items.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    @property
    def decisions(self) -> list[dict[str, Any]]:
        path = self.out / "decisions.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def decision(self, url: str) -> dict[str, Any]:
        found = [d for d in self.decisions if d["url"] == url]
        assert len(found) == 1, f"{len(found)} decisions for {url}: {self.stderr[-2000:]}"
        return found[0]

    def item_urls(self) -> set[str]:
        return {item["url"] for item in self.items}

    def warc_records(self) -> list[Any]:
        return read_warc(self.out / "crawl.warc.gz")


def read_warc(path: Path) -> list[Any]:
    """(type, uri, headers dict, content bytes, raw bytes) for every record, read with warcio."""
    records = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            raw = record.raw_stream.read()
            records.append(
                (
                    record.rec_type,
                    record.rec_headers.get_header("WARC-Target-URI"),
                    dict(record.rec_headers.headers),
                    raw,
                    record.http_headers,
                )
            )
    return records


def crawl_command(
    urls: list[str], out: Path, *args: str, settings: dict[str, object] | None = None
) -> list[str]:
    """The argv of `python -m consentry.crawler.cli crawl`."""
    command = [sys.executable, "-m", "consentry.crawler.cli", "crawl", *urls, "-o", str(out), *args]
    for name, value in (settings or {}).items():
        command += ["--set", f"{name}={value}"]
    return command


def run_crawl(
    urls: list[str], out: Path, *args: str, settings: dict[str, object] | None = None, timeout: float = 60
) -> CrawlResult:
    """Run one crawl to completion."""
    proc = subprocess.run(
        crawl_command(urls, out, *args, settings=settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CrawlResult(proc.returncode, proc.stderr, out, proc.stdout)
