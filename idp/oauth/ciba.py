"""OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0), poll and ping modes.

The hotline's or a counter's app (a confidential client registered with `backchannel_token_delivery_mode`)
asks at the backchannel authentication endpoint (§7) for a citizen named by `login_hint` (a mainland mobile
number); the citizen gets an SMS with a link, signs in on their phone through the authentication engine and
approves or declines (`idp.authn.ciba`); the client collects the tokens at the token endpoint with the CIBA
grant (§10), after a ping (§10.2) or by polling (§7.3, §11).

Unknown hints. §13 defines `unknown_user_id` for when the OP "is not able to identify which end-user the
Client wishes to be authenticated". A well-formed mainland number *does* identify whom to ask — whoever holds
that phone, reached by SMS — whether or not they have registered with us; answering `unknown_user_id` for an
unregistered number would turn this endpoint into a registration oracle for anyone with a client secret (§15,
privacy). So a well-formed number always gets the same acknowledgement, the same database work and the same
limits; only when it belongs to a registered person is the SMS sent (after the response, so timing does not
tell either), and otherwise the request simply expires (`expired_token`). `unknown_user_id` is kept for a hint
that identifies no one at all: one that is not a mainland mobile number.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError
from authlib.oidc.core.util import create_half_hash
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utcnow
from idp.identity import InvalidIdentifier, normalize_mobile
from idp.logs import get_logger
from idp.oauth import scopes, tokens
from idp.oauth.ciba_models import APPROVED, DENIED, PENDING, CibaRequest
from idp.oauth.clients import CIBA_GRANT, Client
from idp.oauth.grants import CONFIDENTIAL_AUTH_METHODS
from idp.oauth.issuing import Issuer
from idp.oauth.ratelimit import Counters, allowed, window_left
from idp.records import people

log = get_logger("idp.oauth.ciba")

ENDPOINT_NAME = "backchannel_authentication"
DELIVERY_MODES = ("poll", "ping")
BINDING_MAX = 32
# Letters and digits of any script (Chinese included), spaces and a little punctuation: what a person can read
# aloud over the phone and compare at a glance (§7.1: "relatively short … a limited set of plain text characters").
_BINDING = re.compile(r"^[\w\u3000-\u303f\uff01-\uff5e \-#:.,()]+$")
# RFC 6750 §2.1 b64token: the syntax §7.1 requires of client_notification_token.
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
NOTIFICATION_TOKEN_MAX = 1024
PING_TIMEOUT_S = 3.0


class InvalidBindingMessageError(OAuth2Error):  # type: ignore[misc]
    """§13: the binding message is invalid or unacceptable for use in the context of the given request."""

    error = "invalid_binding_message"


class UnknownUserIdError(OAuth2Error):  # type: ignore[misc]
    """§13: the hint identifies no end-user."""

    error = "unknown_user_id"


class BackchannelAccessDeniedError(OAuth2Error):  # type: ignore[misc]
    """§13: access_denied at the backchannel endpoint is HTTP 403."""

    error = "access_denied"
    status_code = 403


class TooManyRequestsError(OAuth2Error):  # type: ignore[misc]
    """No CIBA error code covers a rate limit; 429 with Retry-After says it plainly (RFC 6585)."""

    error = "invalid_request"
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(description="too many backchannel requests; try again later")
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """The SMS to send once the request is committed: to whom, and the link to the approval page."""

    phone: str
    link: str


@dataclass(frozen=True)
class Asked:
    """A validated backchannel authentication request."""

    phone: str
    scope: str
    acr_values: str | None
    binding_message: str | None
    expires_in: int
    notification_token: str | None


def validate_binding_message(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > BINDING_MAX or not _BINDING.match(text) or "_" in text:
        raise InvalidBindingMessageError(
            description=f"binding_message: 1 to {BINDING_MAX} letters, digits, spaces or - # : . , ( )"
        )
    return text


def parse_request(data: dict[str, str], datalist: dict[str, list[str]], client: Client, settings: Any) -> Asked:
    """§7.1 and §7.2, in the order the spec lists the checks (after client authentication)."""
    repeated = [k for k, v in datalist.items() if len(v) > 1]
    if repeated:
        raise InvalidRequestError(f"repeated parameter {repeated[0]}")
    if not client.check_grant_type(CIBA_GRANT) or client.backchannel_token_delivery_mode not in DELIVERY_MODES:
        raise UnauthorizedClientError(description="this client is not registered for CIBA")
    if "request" in data or "request_uri" in data:
        raise InvalidRequestError("signed authentication requests are not supported")
    raw_scope = data.get("scope")
    if not raw_scope:
        raise InvalidRequestError("scope is required")
    asked = raw_scope.split()
    if "openid" not in asked:
        raise InvalidScopeError(description="scope must include openid")
    not_allowed = [s for s in asked if s not in client.scopes or s not in scopes.SUPPORTED]
    if not_allowed:
        raise InvalidScopeError(description=f"scope {not_allowed[0]} is not allowed for this client")
    notification = data.get("client_notification_token")
    if client.backchannel_token_delivery_mode == "ping":
        if not notification:
            raise InvalidRequestError("client_notification_token is required in ping mode")
        if len(notification) > NOTIFICATION_TOKEN_MAX or not _B64TOKEN.match(notification):
            raise InvalidRequestError("client_notification_token must be an RFC 6750 bearer token")
    else:
        notification = None
    hints = [h for h in ("login_hint", "login_hint_token", "id_token_hint") if h in data]
    if len(hints) != 1:
        raise InvalidRequestError("send exactly one of login_hint, login_hint_token, id_token_hint")
    if hints[0] != "login_hint":
        raise InvalidRequestError("only login_hint (a mobile phone number) is supported")
    requested = data.get("requested_expiry")
    expires_in = settings.ciba_ttl
    if requested is not None:
        if not requested.isdigit() or int(requested) <= 0 or len(requested) > 9:
            raise InvalidRequestError("requested_expiry must be a positive integer")
        expires_in = min(int(requested), settings.ciba_max_ttl)
    binding = validate_binding_message(data.get("binding_message"))
    try:
        phone = normalize_mobile(data["login_hint"])
    except InvalidIdentifier:
        raise UnknownUserIdError(description="login_hint must be a mainland mobile number") from None
    acr_values = data.get("acr_values") or None
    if acr_values is not None and len(acr_values) > 255:
        raise InvalidRequestError("acr_values is too long")
    return Asked(phone, " ".join(dict.fromkeys(asked)), acr_values, binding, expires_in, notification)


class Host(Issuer, Protocol):
    """What CIBA needs of the provider (the provider satisfies it; imports stay one way)."""

    counters: Counters


class Ciba:
    """The backchannel authentication endpoint and the CIBA grant, registered with the provider's server."""

    def __init__(self, provider: Host, server: Any) -> None:
        self.provider = provider
        self.server = server
        server.register_grant(CibaGrant)

    # --- §7: the backchannel authentication endpoint --------------------------------------------------
    def authenticate(self, request: Any) -> tuple[Any, Delivery | None]:
        """One unit of work: a refusal (an OAuth2Error) rolls it back and changes nothing."""
        p = self.provider
        try:
            with p.unit(request) as session:
                request.db = session
                client: Client = self.server.authenticate_client(request, CONFIDENTIAL_AUTH_METHODS, ENDPOINT_NAME)
                request.client = client
                asked = parse_request(request.payload.data, request.payload.datalist, client, p.settings)
                auth_req_id, delivery = self._store(session, client, asked)
                self._limit(session, client, asked.phone)
        except OAuth2Error as error:
            return self.server.handle_error_response(request, error), None
        body = {"auth_req_id": auth_req_id, "expires_in": asked.expires_in, "interval": p.settings.ciba_interval}
        return self.server.handle_response(200, body, []), delivery

    def _store(self, session: Session, client: Client, asked: Asked) -> tuple[str, Delivery | None]:
        p = self.provider
        protector = p.runtime.protector
        person = people.find_by_phone(session, protector, asked.phone)
        # ≥160 bits each (§7.3 recommends at least 160 bits for auth_req_id); stored only hashed.
        auth_req_id, link = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        row = CibaRequest(
            req_hash=digest(auth_req_id),
            link_hash=digest(link),
            client_id=client.client_id,
            person_id=person.id if person is not None else None,
            scope=asked.scope,
            acr_values=asked.acr_values,
            status=PENDING,
            interval=p.settings.ciba_interval,
            expires_at=utcnow() + timedelta(seconds=asked.expires_in),
            amr=[],
        )
        session.add(row)
        session.flush()
        if asked.binding_message is not None:
            row.binding_ct = protector.encrypt("ciba_requests", "binding_ct", row.id, asked.binding_message)
        if asked.notification_token is not None:
            # The ping must name the auth_req_id (§10.2): kept encrypted, for ping clients only.
            secret = json.dumps({"token": asked.notification_token, "auth_req_id": auth_req_id})
            row.notify_ct = protector.encrypt("ciba_requests", "notify_ct", row.id, secret)
        audit.record(
            session,
            audit.Event(
                action="ciba.request",
                subject=row.id,
                actor=client.client_id,
                channel="ciba",
                client=client.client_id,
                detail={"scope": asked.scope, "acr_values": asked.acr_values or "", "expires_in": asked.expires_in},
            ),
        )
        if person is None:
            return auth_req_id, None
        return auth_req_id, Delivery(asked.phone, f"{p.settings.issuer}/ciba/{link}")

    def _limit(self, session: Session, client: Client, phone: str) -> None:
        """Counted last, in the request's unit of work (the shared rows are locked only at commit); counted the
        same for a registered and an unregistered number. The phone's daily SMS budget is the sign-in's own."""
        s, counters = self.provider.settings, self.provider.counters
        key = self.provider.runtime.protector.index("phone", phone)
        for name, limit, window in (
            (f"ciba:client:{client.client_id}", s.ciba_per_client_per_minute, 60),
            (f"ciba:phone:{key}:h", s.ciba_per_phone_per_hour, 3600),
            (f"sms:phone:{key}:d", s.sms_per_phone_per_day, 86400),
        ):
            if not allowed(counters, name, limit, window, session):
                raise TooManyRequestsError(window_left(window))

    # --- §10.2: ping --------------------------------------------------------------------------------------
    def ping_target(self, session: Session, row: CibaRequest) -> tuple[str, str, str] | None:
        """(endpoint, bearer token, auth_req_id) when the request's client is in ping mode."""
        client = self.provider.clients.get(row.client_id)
        if client is None or client.backchannel_token_delivery_mode != "ping" or row.notify_ct is None:
            return None
        endpoint = client.backchannel_client_notification_endpoint
        if not endpoint:
            return None
        secret = json.loads(
            self.provider.runtime.protector.decrypt("ciba_requests", "notify_ct", row.id, row.notify_ct)
        )
        return endpoint, str(secret["token"]), str(secret["auth_req_id"])


