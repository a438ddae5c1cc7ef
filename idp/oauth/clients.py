"""Registered clients: creation (the secret shown once, stored hashed), listing, removal, and the
read-only `Client` snapshot that Authlib's grants consult."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from idp import audit
from idp.db import read_only, utcnow
from idp.errors import Conflict, InvalidInput, NotFound
from idp.oauth import acr, redirects
from idp.oauth.models import OAuthClient
from idp.oauth.scopes import SCOPES

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
KIOSK_GRANT = "urn:yiwang:params:oauth:grant-type:id-card-face"
"""A hall kiosk's 人证合一 (ID-card chip and live face, idp/kiosk/): registered by `yiwang kiosk register` only."""
CIBA_GRANT = "urn:openid:params:grant-type:ciba"
EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANTS = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    DEVICE_CODE,
    KIOSK_GRANT,
    CIBA_GRANT,
    EXCHANGE_GRANT,
)
DELIVERY_MODES = ("poll", "ping")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
SUBJECT_TYPES = ("pairwise", "public")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    name: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    auth_method: str
    scopes: tuple[str, ...]
    jwks: dict[str, Any] | None
    sector: str
    subject_type: str
    default_acr: str | None
    backchannel_logout_uri: str | None
    shared_device: bool = False
    backchannel_token_delivery_mode: str | None = None
    backchannel_client_notification_endpoint: str | None = None
    exchange_audiences: tuple[str, ...] = ()
    exchange_scopes: tuple[str, ...] = ()
    # RFC 9126 §6 and RFC 9449 §5.2 client metadata.
    require_pushed_authorization_requests: bool = False
    dpop_bound_access_tokens: bool = False
    _keyset: KeySet | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_row(cls, row: OAuthClient) -> Client:
        keyset = KeySet.import_key_set(row.jwks) if row.jwks else None  # type: ignore[arg-type]
        return cls(
            client_id=row.client_id,
            name=row.name,
            secret_hash=row.secret_hash,
            redirect_uris=tuple(row.redirect_uris),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            grant_types=tuple(row.grant_types),
            auth_method=row.auth_method,
            scopes=tuple(row.scopes),
            jwks=row.jwks,
            sector=row.sector or default_sector(row.client_id, row.redirect_uris),
            subject_type=row.subject_type,
            default_acr=row.default_acr,
            backchannel_logout_uri=row.backchannel_logout_uri,
            shared_device=bool(row.shared_device),
            backchannel_token_delivery_mode=row.backchannel_token_delivery_mode,
            backchannel_client_notification_endpoint=row.backchannel_client_notification_endpoint,
            exchange_audiences=tuple(row.exchange_audiences or ()),
            exchange_scopes=tuple(row.exchange_scopes or ()),
            require_pushed_authorization_requests=bool(row.require_pushed_authorization_requests),
            dpop_bound_access_tokens=bool(row.dpop_bound_access_tokens),
            _keyset=keyset,
        )

    @property
    def is_public(self) -> bool:
        return self.auth_method == "none"

    @property
    def keyset(self) -> KeySet | None:
        return self._keyset

    # --- Authlib ClientMixin -------------------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OpenID Connect requires redirect_uri in every request; never guess one.
        return None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirects.matches(redirect_uri, self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.secret_hash or not client_secret:
            return False
        return hmac.compare_digest(hash_secret(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def default_sector(client_id: str, redirect_uris: list[str] | tuple[str, ...]) -> str:
    """OIDC Core §8.1: the host of the redirect URIs when they share one; else the client itself."""
    hosts = {urlsplit(u).hostname for u in redirect_uris}
    if len(hosts) == 1 and None not in hosts:
        return str(next(iter(hosts)))
    return f"client:{client_id}"


class ClientCache:
    """Clients by id, cached for a few seconds: the token endpoint's hot path must not query per request.
    A removed or changed client takes effect everywhere within TTL seconds."""

    TTL = 5.0

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._entries: dict[str, tuple[float, Client | None]] = {}
        self._lock = threading.Lock()

    def get(self, client_id: str | None) -> Client | None:
        if not client_id or len(client_id) > 64:
            return None
        now = time.monotonic()
        hit = self._entries.get(client_id)
        if hit is not None and now - hit[0] < self.TTL:
            return hit[1]
        # Read-only: a lookup may happen inside a caller's write transaction on the same thread, and on
        # SQLite a second writer there would wait for the first one for ever.
        with read_only(self._engine) as conn, Session(bind=conn) as session:
            row = session.get(OAuthClient, client_id)
            client = Client.from_row(row) if row is not None and row.disabled_at is None else None
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[client_id] = (now, client)
        return client

    def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str | None


def _check_uris(uris: list[str], what: str) -> list[str]:
    for uri in uris:
        problem = redirects.registration_problem(uri)
        if problem:
            raise InvalidInput(f"{what} {uri!r}: {problem}")
    return list(dict.fromkeys(uris))


def create_client(
    session: Session,
    *,
    name: str,
    redirect_uris: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    grant_types: list[str] | None = None,
    auth_method: str = "client_secret_basic",
    scopes: list[str] | None = None,
    jwks: dict[str, Any] | None = None,
    sector: str | None = None,
    subject_type: str = "pairwise",
    default_acr: str | None = None,
    backchannel_logout_uri: str | None = None,
    shared_device: bool = False,
    client_id: str | None = None,
    actor: str = "operator",
    backchannel_token_delivery_mode: str | None = None,
    backchannel_client_notification_endpoint: str | None = None,
    exchange_audiences: list[str] | None = None,
    exchange_scopes: list[str] | None = None,
    require_pushed_authorization_requests: bool = False,
    dpop_bound_access_tokens: bool = False,
    channel: str = "cli",
) -> NewClient:
    """Register a client. Returns the secret once (None for public and private_key_jwt clients)."""
    fields = _registration(
        name=name,
        redirect_uris=redirect_uris or [],
        post_logout_redirect_uris=post_logout_redirect_uris or [],
        grant_types=grant_types or ["authorization_code", "refresh_token"],
        auth_method=auth_method,
        scopes=scopes,
        jwks=jwks,
        subject_type=subject_type,
        default_acr=default_acr,
        backchannel_logout_uri=backchannel_logout_uri,
        backchannel_token_delivery_mode=backchannel_token_delivery_mode,
        backchannel_client_notification_endpoint=backchannel_client_notification_endpoint,
        exchange_audiences=exchange_audiences or [],
        exchange_scopes=exchange_scopes or [],
    )
    cid = client_id or "yw_" + secrets.token_urlsafe(18)
    if session.get(OAuthClient, cid) is not None:
        raise Conflict(f"client {cid} already exists")
    secret = _new_secret(auth_method)
    session.add(
        OAuthClient(
            client_id=cid,
            secret_hash=hash_secret(secret) if secret else None,
            sector=sector,
            shared_device=shared_device,
            require_pushed_authorization_requests=require_pushed_authorization_requests,
            dpop_bound_access_tokens=dpop_bound_access_tokens,
            **fields,
        )
    )
    session.flush()
    audit.record(
        session,
        audit.Event(
            action="client.add",
            subject=cid,
            actor=actor,
            channel=channel,
            detail={"grants": fields["grant_types"], "scopes": fields["scopes"], "shared_device": shared_device},
        ),
    )
    return NewClient(cid, secret)


def _new_secret(auth_method: str) -> str | None:
    return secrets.token_urlsafe(32) if auth_method in SECRET_METHODS else None


def _registration(
    *,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str],
    grant_types: list[str],
    auth_method: str,
    scopes: list[str] | None,
    jwks: dict[str, Any] | None,
    subject_type: str,
    default_acr: str | None,
    backchannel_logout_uri: str | None,
    backchannel_token_delivery_mode: str | None,
    backchannel_client_notification_endpoint: str | None,
    exchange_audiences: list[str],
    exchange_scopes: list[str],
) -> dict[str, Any]:
    """Every registration rule, for a new client and a changed one alike: the columns to write, or InvalidInput."""
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InvalidInput("a client name must be 1 to 200 characters")
    grants = list(dict.fromkeys(grant_types))
    if not grants:
        raise InvalidInput("a client needs at least one grant")
    bad = [g for g in grants if g not in GRANTS]
    if bad:
        raise InvalidInput(f"unsupported grant {bad[0]!r}; use {', '.join(GRANTS)}")
    if auth_method not in AUTH_METHODS:
        raise InvalidInput(f"unsupported auth method {auth_method!r}; use {', '.join(AUTH_METHODS)}")
    if auth_method == "none" and "client_credentials" in grants:
        raise InvalidInput("a public client (auth method none) cannot use client_credentials")
    if auth_method == "private_key_jwt":
        if not jwks:
            raise InvalidInput("private_key_jwt needs the client's public keys (--jwks)")
        try:
            keyset = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(f"the JWKS is not valid: {exc}") from None
        if any(k.is_private for k in keyset.keys):
            raise InvalidInput("the JWKS holds a private key: register only public keys")
    redirect = _check_uris(redirect_uris, "redirect URI")
    if "authorization_code" in grants and not redirect:
        raise InvalidInput("the authorization_code grant needs at least one --redirect-uri")
    people_grants = {"authorization_code", DEVICE_CODE}
    wanted = list(dict.fromkeys(scopes or (["openid", "profile", "phone"] if people_grants & set(grants) else [])))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise InvalidInput(f"unknown scope {unknown[0]!r}")
    if subject_type not in SUBJECT_TYPES:
        raise InvalidInput("subject type must be pairwise or public")
    if default_acr is not None and not acr.level(default_acr):
        raise InvalidInput(f"unknown acr {default_acr!r}; use one of {', '.join(acr.LEVELS)}")
    logout = _check_uris(post_logout_redirect_uris, "post-logout redirect URI")
    if backchannel_logout_uri:
        _check_uris([backchannel_logout_uri], "back-channel logout URI")
    backchannel = _check_backchannel(grants, auth_method, backchannel_token_delivery_mode,
                                     backchannel_client_notification_endpoint)  # fmt: skip
    audiences, exchange = _check_exchange(grants, auth_method, exchange_audiences, exchange_scopes)
    return {
        "name": name,
        "redirect_uris": redirect,
        "post_logout_redirect_uris": logout,
        "grant_types": grants,
        "auth_method": auth_method,
        "scopes": wanted,
        "jwks": jwks,
        "subject_type": subject_type,
        "default_acr": default_acr,
        "backchannel_logout_uri": backchannel_logout_uri,
        "backchannel_token_delivery_mode": backchannel[0],
        "backchannel_client_notification_endpoint": backchannel[1],
        "exchange_audiences": audiences,
        "exchange_scopes": exchange,
    }


def _check_backchannel(
    grants: list[str], auth_method: str, mode: str | None, endpoint: str | None
) -> tuple[str | None, str | None]:
    """CIBA Core §4 (client registration): a CIBA client names its delivery mode; ping needs an endpoint."""
    if CIBA_GRANT not in grants:
        if mode or endpoint:
            raise InvalidInput("a backchannel delivery mode or notification endpoint needs the CIBA grant")
        return None, None
    if auth_method not in ("client_secret_basic", "client_secret_post", "private_key_jwt"):
        raise InvalidInput("CIBA needs a confidential client (it authenticates at the backchannel endpoint)")
    if mode not in DELIVERY_MODES:
        raise InvalidInput(f"the CIBA grant needs a delivery mode: {' or '.join(DELIVERY_MODES)} (push is not offered)")
    if mode == "ping":
        if not endpoint:
            raise InvalidInput("ping mode needs a client notification endpoint")
        _check_uris([endpoint], "client notification endpoint")
        return mode, endpoint
    if endpoint:
        raise InvalidInput("a client notification endpoint is only for ping mode")
    return mode, None


def _check_exchange(
    grants: list[str], auth_method: str, audiences: list[str], scopes: list[str]
) -> tuple[list[str], list[str]]:
    """Token exchange (RFC 8693): which audiences (API identifiers or resource URIs) and scopes a client may
    ask for. Nothing is allowed by default."""
    if EXCHANGE_GRANT not in grants:
        if audiences or scopes:
            raise InvalidInput("exchange audiences or scopes need the token-exchange grant")
        return [], []
    if auth_method not in ("client_secret_basic", "client_secret_post", "private_key_jwt"):
        raise InvalidInput("token exchange needs a confidential client")
    if not audiences:
        raise InvalidInput("the token-exchange grant needs at least one --exchange-audience")
    for aud in audiences:
        if not aud or len(aud) > 255 or any(c.isspace() or ord(c) < 0x20 for c in aud):
            raise InvalidInput(f"exchange audience {aud!r}: 1 to 255 characters, no spaces")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InvalidInput(f"unknown scope {unknown[0]!r}")
    return list(dict.fromkeys(audiences)), list(dict.fromkeys(scopes))


def describe(row: OAuthClient) -> dict[str, Any]:
    data = asdict(Client.from_row(row))
    data.pop("_keyset")
    data.pop("secret_hash")
    data["created_at"] = row.created_at.isoformat()
    data["disabled"] = row.disabled_at is not None
    return data


def list_clients(session: Session) -> list[dict[str, Any]]:
    return [describe(r) for r in session.scalars(select(OAuthClient).order_by(OAuthClient.created_at))]


def get_row(session: Session, client_id: str) -> OAuthClient:
    row = session.get(OAuthClient, client_id)
    if row is None:
        raise NotFound(f"no client {client_id!r}")
    return row


def remove_client(session: Session, client_id: str, actor: str = "operator", channel: str = "cli") -> None:
    session.delete(get_row(session, client_id))
    audit.record(session, audit.Event(action="client.remove", subject=client_id, actor=actor, channel=channel))


EDITABLE = ("name", "redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes", "default_acr")


def update_client(
    session: Session, client_id: str, changes: dict[str, Any], *, actor: str = "operator", channel: str = "cli"
) -> None:
    """Change what `EDITABLE` names; the whole registration is checked again by the rules of `create_client`."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"cannot change {sorted(unknown)[0]!r} here")
    row = session.get(OAuthClient, client_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no client {client_id!r}")
    current: dict[str, Any] = {
        "name": row.name,
        "redirect_uris": list(row.redirect_uris),
        "post_logout_redirect_uris": list(row.post_logout_redirect_uris),
        "grant_types": list(row.grant_types),
        "auth_method": row.auth_method,
        "scopes": list(row.scopes),
        "jwks": row.jwks,
        "subject_type": row.subject_type,
        "default_acr": row.default_acr,
        "backchannel_logout_uri": row.backchannel_logout_uri,
        "backchannel_token_delivery_mode": row.backchannel_token_delivery_mode,
        "backchannel_client_notification_endpoint": row.backchannel_client_notification_endpoint,
        "exchange_audiences": list(row.exchange_audiences or []),
        "exchange_scopes": list(row.exchange_scopes or []),
    }
    if KIOSK_GRANT in current["grant_types"] or KIOSK_GRANT in changes.get("grant_types", []):
        raise InvalidInput("a kiosk's registration is made by `yiwang kiosk register` only")
    fields = _registration(**{**current, **changes})
    changed = sorted(k for k in EDITABLE if fields[k] != current[k])
    for key in changed:
        setattr(row, key, fields[key])
    audit.record(
        session,
        audit.Event(action="client.update", subject=client_id, actor=actor, channel=channel,
                    detail={"changed": changed, **{k: fields[k] for k in changed if k != "name"}}),
    )  # fmt: skip


def rotate_secret(session: Session, client_id: str, *, actor: str = "operator", channel: str = "cli") -> str:
    """A new client secret, returned once (only its hash is kept); the old one stops working at once."""
    row = session.get(OAuthClient, client_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no client {client_id!r}")
    secret = _new_secret(row.auth_method)
    if secret is None:
        raise InvalidInput(f"a client authenticating with {row.auth_method} has no secret to rotate")
    row.secret_hash = hash_secret(secret)
    audit.record(session, audit.Event(action="client.rotate_secret", subject=client_id, actor=actor, channel=channel))
    return secret


def set_disabled(
    session: Session, client_id: str, disabled: bool, *, actor: str = "operator", channel: str = "cli"
) -> None:
    """A disabled client is unknown to every endpoint (`ClientCache`) until it is enabled again; its registration,
    consents and audit history stay."""
    row = session.get(OAuthClient, client_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no client {client_id!r}")
    if (row.disabled_at is not None) == disabled:
        raise Conflict(f"client {client_id} is already {'disabled' if disabled else 'enabled'}")
    row.disabled_at = utcnow() if disabled else None
    action = "client.disable" if disabled else "client.enable"
    audit.record(session, audit.Event(action=action, subject=client_id, actor=actor, channel=channel))
