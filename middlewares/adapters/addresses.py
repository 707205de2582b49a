"""Which targets consentry may dial on a site's behalf: http(s) only, public addresses only.

Every fetch (site files, licences, manifests, assets, every redirect hop) passes `FetchGuard`: a URL whose
scheme is not `http`/`https` (RFC 9110 §4.2) is refused, and so is a host that resolves to an address that is
not globally reachable: loopback, private (RFC 1918, RFC 4193), link-local (RFC 3927, RFC 4291, including the
cloud metadata address 169.254.169.254), multicast, reserved, shared (RFC 6598) or documentation ranges — the
IANA special-purpose address registries of RFC 6890, as `ipaddress`' `is_global` reads them. The check runs on
the addresses the name resolves to (after DNS), before a connection is opened, and the connection is made to
the checked address. Addresses the user chose are allowed: those of the crawl's start URLs (or `check`'s
URLs), and every address when `CONSENT_ALLOW_PRIVATE_ADDRESSES` is true. A refusal is a `TargetRefused`
whose message is the evidence a decision carries. `request_url` is the one spelling of a URL that is both
requested and matched against robots.txt.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from consentry.policies.robots.urlpattern import request_path

__all__ = [
    "ALLOWED_SCHEMES",
    "REFUSAL_PREFIX",
    "FetchGuard",
    "Resolve",
    "TargetRefused",
    "request_url",
    "resolve_host",
    "scheme_refusal",
]

#: How every refusal's message (its evidence) begins; the audit recognises an archived refusal by it.
REFUSAL_PREFIX = "refused: "

#: The only schemes consentry fetches.
ALLOWED_SCHEMES = frozenset({"http", "https"})

#: host -> its addresses (text form); `socket.getaddrinfo` by default, injectable in tests.
Resolve = Callable[[str], list[str]]


class TargetRefused(ValueError):
    """A fetch target refused by the scheme or address policy (the message is the evidence)."""


def resolve_host(host: str) -> list[str]:
    """The addresses `host` resolves to (an IP literal is its own address); `OSError` when it does not."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def request_url(url: str) -> str:
    """`url` as it is requested and matched: its path normalised by `request_path` (dot segments removed,
    unreserved escapes decoded — RFC 3986 §6.2.2, RFC 9309 §2.2.2), the fragment dropped."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    return f"{parts.scheme}://{parts.netloc}{request_path(url)}"


def scheme_refusal(url: str) -> str | None:
    """Why `url` may not be fetched for its scheme (None for http/https)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ALLOWED_SCHEMES:
        return None
    return f"{REFUSAL_PREFIX}scheme {scheme or '(none)'!r} of {url} is not http(s)"


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    kinds = (("loopback", address.is_loopback), ("unspecified", address.is_unspecified),
             ("link-local", address.is_link_local), ("multicast", address.is_multicast),
             ("reserved", address.is_reserved), ("private", address.is_private))
    return next((name for name, hit in kinds if hit), "non-public")


def address_refusal(text: str) -> str | None:
    """Why an address is not public (None when it is globally reachable unicast)."""
    address = ipaddress.ip_address(text)
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_global and not address.is_multicast:
        return None
    return f"{_kind(address)} address {text}"


@dataclass
class FetchGuard:
    """The scheme and address policy of one crawl or check run."""

    allow_private: bool = False
    allowed: set[str] = field(default_factory=set)
    resolve: Resolve = resolve_host

    def allow_urls(self, urls: Iterable[str]) -> None:
        """Allow the addresses of the user's own URLs (start URLs, `check` URLs); unresolvable ones are skipped."""
        for url in urls:
            host = urlsplit(url).hostname
            if host:
                try:
                    self.allowed.update(self.resolve(host))
                except OSError:
                    continue

    def check_address(self, host: str, address: str) -> None:
        """`TargetRefused` unless `address` (that `host` resolved to) may be dialled."""
        if self.allow_private or address in self.allowed:
            return
        why = address_refusal(address)
        if why is not None:
            raise TargetRefused(f"{REFUSAL_PREFIX}{host} resolves to {why} (CONSENT_ALLOW_PRIVATE_ADDRESSES is off)")

    def addresses(self, host: str) -> list[str]:
        """The addresses of `host`, every one checked (`TargetRefused`), `OSError` when it does not resolve."""
        found = self.resolve(host)
        for address in found:
            self.check_address(host, address)
        return found

    def check_url(self, url: str) -> None:
        """`TargetRefused` for a non-http(s) URL; an IP-literal host is checked here, a name when it is resolved."""
        why = scheme_refusal(url)
        if why is not None:
            raise TargetRefused(why)
        host = urlsplit(url).hostname or ""
        literal = _literal(host)
        if literal is not None:
            self.check_address(host, literal)
