"""Pushed Authorization Requests (RFC 9126).

`POST /par`: the client authenticates as at the token endpoint (§2), the request is validated as the
authorization endpoint would (§2.1: Authlib's own authorization-request checks: response type, redirect URI,
scope, PKCE S256, OpenID), and only then stored under a random, short-lived, single-use `request_uri` bound to
the client (§2.2). `take` gives the authorization endpoint the pushed parameters, and only those (§4).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.endpoint import EndpointRequest
from authlib.oauth2.rfc6749.token_endpoint import TokenEndpoint
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.oauth import dpop
from idp.oauth.clients import Client
from idp.oauth.grants import ALL_AUTH_METHODS
from idp.oauth.issuing import Issuer
from idp.oauth.models import PushedRequest
from idp.settings import Settings

URN_PREFIX = "urn:ietf:params:oauth:request_uri:"
ENDPOINT_PATH = "/par"
# Parameters that authenticate the client (§2.1): never part of the authorization request itself.
_CLIENT_AUTH_PARAMS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})
MAX_PARAMS, MAX_VALUE = 50, 4096


class RequestNotSupportedError(OAuth2Error):  # type: ignore[misc]
    """OIDC Core §3.1.2.6 / RFC 9126 §3: request objects (JAR) are not supported here."""

    error = "request_not_supported"


class InvalidDPoPProofError(OAuth2Error):  # type: ignore[misc]
    error = "invalid_dpop_proof"


@dataclass
class Pushed(EndpointRequest):  # type: ignore[misc]
    params: dict[str, str] = field(default_factory=dict)


def required(client: Client, settings: Settings) -> bool:
    """RFC 9126 §4: PAR as the only way to pass an authorization request, globally or for this client."""
    return settings.require_par or client.require_pushed_authorization_requests


def _ref_hash(request_uri: str) -> str | None:
    if not request_uri.startswith(URN_PREFIX) or len(request_uri) > len(URN_PREFIX) + 128:
        return None
    return hashlib.sha256(request_uri[len(URN_PREFIX) :].encode()).hexdigest()


def take(session: Session, request_uri: str, client: Client) -> list[tuple[str, str]] | None:
    """The pushed parameters behind `request_uri`, claimed for good (single use); None when it is unknown,
    expired, used, or was pushed by another client (§2.2, §4)."""
    digest = _ref_hash(request_uri)
    if digest is None:
        return None
    now = utcnow()
    claimed = session.execute(
        update(PushedRequest)
        .where(
            PushedRequest.ref_hash == digest,
            PushedRequest.client_id == client.client_id,
            PushedRequest.used_at.is_(None),
            PushedRequest.expires_at > now,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.get(PushedRequest, digest)
    assert row is not None
    return [(k, str(v)) for k, v in row.params.items()]


class PushedAuthorization(TokenEndpoint):  # type: ignore[misc]
    ENDPOINT_NAME = "pushed_authorization"
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    @property
    def provider(self) -> Issuer:
        return self.server.provider  # type: ignore[no-any-return]

    def validate_request(self, request: Any) -> Pushed:
        # §2.1 step 1: authenticate the client exactly as the token endpoint does.
        client = self.authenticate_endpoint_client(request)
        params = {k: v for k, v in request.payload.data.items() if k not in _CLIENT_AUTH_PARAMS}
        if any(len(v) > 1 for v in request.payload.datalist.values()):
            raise InvalidRequestError("a parameter is repeated")
        if len(params) > MAX_PARAMS or any(len(v) > MAX_VALUE for v in params.values()):
            raise InvalidRequestError("too many or too long parameters")
        if params.get("client_id") != client.client_id:
            raise InvalidRequestError("client_id must be present and name the authenticated client")
        # §2.1 step 2.
        if "request_uri" in params:
            raise InvalidRequestError("request_uri must not be pushed")
        if "request" in params:
            raise RequestNotSupportedError("request objects are not supported; push the parameters themselves")
        self._bind_dpop_key(request, params)
        # §2.1 step 3: what the authorization endpoint would check, now, before any request_uri exists.
        validate_authorization_request(self.server, self.provider.settings.issuer, params, type(request))
        return Pushed(request=request, client=client, params=params)

    def _bind_dpop_key(self, request: Any, params: dict[str, str]) -> None:
        """RFC 9449 §10.1: a proof at PAR binds the code to its key; with `dpop_jkt` too, they must agree."""
        if not dpop.present(request.headers):
            return
        settings = self.provider.settings
        try:
            proof = self.provider.dpop.check(request.headers, "POST", settings.issuer + ENDPOINT_PATH)
        except dpop.DPoPError as exc:
            raise InvalidDPoPProofError(str(exc)) from None
        if params.get("dpop_jkt", proof.jkt) != proof.jkt:
            raise InvalidDPoPProofError("dpop_jkt does not match the key of the DPoP proof")
        params["dpop_jkt"] = proof.jkt

    def create_endpoint_response(self, request: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return self.create_response(self.validate_request(request))

    def create_response(self, validated: Pushed) -> tuple[int, Any, list[tuple[str, str]]]:
        request, client, params = validated.request, validated.client, validated.params
        reference = secrets.token_urlsafe(32)
        ttl = self.provider.settings.par_ttl
        with self.provider.unit(request) as session:
            session.add(
                PushedRequest(
                    ref_hash=hashlib.sha256(reference.encode()).hexdigest(),
                    client_id=client.client_id,
                    params=params,
                    expires_at=utcnow() + timedelta(seconds=ttl),
                )
            )
        body = {"request_uri": URN_PREFIX + reference, "expires_in": ttl}
        return 201, body, [("Cache-Control", "no-store")]


def validate_authorization_request(server: Any, issuer: str, params: dict[str, str], request_type: Any) -> None:
    """The authorization endpoint's protocol checks (Authlib's grant, with PKCE and OpenID hooks), without a
    person: `prompt` is judged when the request is used (RFC 9126 §2.1 allows checks it cannot make yet).
    `request_type` is the provider's request class (passed in: the provider imports this module)."""
    oauth_req = request_type("GET", f"{issuer}/authorize", {}, list(params.items()), [])
    oauth_req.user = None
    try:
        grant = server.get_authorization_grant(oauth_req)
        grant.validate_no_multiple_request_parameter(oauth_req)
        grant.validate_authorization_request()
    except OAuth2Error as exc:
        exc.redirect_uri = None  # the answer goes to the client directly, as JSON (§2.3), never a redirect
        raise
    max_age = params.get("max_age")
    if max_age is not None and not max_age.isdigit():
        raise InvalidRequestError("max_age must be a non-negative integer")
    if "dpop_jkt" in params and not dpop.is_thumbprint(params["dpop_jkt"]):
        raise InvalidRequestError("dpop_jkt must be a base64url SHA-256 JWK thumbprint")
