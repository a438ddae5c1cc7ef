"""Authorization responses to the client (RFC 6749 §4.1.2, §4.1.2.1) with `iss` (RFC 9207 §2)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit


def add_params(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def to_client(issuer: str, redirect_uri: str, params: dict[str, str]) -> str:
    """Every authorization response, success or error, names us as `iss`."""
    return add_params(redirect_uri, {**params, "iss": issuer})


def error_to_client(issuer: str, req: dict[str, str], error: str, description: str) -> str:
    params = {"error": error, "error_description": description}
    if req.get("state"):
        params["state"] = req["state"]
    return to_client(issuer, req["redirect_uri"], params)
