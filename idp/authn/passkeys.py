"""Passkeys (W3C WebAuthn Level 3): a person's credentials, and the two ceremonies that use them.

Registration (§7.1) and authentication (§7.2) are checked by Duo Labs' `webauthn` (py_webauthn): the type, the
challenge, the origin, the RP ID hash, user presence and user verification, the signature. Around it, what the
library leaves to the relying party, each a small step here:

- a challenge is ours only once: issued for one purpose, bound to the browser (`yw_b`) and to the journey (sign
  in) or the SSO session (registration), kept as the one outstanding challenge of that context, deleted when it
  is taken, dead after `CHALLENGE_TTL` (§13.4.3);
- the credential must be known, and the user handle the authenticator returns must be its owner's (§7.2 step 6);
- the signature counter must go up (§6.1.1): a counter that goes backwards after a good signature means the
  credential was cloned; it is refused and audited (the caller records the refusal).

Nothing personal is stored in plaintext: the credential id is encrypted and found by a keyed hash, the name the
person gave is encrypted, and the user handle given to authenticators is a keyed hash of the person's id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp import audit
from idp.authn.models import Passkey, PasskeyChallenge
from idp.db import utcnow
from keys.protector import Protector

CHALLENGE_TTL = 300  # seconds; also the ceremony's timeout given to the browser
MAX_NAME = 40
MAX_PASSKEYS = 10  # per person: a list a person can read, and a bound on what an account can make us store
RP_NAME = "一网通办 Yiwang"
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class PasskeyRefused(Exception):
    """A ceremony that does not verify. `reason` is for the audit trail; `person_id` when the credential's owner
    is known (a cloned credential is audited on its owner)."""

    def __init__(self, reason: str, person_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.person_id = reason, person_id


@dataclass(frozen=True)
class RelyingParty:
    """Who we are to authenticators: the RP ID (the issuer's host) and the one origin a ceremony may run on."""

    id: str
    origin: str

    @classmethod
    def of(cls, issuer: str) -> RelyingParty:
        parts = urlsplit(issuer)
        return cls(id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class Listed:
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


# --- challenges -------------------------------------------------------------------------------------------
def _context(protector: Protector, purpose: str, browser: str, scope: str) -> str:
    return protector.index("passkey-challenge", f"{purpose}|{browser}|{scope}")


def issue_challenge(session: Session, protector: Protector, purpose: str, browser: str, scope: str) -> bytes:
    """A new challenge for this purpose, browser and journey/session; it replaces any earlier one of theirs."""
    challenge = secrets.token_bytes(32)
    context = _context(protector, purpose, browser, scope)
    # The context's earlier challenge goes, and with it any that expired unused (no purge job needed).
    session.execute(
        delete(PasskeyChallenge).where(
            (PasskeyChallenge.context == context) | (PasskeyChallenge.expires_at <= utcnow())
        )
    )
    session.add(
        PasskeyChallenge(
            context=context,
            challenge=bytes_to_base64url(challenge),
            expires_at=utcnow() + timedelta(seconds=CHALLENGE_TTL),
        )
    )
    session.flush()
    return challenge


def take_challenge(session: Session, protector: Protector, purpose: str, browser: str | None, scope: str) -> bytes:
    """The context's outstanding challenge, deleted as it is taken: a second use finds nothing."""
    if not browser:
        raise PasskeyRefused("no_challenge")
    context = _context(protector, purpose, browser, scope)
    row = session.execute(
        delete(PasskeyChallenge)
        .where(PasskeyChallenge.context == context)
        .returning(PasskeyChallenge.challenge, PasskeyChallenge.expires_at)
    ).first()
    if row is None:
        raise PasskeyRefused("no_challenge")
    challenge, expires_at = row
    if expires_at.tzinfo is None:  # SQLite's RETURNING may bypass the column type's conversion
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= utcnow():
        raise PasskeyRefused("challenge_expired")
    return base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4))


# --- registration -----------------------------------------------------------------------------------------
def user_handle(protector: Protector, person_id: str) -> bytes:
    """The WebAuthn user handle: opaque and stable per person, and no personal data (§14.6.1)."""
    return hashlib.sha256(protector.index("passkey-user", person_id).encode()).digest()


