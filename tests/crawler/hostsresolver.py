"""A Scrapy `DNS_RESOLVER` for tests: every host under `.test` (RFC 2606 reserves the name) is 127.0.0.1.

Lets one loopback server stand for several sites (`allowed.test`, `excluded.test`, `cdn.excluded.test`) that
a crawl must tell apart by name, without real DNS; any other name goes to Scrapy's own resolver.
"""

from __future__ import annotations

from collections.abc import Sequence

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer

__all__ = ["LoopbackTestResolver"]


class LoopbackTestResolver(CachingThreadedResolver):
    """`*.test` → 127.0.0.1; everything else as Scrapy resolves it."""

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if name == "test" or name.endswith(".test"):
            return defer.succeed("127.0.0.1")
        return super().getHostByName(name, timeout)
