"""Redirect URIs: registered exactly, matched exactly (RFC 9700 §4.1.3).

No wildcards, no normalisation: `https://a.example/cb` and `https://a.example/cb/` are different URIs.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlsplit

_LOOPBACK = ("127.0.0.1", "[::1]", "localhost")
# A native app's loopback redirect: http, an IP literal, any port (RFC 8252 §7.3, RFC 9700 §2.1). Not
# `localhost` (RFC 8252 §8.3: NOT RECOMMENDED), so that is matched exactly like any other URI.
_LOOPBACK_PORT = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?(?=[/?]|$)")


def registration_problem(uri: str) -> str | None:
    """Why a URI can't be registered as a redirect target, or None."""
    if len(uri) > 1000:
        return "too long"
    if any(c.isspace() or ord(c) < 0x20 for c in uri):
        return "contains whitespace or control characters"
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError:
        return "not a valid URI"
    if parts.scheme not in ("https", "http"):
        return "must use https (or http on a loopback address)"
    if not parts.hostname:
        return "has no host"
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        return "http is only allowed for loopback addresses"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not carry credentials (@) in the authority"
    if parts.fragment or "#" in uri:
        return "must not have a fragment"
    if "*" in uri:
        return "wildcards are not allowed"
    if ".." in parts.path or ";" in parts.path or "%2e" in parts.path.lower():
        return "path traversal sequences are not allowed"
    return None


def _without_loopback_port(uri: str) -> str | None:
    found = _LOOPBACK_PORT.match(uri)
    return None if found is None else f"http://{found.group(1)}{uri[found.end() :]}"


def matches(candidate: str, registered: tuple[str, ...] | list[str]) -> bool:
    """Exact, case-sensitive string equality with one registered URI; for a loopback IP literal over http the
    port may vary (RFC 9700 §2.1: the authorization server MUST allow variable ports there)."""
    if not candidate:
        return False
    if any(hmac.compare_digest(candidate.encode(), r.encode()) for r in registered):
        return True
    portless = _without_loopback_port(candidate)
    if portless is None:
        return False
    return any(hmac.compare_digest(portless.encode(), (_without_loopback_port(r) or "").encode()) for r in registered)