def _credential_bidx(protector: Protector, credential_id: bytes) -> str:
    return protector.index("passkey-credential", bytes_to_base64url(credential_id))


def _rows(session: Session, person_id: str) -> list[Passkey]:
    return list(session.scalars(select(Passkey).where(Passkey.person_id == person_id).order_by(Passkey.created_at)))


def registration_options(
    session: Session,
    protector: Protector,
    rp: RelyingParty,
    person_id: str,
    label: str,
    browser: str,
    sid: str,
) -> dict[str, Any]:
    """`PublicKeyCredentialCreationOptions` as JSON: a resident key preferred, user verification required, the
    person's passkeys excluded (one per authenticator)."""
    exclude = [
        PublicKeyCredentialDescriptor(
            id=_credential_id(protector, row),
            transports=[AuthenticatorTransport(t) for t in row.transports if t in _TRANSPORTS],
        )
        for row in _rows(session, person_id)
    ]
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_id=user_handle(protector, person_id),
        user_name=label,
        user_display_name=label,
        challenge=issue_challenge(session, protector, "register", browser, sid),
        timeout=CHALLENGE_TTL * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=exclude,
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def clean_name(raw: str) -> str | None:
    name = " ".join(raw.split())
    return name if 0 < len(name) <= MAX_NAME else None


