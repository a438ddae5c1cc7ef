"""Tables of the authentication engine: accepted user agreements, one-time counter codes, known SMS devices,
passkeys and their ceremonies' challenges."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, utcnow


class TermsAcceptance(Base):
    """Which version of the user agreement and privacy notice a person accepted, and when (PIPL art. 14, 17)."""

    __tablename__ = "terms_acceptances"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))


class CounterCode(Base):
    """A one-time code a citizen shows at a service-hall counter; staff redeem it after an in-person check.

    Only a keyed hash of the code is stored. The code names the waiting sign-in (`flow_id`) and its person.
    """

    __tablename__ = "counter_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hall: Mapped[str | None] = mapped_column(String(64))
    staff: Mapped[str | None] = mapped_column(String(64))


class KnownSmsDevice(Base):
    """A browser that signed in with a phone's SMS code: its sends for that phone skip the friction and the
    budgets shared with other devices (idp/authn/sms_limits.py). Both keys are keyed hashes."""

    __tablename__ = "sms_known_devices"

    phone_bidx: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_sign_in: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Passkey(Base):
    """A WebAuthn credential (a passkey) a person registered at /account/passkeys.

    Nothing in it names the person in plaintext: the credential id is stored encrypted (it is given back to
    authenticators to exclude) and found by a keyed hash; the name the person chose is encrypted. The public key
    (COSE) and the authenticator model (AAGUID) are not personal data.
    """

    __tablename__ = "passkeys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    credential_bidx: Mapped[str] = mapped_column(String(64), unique=True)
    credential_id_ct: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    aaguid: Mapped[str] = mapped_column(String(36))
    name_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasskeyChallenge(Base):
    """The one outstanding WebAuthn challenge of a ceremony: `context` is a keyed hash of what it is bound to
    (its purpose, the browser, and the journey or the SSO session); taking it deletes it."""

    __tablename__ = "passkey_challenges"

    context: Mapped[str] = mapped_column(String(64), primary_key=True)
    challenge: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
