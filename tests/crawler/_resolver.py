"""A Scrapy DNS resolver for crawl tests: `*.test` names map to loopback addresses, nothing leaves the machine.

`internal.test` resolves to 127.0.0.2 — an address the test crawls' start URLs (127.0.0.1) are not on — so a
test can show that a name resolving to a non-public address is refused after resolution, before connecting.
"""

from __future__ import annotations

from collections.abc import Sequence

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer

NAMES = {"internal.test": "127.0.0.2"}


class MappedResolver(CachingThreadedResolver):
    """Scrapy's resolver with `NAMES` answered locally."""

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if name in NAMES:
            return defer.succeed(NAMES[name])
        return super().getHostByName(name, timeout)
