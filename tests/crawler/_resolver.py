"""A Scrapy DNS resolver for crawl tests: `*.test` names map to loopback addresses, nothing leaves the machine.

`internal.test` resolves to 127.0.0.2 — an address the test crawls' start URLs (127.0.0.1) are not on — so a
test can show that a name resolving to a non-public address is refused after resolution, before connecting.
"""

from __future__ import annotations

from collections.abc import Sequence

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet._resolver import HostResolution
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer

NAMES = {"internal.test": "127.0.0.2"}


class MappedResolver(CachingThreadedResolver):
    """Scrapy's resolver with `NAMES` answered locally."""

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if name in NAMES:
            return defer.succeed(NAMES[name])
        return super().getHostByName(name, timeout)


#: `rebind.test` answers a public address to the fetch guard's check and a loopback one to the connection: a
#: name that rebinds between the two lookups. The public address is never dialled: Twisted's HTTP client
#: connects through the reactor's name resolver only, which answers 127.0.0.2.
REBINDING = {"rebind.test": ("93.184.216.34", "127.0.0.2")}


@implementer(IHostnameResolver)
class _ConnectionAnswers:
    """The connection's lookups: `REBINDING`'s second address, other names from the resolver it wraps."""

    def __init__(self, inner: IHostnameResolver) -> None:
        self.inner = inner

    def resolveHostName(self, resolutionReceiver: IResolutionReceiver, hostName: str,
                        portNumber: int = 0, addressTypes: object = None,
                        transportSemantics: str = "TCP") -> IResolutionReceiver:
        if hostName not in REBINDING:
            return self.inner.resolveHostName(resolutionReceiver, hostName, portNumber, addressTypes,
                                              transportSemantics)
        resolutionReceiver.resolutionBegan(HostResolution(hostName))
        resolutionReceiver.addressResolved(IPv4Address("TCP", REBINDING[hostName][1], portNumber))
        resolutionReceiver.resolutionComplete()
        return resolutionReceiver


class RebindingResolver(MappedResolver):
    """`MappedResolver` whose `REBINDING` names answer the check one address and the connection another."""

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if name in REBINDING:
            return defer.succeed(REBINDING[name][0])
        return super().getHostByName(name, timeout)

    def install_on_reactor(self) -> None:
        super().install_on_reactor()
        from twisted.internet import reactor

        reactor.installNameResolver(_ConnectionAnswers(reactor.nameResolver))  # type: ignore[attr-defined]
        reactor.resolver = self  # type: ignore[attr-defined]  # `reactor.resolve` keeps the first answer