async def ping(target: tuple[str, str, str]) -> None:
    """§10.2: POST {"auth_req_id"} with the client's bearer token. The client answers 204 (or 200); a failure is
    logged, never fatal: the client can still poll."""
    endpoint, token, auth_req_id = target
    try:
        async with httpx.AsyncClient(timeout=PING_TIMEOUT_S, follow_redirects=False) as http:
            response = await http.post(
                endpoint, json={"auth_req_id": auth_req_id}, headers={"Authorization": f"Bearer {token}"}
            )
        if response.status_code not in (200, 204):
            log.warning("ciba.ping_refused", endpoint=endpoint, status=response.status_code)
    except httpx.HTTPError as exc:
        log.warning("ciba.ping_failed", endpoint=endpoint, error=type(exc).__name__)


class CibaGrant(grants.BaseGrant, grants.TokenEndpointMixin):  # type: ignore[misc]
    """§10 token request, §11 token error responses."""

    GRANT_TYPE = CIBA_GRANT
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE) or client.backchannel_token_delivery_mode not in DELIVERY_MODES:
            raise UnauthorizedClientError(description="this client is not registered for CIBA")
        if not self.request.payload.data.get("auth_req_id"):
            raise InvalidRequestError("auth_req_id is required")
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        provider: Host = self.server.provider
        request = self.request
        client: Client = request.client
        with provider.unit(request) as session:
            row = _claim(session, client, request.payload.data["auth_req_id"])
            assert row.person_id is not None and row.acr is not None and row.auth_time is not None
            user = tokens.AuthUser(row.person_id, row.acr, tuple(row.amr), row.auth_time, row.sid)
            request.user = user
            token = self.generate_token(
                user=user, scope=row.scope, include_refresh_token=client.check_grant_type("refresh_token")
            )
            token["id_token"] = _id_token(provider, session, client, user, token["access_token"])
            self.save_token(token)
            audit.record(
                session,
                audit.Event(
                    action="oauth.ciba_token",
                    subject=row.person_id,
                    actor=client.client_id,
                    channel="ciba",
                    client=client.client_id,
                    detail={"scope": row.scope, "acr": row.acr},
                ),
            )
        return 200, token, self.TOKEN_RESPONSE_HEADER


