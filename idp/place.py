"""Where a request came from, as much of it as a person's own history may show: the network, not the address.

The web layer sets it per request (after the trusted proxies have been resolved); the engine reads it when it
records a sign-in, so the account centre's history can say "from 121.36.*.*" without the audit trail holding a
full IP address, which is personal information (PIPL art. 4) that the trail could never erase.
"""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar

CLIENT_NETWORK: ContextVar[str | None] = ContextVar("yiwang_client_network", default=None)


def masked_network(host: str | None) -> str | None:
    """IPv4 to its /16 ("121.36.*.*"), IPv6 to its /32 ("2408:8207::*"); anything else (a test client's
    name, a Unix socket) to None."""
    try:
        address = ipaddress.ip_address((host or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        a, b, _, _ = str(address).split(".")
        return f"{a}.{b}.*.*"
    groups = address.exploded.split(":")
    return f"{int(groups[0], 16):x}:{int(groups[1], 16):x}::*"


def current() -> str | None:
    return CLIENT_NETWORK.get()