def register(
    session: Session,
    protector: Protector,
    rp: RelyingParty,
    person_id: str,
    browser: str | None,
    sid: str,
    name: str,
    credential: str,
) -> Passkey:
    """Verify `navigator.credentials.create()`'s answer and keep the passkey (the caller's unit of work)."""
    expected = take_challenge(session, protector, "register", browser, sid)
    held = session.scalar(select(func.count()).select_from(Passkey).where(Passkey.person_id == person_id)) or 0
    if held >= MAX_PASSKEYS:
        raise PasskeyRefused("too_many")
    try:
        verified = verify_registration_response(
            credential=_parse(credential),
            expected_challenge=expected,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused("invalid") from exc
    bidx = _credential_bidx(protector, verified.credential_id)
    if session.scalar(select(Passkey.id).where(Passkey.credential_bidx == bidx)) is not None:
        raise PasskeyRefused("already_registered")
    row_id = str(uuid.uuid4())  # the encryption's associated data names the row
    row = Passkey(
        id=row_id,
        person_id=person_id,
        credential_bidx=bidx,
        credential_id_ct=protector.encrypt(
            Passkey.__tablename__, "credential_id_ct", row_id, _b64(verified.credential_id)
        ),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=_transports(credential),
        aaguid=verified.aaguid,
        name_ct=protector.encrypt(Passkey.__tablename__, "name_ct", row_id, name),
    )
    session.add(row)
    session.flush()
    _audit(session, "passkey.register", person_id, detail={"passkey": row.id, "aaguid": row.aaguid})
    return row


# --- authentication ---------------------------------------------------------------------------------------
def authentication_options(
    session: Session, protector: Protector, rp: RelyingParty, browser: str, scope: str, person_id: str | None = None
) -> dict[str, Any]:
    """`PublicKeyCredentialRequestOptions` as JSON. To sign in: a discoverable credential, no allow list, no
    username. To confirm a known person again (`person_id`, e.g. staff before a dangerous action): their passkeys."""
    allow = [
        PublicKeyCredentialDescriptor(
            id=_credential_id(protector, row),
            transports=[AuthenticatorTransport(t) for t in row.transports if t in _TRANSPORTS],
        )
        for row in (_rows(session, person_id) if person_id else [])
    ]
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=issue_challenge(session, protector, _purpose(person_id), browser, scope),
        timeout=CHALLENGE_TTL * 1000,
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def authenticate(
    session: Session,
    protector: Protector,
    rp: RelyingParty,
    browser: str | None,
    scope: str,
    credential: str,
    person_id: str | None = None,
) -> Passkey:
    """Verify `navigator.credentials.get()`'s answer; the passkey it proves, its counter and use recorded. With
    `person_id` (a confirmation, not a sign-in) the passkey must be that person's."""
    expected = take_challenge(session, protector, _purpose(person_id), browser, scope)
    try:
        parsed = _parse(credential)
        raw_id = _unb64(str(parsed["rawId"]))
        handle = _unb64(str(parsed["response"]["userHandle"])) if parsed["response"].get("userHandle") else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PasskeyRefused("invalid") from exc
    row = session.scalar(
        select(Passkey).where(Passkey.credential_bidx == _credential_bidx(protector, raw_id)).with_for_update()
    )
    if row is None:
        raise PasskeyRefused("unknown_credential")
    if person_id is not None and row.person_id != person_id:
        raise PasskeyRefused("wrong_person", person_id)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=expected,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=row.public_key,
            # The counter is judged below, after the signature: only a genuine response counts as a clone.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused("invalid", row.person_id) from exc
    # §7.2 step 6: the account the authenticator names must be the credential's owner (the user handle is not
    # under the signature, so it is judged on its own). Signing in, it is how the person is found: required; a
    # known person's confirmation may come from a non-resident credential, which need not return it.
    if (handle is not None or person_id is None) and handle != user_handle(protector, row.person_id):
        raise PasskeyRefused("wrong_person", row.person_id)
    stored = row.sign_count or 0
    if (verified.new_sign_count or stored) and verified.new_sign_count <= stored:
        raise PasskeyRefused("counter_regression", row.person_id)
    row.sign_count = verified.new_sign_count
    row.last_used_at = utcnow()
    return row


# --- the person's list ------------------------------------------------------------------------------------
def listed(session: Session, protector: Protector, person_id: str) -> list[Listed]:
    return [
        Listed(row.id, _name(protector, row), row.created_at, row.last_used_at) for row in _rows(session, person_id)
    ]


def has_passkey(session: Session, person_id: str) -> bool:
    return session.scalar(select(Passkey.id).where(Passkey.person_id == person_id).limit(1)) is not None


def rename(session: Session, protector: Protector, person_id: str, passkey_id: str, name: str) -> bool:
    row = session.scalar(select(Passkey).where(Passkey.id == passkey_id, Passkey.person_id == person_id))
    if row is None:
        return False
    row.name_ct = protector.encrypt(Passkey.__tablename__, "name_ct", row.id, name)
    _audit(session, "passkey.rename", person_id, detail={"passkey": row.id})
    return True


def remove(session: Session, person_id: str, passkey_id: str) -> bool:
    """Delete one of the person's own passkeys; another person's id changes nothing."""
    row = session.scalar(select(Passkey).where(Passkey.id == passkey_id, Passkey.person_id == person_id))
    if row is None:
        return False
    session.delete(row)
    _audit(session, "passkey.delete", person_id, detail={"passkey": passkey_id})
    return True


def audit_refusal(
    session: Session, action: str, refused: PasskeyRefused, *, channel: str, client: str | None = None
) -> None:
    _audit(
        session,
        action,
        refused.person_id or "-",
        outcome="refused",
        channel=channel,
        client=client,
        detail={"reason": refused.reason},
    )


# --- helpers ----------------------------------------------------------------------------------------------
def _purpose(person_id: str | None) -> str:
    return "confirm" if person_id else "sign_in"


def _audit(
    session: Session,
    action: str,
    person_id: str,
    *,
    outcome: str = "success",
    channel: str = "web",
    client: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    actor = person_id if person_id != "-" else "anonymous"
    audit.record(
        session,
        audit.Event(
            action=action,
            subject=person_id,
            actor=actor,
            outcome=outcome,
            channel=channel,
            client=client,
            detail=detail or {},
        ),
    )


def _parse(credential: str) -> dict[str, Any]:
    parsed = json.loads(credential)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("response"), dict):
        raise ValueError("not a PublicKeyCredential")
    return parsed


def _transports(credential: str) -> list[str]:
    listed_ = json.loads(credential)["response"].get("transports") or []
    return [t for t in listed_ if isinstance(t, str) and t in _TRANSPORTS][:8]


def _b64(raw: bytes) -> str:
    return bytes_to_base64url(raw)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _credential_id(protector: Protector, row: Passkey) -> bytes:
    return _unb64(protector.decrypt(Passkey.__tablename__, "credential_id_ct", row.id, row.credential_id_ct))


def _name(protector: Protector, row: Passkey) -> str:
    return protector.decrypt(Passkey.__tablename__, "name_ct", row.id, row.name_ct)