def _claim(session: Session, client: Client, auth_req_id: str) -> CibaRequest:
    """The request, judged as §11 says; an approved one is claimed at most once (single use)."""
    row = session.scalar(select(CibaRequest).where(CibaRequest.req_hash == digest(auth_req_id)).with_for_update())
    if row is None or row.client_id != client.client_id:
        raise InvalidGrantError(description="unknown auth_req_id")
    if row.used_at is not None:
        raise InvalidGrantError(description="this auth_req_id was already used")
    now = utcnow()
    if row.expires_at <= now:
        raise ExpiredTokenError()
    if row.status == DENIED:
        raise AccessDeniedError(description="the person declined")
    if row.status == PENDING:
        too_soon = row.last_poll_at is not None and (now - row.last_poll_at).total_seconds() < row.interval
        # The poll is recorded either way (this unit commits the error response); a poll too soon raises the
        # interval by 5 s "for this and all subsequent requests" (§11 slow_down).
        row.last_poll_at = now
        if too_soon:
            row.interval += 5
            raise SlowDownError()
        raise AuthorizationPendingError()
    assert row.status == APPROVED
    claimed = session.execute(
        update(CibaRequest).where(CibaRequest.id == row.id, CibaRequest.used_at.is_(None)).values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidGrantError(description="this auth_req_id was already used")
    return row


def _id_token(provider: Host, session: Session, client: Client, user: tokens.AuthUser, access_token: str) -> str:
    """OIDC Core §2 ID token (CIBA §10.1.1: as in the code flow; no nonce, there is no front channel)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": provider.settings.issuer,
        "sub": provider.subject_of(client, user.person_id, session),
        "aud": client.client_id,
        "exp": now + provider.settings.id_token_ttl,
        "iat": now,
        "auth_time": user.auth_time,
        "acr": user.acr,
        "amr": list(user.amr),
        "at_hash": create_half_hash(access_token, provider.signer.alg).decode(),
    }
    if user.sid:
        claims["sid"] = user.sid
    return provider.signer.sign(claims)
