"""Hollow stand-ins for consentry's Scrapy components, for `bench_crawl --hollow`: the same kinds of component at
the same orders with the same hooks (downloader `process_request`/`process_response`/`process_exception`, the
`headers_received` and `response_downloaded` signal handlers, a spider-output middleware, two extensions), each
doing nothing. A crawl with these and Scrapy's `RobotsTxtMiddleware` measures what Scrapy's machinery charges for
carrying the component set of docs/architecture.md ("Scrapy integration") before any of them does its work: a
floor under the consent crawl's cost that no implementation of those components can go below.
"""

from __future__ import annotations

from typing import Any

from scrapy import signals


class _Hollow:
    """A component that does nothing; with `signal` set, it is connected to that signal (`received`)."""

    signal: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        component = cls()
        if cls.signal is not None:
            crawler.signals.connect(component.received, signal=cls.signal)
        return component

    def received(self, **_: Any) -> None:
        return None


class HollowFetchGuard(_Hollow):
    """At `FetchGuardMiddleware`'s order (50): an async request hook and an exception hook."""

    async def process_request(self, request: Any) -> None:
        return None

    def process_exception(self, request: Any, exception: Exception) -> None:
        return None


class HollowSiteFiles(_Hollow):
    """At `SiteFilesMiddleware`'s order (100): an async request hook."""

    async def process_request(self, request: Any) -> None:
        return None


class HollowAssets(_Hollow):
    """At `AssetConsentMiddleware`'s order (120): an async response hook and a `headers_received` handler."""

    signal = signals.headers_received

    async def process_response(self, request: Any, response: Any) -> Any:
        return response


class HollowPoliteness(_Hollow):
    """At `OriginPolitenessMiddleware`'s order (950): request, response and exception hooks."""

    async def process_request(self, request: Any) -> None:
        return None

    def process_response(self, request: Any, response: Any) -> Any:
        return response

    def process_exception(self, request: Any, exception: BaseException) -> None:
        return None


class HollowTagging:
    """At `ConsentTagMiddleware`'s order (800): spider output passed through (sync and async)."""

    def process_spider_output(self, response: Any, result: Any) -> Any:
        yield from result

    async def process_spider_output_async(self, response: Any, result: Any) -> Any:
        async for output in result:
            yield output


class HollowArchive(_Hollow):
    """Like `WarcExtension` and `DecisionLogExtension` together: a `response_downloaded` handler."""

    signal = signals.response_downloaded


#: The settings that install them (on top of the baseline's `RobotsTxtMiddleware`); `HollowArchive` is added to
#: the crawl's own EXTENSIONS (a setting here would replace them).
SETTINGS = {
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
        "bench.hollow.HollowFetchGuard": 50, "bench.hollow.HollowSiteFiles": 101,
        "bench.hollow.HollowAssets": 120, "bench.hollow.HollowPoliteness": 950,
    },
    "SPIDER_MIDDLEWARES": {"bench.hollow.HollowTagging": 800},
}
