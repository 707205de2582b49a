"""Resolver injection for a `consentry` subprocess: put this folder on `PYTHONPATH` and no name reaches real DNS.

Python imports `sitecustomize` at start-up, so the real console script runs with `socket.getaddrinfo` answering
`*.test` names (RFC 2606) with 127.0.0.1 and failing every other name as unknown (EAI_NONAME) — a misspelled
host is "not found" without a packet leaving the machine. Address literals are passed through unchanged.
"""

from __future__ import annotations

import ipaddress
import socket

_real_getaddrinfo = socket.getaddrinfo


def _literal(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).strip("[]"))
    except ValueError:
        return False
    return True


def _getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host is None or _literal(host):
        return _real_getaddrinfo(host, port, *args, **kwargs)
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name == "test" or name.endswith(".test"):
        return _real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known ({name}: no real DNS in tests)")


socket.getaddrinfo = _getaddrinfo
