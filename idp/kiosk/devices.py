"""Kiosk devices: registration (a fresh EC key pair; only the public JWK is stored), listing and revocation.

A kiosk is an OAuth client that authenticates with `private_key_jwt` (RFC 7523 §2.2) under its own key and
may use only the 人证合一 grant (`clients.KIOSK_GRANT`), bound to one configured service hall. Its private key
leaves this module once, to the caller that writes it to the kiosk's key file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utcnow
from idp.errors import Conflict, InvalidInput, NotFound
from idp.kiosk.models import KioskChallenge, KioskDevice
from idp.oauth import acr, clients
from idp.oauth.models import OAuthClient
from idp.settings import Settings

SCOPES = ["openid", "profile"]


@dataclass(frozen=True)
class Registered:
    client_id: str
    private_key_pem: bytes
    kid: str


@dataclass(frozen=True)
class KioskView:
    client_id: str
    name: str
    hall: str
    created_at: str
    revoked: bool


def _new_key() -> tuple[bytes, dict[str, Any], str]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = ECKey.import_key(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    kid = public.thumbprint()
    jwk = {**public.as_dict(private=False), "kid": kid, "use": "sig", "alg": "ES256"}
    return pem, jwk, kid


def check_hall(settings: Settings, hall: str) -> str:
    if hall not in {h.id for h in settings.halls}:
        known = ", ".join(h.id for h in settings.halls) or "none configured"
        raise InvalidInput(f"unknown hall {hall!r} (halls: {known})")
    return hall


def register(session: Session, settings: Settings, *, hall: str, name: str, actor: str = "operator") -> Registered:
    """A new kiosk client in `hall`: its public key registered, its private key returned (never stored)."""
    check_hall(settings, hall)
    pem, jwk, kid = _new_key()
    made = clients.create_client(
        session,
        name=name,
        grant_types=[clients.KIOSK_GRANT],
        auth_method="private_key_jwt",
        scopes=SCOPES,
        jwks={"keys": [jwk]},
        default_acr=acr.LOA3,
        actor=actor,
    )
    session.add(KioskDevice(client_id=made.client_id, hall=hall))
    audit.record(
        session,
        audit.Event(
            action="kiosk.register", subject=made.client_id, actor=actor, channel="kiosk", detail={"hall": hall}
        ),
    )
    return Registered(made.client_id, pem, kid)


def list_kiosks(session: Session) -> list[KioskView]:
    rows = session.execute(
        select(KioskDevice, OAuthClient.name)
        .join(OAuthClient, OAuthClient.client_id == KioskDevice.client_id)
        .order_by(KioskDevice.created_at)
    )
    return [
        KioskView(d.client_id, name, d.hall, d.created_at.isoformat(timespec="seconds"), d.revoked_at is not None)
        for d, name in rows
    ]


def revoke(session: Session, client_id: str, actor: str = "operator", channel: str = "kiosk") -> None:
    """The kiosk can no longer identify anyone (its registration stays, for the audit trail's references)."""
    device = session.get(KioskDevice, client_id, with_for_update=True)
    if device is None:
        raise NotFound(f"no kiosk {client_id!r}")
    if device.revoked_at is not None:
        raise Conflict(f"kiosk {client_id} is already revoked")
    device.revoked_at = utcnow()
    session.query(KioskChallenge).filter(KioskChallenge.client_id == client_id).delete()
    audit.record(
        session,
        audit.Event(
            action="kiosk.revoke", subject=client_id, actor=actor, channel=channel, detail={"hall": device.hall}
        ),
    )


def device(session: Session, client_id: str) -> KioskDevice | None:
    return session.get(KioskDevice, client_id)
