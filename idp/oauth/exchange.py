"""OAuth 2.0 Token Exchange (RFC 8693): a department's back end acting for a citizen at another department's API.

The client (the actor) sends the citizen's access token as `subject_token` and names the target with `audience`
and/or `resource` (§2.1). It gets a new access token for that target with an `act` claim naming itself (§4.1;
nested when the subject token already records an actor), never longer-lived than the subject token and never
wider in scope than both the subject token and the client's registered `exchange_scopes`; the audiences it may
ask for are its registered `exchange_audiences`. Every exchange is audited.

Errors as §2.2.2 says: an invalid or unacceptable subject token (bad signature, another issuer, expired, revoked,
issued to another client) is `invalid_request` — the RFC says that code MUST be used there, so not
`invalid_grant`; a target the client may not ask for is `invalid_target`; a scope beyond what is allowed is
`invalid_scope` (RFC 6749 §5.2).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, UnauthorizedClientError, grants

from idp import audit
from idp.oauth import tokens
from idp.oauth.clients import EXCHANGE_GRANT, Client
from idp.oauth.grants import CONFIDENTIAL_AUTH_METHODS
from idp.oauth.issuing import Issuer
from idp.oauth.models import ExchangedToken
from idp.oauth.signer import InvalidToken

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
MAX_TARGETS = 10
# Claims of the subject token that describe the citizen's authentication and carry over unchanged.
_CARRIED = ("acr", "amr", "auth_time", "sid")


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8693 §2.2.2 (and RFC 8707 §2): the client may not have a token for this audience or resource."""

    error = "invalid_target"


def register(server: Any) -> None:
    server.register_grant(TokenExchangeGrant)


def targets(datalist: dict[str, list[str]]) -> list[str]:
    """`audience` and `resource` values, each possibly repeated (§2.1). Resources are absolute URIs without a
    fragment (RFC 8707 §2)."""
    audiences = datalist.get("audience", [])
    resources = datalist.get("resource", [])
    for uri in resources:
        parts = urlsplit(uri)
        if not parts.scheme or not parts.netloc or parts.fragment or "#" in uri:
            raise InvalidTargetError(description="resource must be an absolute URI without a fragment")
    found = list(dict.fromkeys([*audiences, *resources]))
    if not found:
        raise InvalidRequestError("name the target with audience or resource")
    if len(found) > MAX_TARGETS or any(not t or len(t) > 255 for t in found):
        raise InvalidTargetError(description="too many or malformed targets")
    return found


def narrowed_scope(asked: str | None, subject_scope: str, allowed: tuple[str, ...]) -> str:
    """The new token's scope: what was asked (default: all that may be), within the subject token's scope and
    the client's registered exchange scopes."""
    ceiling = [s for s in subject_scope.split() if s in allowed]
    if asked is None:
        if not ceiling:
            raise InvalidScopeError(description="nothing of the subject token's scope may be exchanged")
        return " ".join(ceiling)
    wanted = list(dict.fromkeys(asked.split()))
    beyond = [s for s in wanted if s not in ceiling]
    if beyond or not wanted:
        raise InvalidScopeError(description=f"scope {beyond[0] if beyond else ''!r} is beyond what may be exchanged")
    return " ".join(wanted)


def actor_claim(client_id: str, subject_claims: dict[str, Any]) -> dict[str, Any]:
    """§4.1: the current actor outermost; earlier actors nested inside, as the subject token recorded them."""
    act: dict[str, Any] = {"sub": client_id}
    previous = subject_claims.get("act")
    if isinstance(previous, dict):
        act["act"] = previous
    return act


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = EXCHANGE_GRANT
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_token_request(self) -> None:
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(description="this client may not exchange tokens")
        data = self.request.payload.data
        repeated = [
            k for k, v in self.request.payload.datalist.items() if len(v) > 1 and k not in ("audience", "resource")
        ]
        if repeated:
            raise InvalidRequestError(f"repeated parameter {repeated[0]}")
        if not data.get("subject_token") or not data.get("subject_token_type"):
            raise InvalidRequestError("subject_token and subject_token_type are required")
        if data["subject_token_type"] != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError(f"subject_token_type must be {ACCESS_TOKEN_TYPE}")
        if "actor_token" in data or "actor_token_type" in data:
            raise InvalidRequestError("actor_token is not accepted: the actor is the authenticated client")
        requested = data.get("requested_token_type")
        if requested is not None and requested != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError(f"only {ACCESS_TOKEN_TYPE} can be issued")
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        provider: Issuer = self.server.provider
        request = self.request
        client: Client = request.client
        data = request.payload.data
        with provider.unit(request) as session:
            try:
                subject = tokens.verify_access_token(
                    provider.signer, session, data["subject_token"], provider.settings.issuer
                )
            except InvalidToken as exc:
                raise InvalidRequestError(f"the subject_token is not acceptable: {exc}") from None
            if not _addressed_to(subject, client.client_id):
                raise InvalidRequestError("the subject_token was not issued to this client")
            if subject.get("client_id") == subject.get("sub"):
                raise InvalidRequestError("the subject_token is a client's own token, not a person's")
            wanted = targets(request.payload.datalist)
            refused = [t for t in wanted if t not in client.exchange_audiences]
            if refused:
                raise InvalidTargetError(description=f"this client may not act at {refused[0]!r}")
            scope = narrowed_scope(data.get("scope"), str(subject.get("scope", "")), client.exchange_scopes)
            now = int(time.time())
            # Never outlive the token it came from.
            exp = min(now + provider.settings.access_token_ttl, int(subject["exp"]))
            claims: dict[str, Any] = {
                "iss": provider.settings.issuer,
                "sub": subject["sub"],
                "aud": wanted[0] if len(wanted) == 1 else wanted,
                "exp": exp,
                "iat": now,
                "jti": tokens.new_jti(),
                "client_id": client.client_id,
                "scope": scope,
                "act": actor_claim(client.client_id, subject),
                **{k: subject[k] for k in _CARRIED if k in subject},
            }
            access_token = provider.signer.sign(claims, typ=tokens.AT_TYP)
            session.add(
                ExchangedToken(
                    jti=claims["jti"], parent_jti=str(subject["jti"]), expires_at=datetime.fromtimestamp(exp, UTC)
                )
            )
            audit.record(
                session,
                audit.Event(
                    action="oauth.token_exchange",
                    subject=str(subject["sub"]),
                    actor=client.client_id,
                    channel="oauth",
                    client=client.client_id,
                    detail={
                        "audience": wanted,
                        "scope": scope,
                        "subject_jti": subject["jti"],
                        "subject_client": subject.get("client_id"),
                        "jti": claims["jti"],
                        "exp": exp,
                    },
                ),
            )
        body = {
            "access_token": access_token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": max(0, exp - now),
            "scope": scope,
        }
        return 200, body, self.TOKEN_RESPONSE_HEADER


def _addressed_to(claims: dict[str, Any], client_id: str) -> bool:
    """The subject token was issued to this client, or names it in its audience (a chain of exchanges)."""
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    return claims.get("client_id") == client_id or client_id in audiences
