"""The address check at the moment of dialling: a name resolver that hands Twisted only addresses the
crawl's `FetchGuard`s allow.

`FetchGuardMiddleware` checks a request's host before the request reaches the downloader, but the download
handler resolves the name again when it connects (Twisted's `HostnameEndpoint` asks the reactor's
`nameResolver`). With Scrapy's DNS cache off, or after it expired, a name can answer a public address to the
check and a private one to the connection (DNS rebinding). `DialGuard` wraps the reactor's name resolver
(`IReactorPluggableNameResolver`): every address it resolves passes the same policy (`FetchGuard.check_address`)
before Twisted sees it, so a refused address is never dialled; when none is left the connection fails with
Twisted's DNS lookup error and the refusal is kept (`refusal(host)`) for the middleware to report as the
reason. One `DialGuard` serves every crawl on the reactor: an address is dialled when any of their guards
allows it (public addresses always pass; a crawl's own start addresses and `CONSENT_ALLOW_PRIVATE_ADDRESSES`
are per crawl).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer

from consentry.middlewares.adapters.addresses import FetchGuard, TargetRefused

__all__ = ["DialGuard", "install", "uninstall"]


@implementer(IResolutionReceiver)
class _Filter:
    """Passes on the addresses `DialGuard` allows; remembers why the others were refused."""

    def __init__(self, receiver: Any, host: str, guard: DialGuard) -> None:
        self._receiver, self._host, self._guard = receiver, host, guard

    def resolutionBegan(self, resolution: Any) -> None:
        self._receiver.resolutionBegan(resolution)

    def addressResolved(self, address: Any) -> None:
        if self._guard.refuse(self._host, str(getattr(address, "host", ""))) is None:
            self._receiver.addressResolved(address)

    def resolutionComplete(self) -> None:
        self._receiver.resolutionComplete()


@implementer(IHostnameResolver)
class DialGuard:
    """The reactor's name resolver, filtered by the crawls' `FetchGuard`s."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.guards: list[FetchGuard] = []
        self._refused: dict[str, str] = {}

    def refuse(self, host: str, address: str) -> str | None:
        """Why no guard lets `host`'s `address` be dialled (None: dial it). The answer is remembered for
        `refusal`: a refused address until `host` resolves to one that may be dialled."""
        why = None
        for guard in self.guards:
            try:
                guard.check_address(host, address)
            except TargetRefused as exc:
                why = str(exc)
                continue
            self._refused.pop(host, None)
            return None
        if why is not None:
            self._refused[host] = why
        return why

    def refusal(self, host: str) -> str | None:
        """Why the last dial of `host` was refused, if it was."""
        return self._refused.get(host)

    def resolveHostName(self, resolutionReceiver: Any, hostName: str, portNumber: int = 0,
                        addressTypes: Any = None, transportSemantics: str = "TCP") -> Any:
        """Twisted's `IHostnameResolver`: the inner resolver's answer, filtered."""
        return self.inner.resolveHostName(_Filter(resolutionReceiver, hostName, self), hostName, portNumber,
                                          addressTypes, transportSemantics)


def install(reactor: Any, guard: FetchGuard) -> DialGuard | None:
    """Put `guard` on the reactor's `DialGuard` (installed around its name resolver on first use); None when the
    reactor has no pluggable name resolver."""
    current = getattr(reactor, "nameResolver", None)
    if current is None or not hasattr(reactor, "installNameResolver"):
        return None
    if not isinstance(current, DialGuard):
        current = DialGuard(current)
        _install_name_resolver(reactor, current)
    current.guards.append(guard)
    return current


def _install_name_resolver(reactor: Any, resolver: Any) -> None:
    """Install `resolver` for connections only: `installNameResolver` also replaces the reactor's simple
    resolver (`reactor.resolve`, which the fetch guard's own check asks), which keeps its unfiltered answers."""
    simple = reactor.resolver
    reactor.installNameResolver(resolver)
    reactor.resolver = simple


def uninstall(reactor: Any, guard: FetchGuard) -> None:
    """Take `guard` off; the last one out restores the resolver it wrapped."""
    current = getattr(reactor, "nameResolver", None)
    if not isinstance(current, DialGuard):
        return
    if guard in current.guards:
        current.guards.remove(guard)
    if not current.guards:
        _install_name_resolver(reactor, current.inner)
