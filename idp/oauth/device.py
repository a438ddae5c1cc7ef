"""OAuth 2.0 Device Authorization Grant (RFC 8628): the device authorization endpoint (§3.1-§3.2), the
device-code grant at the token endpoint (§3.4-§3.5), and the storage both share.

The person's side — entering the user code, signing in at the level asked for, approving — is a journey of
the authentication engine (`idp.authn.device`); this module only records what it decided (`approve`, `deny`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    BaseGrant,
    InvalidGrantError,
    InvalidRequestError,
    TokenEndpointMixin,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError
from authlib.oidc.core.util import create_half_hash
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.oauth import tokens
from idp.oauth.clients import DEVICE_CODE, Client
from idp.oauth.device_models import DeviceGrant
from idp.oauth.grants import ALL_AUTH_METHODS, token_hash
from idp.oauth.issuing import Issuer
from keys.protector import Protector

# RFC 8628 §6.1: base-20, no vowels (no words) and no look-alikes; 20^8 ≈ 2^34.6 codes.
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
SLOW_DOWN_STEP = 5  # §3.5: "the interval MUST be increased by 5 seconds for this and all subsequent requests"
MAX_ACR_VALUES = 255


def new_user_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(USER_CODE_LENGTH))


def shown(user_code: str) -> str:
    """XXXX-XXXX, as people read it (§6.1: the dash is punctuation, not part of the code)."""
    return f"{user_code[:4]}-{user_code[4:]}"


def normalise(typed: str) -> str | None:
    """What a person typed, as a user code: case-insensitive, dashes and spaces ignored (§6.1); else None."""
    if len(typed) > 32:
        return None
    code = "".join(ch for ch in typed.upper() if ch not in "- \t")
    if len(code) != USER_CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def user_code_index(protector: Protector, user_code: str) -> str:
    return protector.index("device_user_code", user_code)


# --- the device authorization endpoint (§3.1, §3.2) ----------------------------------------------------
class DeviceAuthorization:
    """POST /device_authorization. Client authentication as at the token endpoint (§3.1: "the client
    authentication requirements of Section 3.2.1 of [RFC6749] apply")."""

    ENDPOINT_NAME = "device_authorization"

    def __init__(self, server: Any) -> None:
        self.server = server

    @property
    def provider(self) -> Issuer:
        return self.server.provider  # type: ignore[no-any-return]

    def create_endpoint_request(self, request: Any) -> Any:
        return request

    def __call__(self, request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: Client = self.server.authenticate_client(request, ALL_AUTH_METHODS, self.ENDPOINT_NAME)
        if not client.check_grant_type(DEVICE_CODE):
            raise UnauthorizedClientError("this client is not registered for the device authorization grant")
        data = request.payload.data
        self.server.validate_requested_scope(data.get("scope"))
        acr_values = data.get("acr_values") or None
        if acr_values is not None and len(acr_values) > MAX_ACR_VALUES:
            raise InvalidRequestError("acr_values is too long")
        p = self.provider
        device_code = secrets.token_urlsafe(32)
        with p.unit(request) as session:
            user_code = _store(
                session,
                p.runtime.protector,
                device_code=device_code,
                client_id=client.client_id,
                scope=client.get_allowed_scope(data.get("scope") or ""),
                acr_values=acr_values,
                interval=p.settings.device_poll_interval,
                ttl=p.settings.device_code_ttl,
            )
        verification = f"{p.settings.issuer}/device"
        body = {
            "device_code": device_code,
            "user_code": shown(user_code),
            "verification_uri": verification,
            "verification_uri_complete": f"{verification}?{urlencode({'user_code': shown(user_code)})}",
            "expires_in": p.settings.device_code_ttl,
            "interval": p.settings.device_poll_interval,
        }
        return 200, body, [("Content-Type", "application/json")]


def _store(
    session: Session,
    protector: Protector,
    *,
    device_code: str,
    client_id: str,
    scope: str,
    acr_values: str | None,
    interval: int,
    ttl: int,
) -> str:
    """A new pending grant; returns its user code. A user code already live is drawn again (unique index)."""
    for _ in range(5):
        user_code = new_user_code()
        try:
            with session.begin_nested():
                session.add(
                    DeviceGrant(
                        device_code_hash=token_hash(device_code),
                        user_code_index=user_code_index(protector, user_code),
                        client_id=client_id,
                        scope=scope,
                        acr_values=acr_values,
                        status="pending",
                        interval=interval,
                        expires_at=utcnow() + timedelta(seconds=ttl),
                    )
                )
            return user_code
        except IntegrityError:
            continue
    raise InvalidRequestError("no user code could be drawn; try again")


# --- the person's decision (called by the engine's device journey) -------------------------------------
def find_pending(session: Session, protector: Protector, user_code: str) -> DeviceGrant | None:
    """The live, undecided request a user code names; None for an unknown, decided or expired one."""
    row = session.query(DeviceGrant).filter_by(user_code_index=user_code_index(protector, user_code)).one_or_none()
    if row is None or row.status != "pending" or row.expires_at <= utcnow():
        return None
    return row


def decide(session: Session, device_code_hash: str, user: tokens.AuthUser | None) -> bool:
    """Approve (a user) or deny (None) a pending request; False when it is no longer pending or has expired.
    One conditional UPDATE: of two decisions racing, exactly one wins."""
    now = utcnow()
    values: dict[str, Any] = {"status": "denied", "decided_at": now}
    if user is not None:
        values = {
            "status": "approved",
            "decided_at": now,
            "person_id": user.person_id,
            "acr": user.acr,
            "amr": list(user.amr),
            "auth_time": user.auth_time,
        }
    done = session.execute(
        update(DeviceGrant)
        .where(
            DeviceGrant.device_code_hash == device_code_hash,
            DeviceGrant.status == "pending",
            DeviceGrant.expires_at > now,
        )
        .values(**values)
    )
    return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]


# --- the device-code grant at the token endpoint (§3.4, §3.5) ------------------------------------------
@dataclass(frozen=True)
class DeviceCredential:
    client_id: str
    scope: str

    def get_scope(self) -> str:
        return self.scope


class DeviceCodeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = DEVICE_CODE
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    @property
    def provider(self) -> Issuer:
        return self.server.provider  # type: ignore[no-any-return]

    def validate_token_request(self) -> None:
        device_code = self.request.payload.data.get("device_code")
        if not device_code:
            raise InvalidRequestError("missing device_code")
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("this client is not registered for the device-code grant")
        with self.provider.unit(self.request) as session:
            row = session.get(DeviceGrant, token_hash(device_code), with_for_update=True)
            if row is None or row.client_id != client.client_id:
                raise InvalidGrantError("unknown device_code")
            user = _judge(session, row)
        self.request.user = user
        self.request.client = client
        self.request.credential = DeviceCredential(row.client_id, row.scope)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: Client = self.request.client
        scope = self.request.credential.get_scope()
        # A shared device keeps nothing that outlives the person standing at it: no refresh token.
        refresh = client.check_grant_type("refresh_token") and not client.shared_device
        token = self.generate_token(user=self.request.user, scope=scope, include_refresh_token=refresh)
        if "openid" in scope.split():
            token["id_token"] = _id_token(self.provider, client, self.request.user, token["access_token"])
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


def _judge(session: Session, row: DeviceGrant) -> tokens.AuthUser:
    """§3.5, in the order that makes each answer true: used → invalid_grant (single use); expired →
    expired_token; denied → access_denied; approved → claimed now; pending → slow_down or
    authorization_pending."""
    now = utcnow()
    if row.status == "used":
        raise InvalidGrantError("the device_code was already used")
    if row.expires_at <= now:
        raise ExpiredTokenError("the device_code has expired")
    if row.status == "denied":
        raise AccessDeniedError("the person declined")
    if row.status == "approved":
        claimed = session.execute(
            update(DeviceGrant)
            .where(DeviceGrant.device_code_hash == row.device_code_hash, DeviceGrant.status == "approved")
            .values(status="used")
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidGrantError("the device_code was already used")
        assert row.person_id is not None and row.acr is not None and row.auth_time is not None
        return tokens.AuthUser(row.person_id, row.acr, tuple(row.amr or ()), row.auth_time, None)
    last, row.last_poll_at = row.last_poll_at, now
    if last is not None and (now - last).total_seconds() < row.interval:
        row.interval += SLOW_DOWN_STEP
        raise SlowDownError(f"poll at most every {row.interval} seconds")
    raise AuthorizationPendingError("the person has not decided yet")


def _id_token(p: Issuer, client: Client, user: tokens.AuthUser, access_token: str) -> str:
    """OIDC Core §2 claims for the person who approved (no nonce: the device grant has no request to echo)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": p.settings.issuer,
        "sub": p.subject_of(client, user.person_id),
        "aud": client.client_id,
        "exp": now + p.settings.id_token_ttl,
        "iat": now,
        "auth_time": user.auth_time,
        "acr": user.acr,
        "amr": list(user.amr),
        "at_hash": create_half_hash(access_token, p.signer.alg).decode(),
    }
    return p.signer.sign(claims)


def register(server: Any) -> None:
    """The endpoint and the grant, on the provider's Authlib server."""
    server.register_endpoint(DeviceAuthorization)
    server.register_grant(DeviceCodeGrant)
