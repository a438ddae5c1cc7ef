"""Everything held about a person, in clear, for them alone (PIPL art. 45: the right to a copy).

Built in one read-only transaction; never logged, never cached (the route sends it `no-store`). Secrets that
are only ever stored as hashes (recovery codes, tokens) are reported by their state, not their value, and the
face template by its presence: it is only usable by the matcher and is the one item not worth the risk of a
copy on a shared computer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.account import history
from idp.authn import passkeys
from idp.authn.models import TermsAcceptance
from idp.oauth import consent, recovery, totp
from idp.oauth.models import LoginSession, PairwiseSubject, RefreshToken, SessionClient
from idp.proofing.models import AlipayBinding, BankCard, FaceConsent, FaceTemplate
from idp.records import people
from idp.records.models import Membership, Organisation, SocialSecurityCard
from keys.protector import Protector
from signing import copies


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _person(session: Session, protector: Protector, person_id: str) -> dict[str, Any]:
    person = people.get(session, person_id)
    table = people.TABLE

    def clear(column: str) -> str | None:
        blob = getattr(person, column)
        return None if blob is None else protector.decrypt(table, column, person.id, blob)

    return {
        "id": person.id,
        "id_type": person.id_type,
        "id_number": clear("id_number_ct"),
        "name": clear("name_ct"),
        "phone": clear("phone_ct"),
        "phone_verified": person.phone_verified,
        "proofing_level": person.proofing_level,
        "proofing_evidence": person.proofing_evidence,
        "id_proof_source": person.id_proof_source,
        "created_at": _when(person.created_at),
    }


def _cards(session: Session, protector: Protector, person_id: str) -> list[dict[str, Any]]:
    table = SocialSecurityCard.__tablename__
    return [
        {
            "number": protector.decrypt(table, "card_number_ct", c.id, c.card_number_ct),
            "status": c.status,
            "bound_at": _when(c.bound_at),
        }
        for c in session.scalars(select(SocialSecurityCard).where(SocialSecurityCard.person_id == person_id))
    ]


def _sessions(session: Session, person_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(LoginSession).where(LoginSession.person_id == person_id))
    found = []
    for row in rows:
        clients = list(session.scalars(select(SessionClient.client_id).where(SessionClient.sid == row.sid)))
        found.append(
            {
                "started_at": _when(row.created_at),
                "expires_at": _when(row.expires_at),
                "ended_at": _when(row.ended_at),
                "acr": row.acr,
                "amr": row.amr,
                "clients": clients,
            }
        )
    return found


def collect(session: Session, protector: Protector, person_id: str) -> dict[str, Any]:
    face = session.get(FaceTemplate, person_id)
    face_consent = session.get(FaceConsent, person_id)
    alipay = session.scalar(select(AlipayBinding).where(AlipayBinding.person_id == person_id))
    orgs = session.execute(
        select(Organisation.uscc, Organisation.name, Membership.role)
        .join(Membership, Membership.org_id == Organisation.id)
        .where(Membership.person_id == person_id)
    ).all()
    return {
        "format": "yiwang-personal-data/1",
        "person": _person(session, protector, person_id),
        "social_security_cards": _cards(session, protector, person_id),
        "bindings": {
            "alipay": {"bound_at": _when(alipay.created_at)} if alipay else None,
            "bank_cards": [
                {"card": c.masked, "verified_at": _when(c.verified_at)}
                for c in session.scalars(select(BankCard).where(BankCard.person_id == person_id))
            ],
            "passkeys": [
                {"name": k.name, "created_at": _when(k.created_at), "last_used_at": _when(k.last_used_at)}
                for k in passkeys.listed(session, protector, person_id)
            ],
            "totp": {
                "enrolled": totp.is_enrolled(session, person_id),
                "recovery_codes_left": recovery.remaining(session, person_id),
            },
            "face": {
                "consent_given_at": _when(face_consent.granted_at) if face_consent else None,
                "template_stored_at": _when(face.created_at) if face else None,
            },
        },
        "organisations": [{"uscc": u, "name": n, "role": r} for u, n, r in orgs],
        "terms_accepted": [
            {"version": t.version, "at": _when(t.accepted_at), "channel": t.channel}
            for t in session.scalars(select(TermsAcceptance).where(TermsAcceptance.person_id == person_id))
        ],
        "consents": [
            {"client_id": c.client_id, "client": c.client_name, "scopes": c.scopes, "granted_at": _when(c.granted_at)}
            for c in consent.list_for(session, person_id)
        ],
        "pairwise_subjects": [
            {"sector": p.sector, "sub": p.sub}
            for p in session.scalars(select(PairwiseSubject).where(PairwiseSubject.person_id == person_id))
        ],
        "refresh_tokens": [
            {
                "client_id": r.client_id,
                "scope": r.scope,
                "created_at": _when(r.created_at),
                "expires_at": _when(r.expires_at),
                "revoked": r.revoked_at is not None or r.used_at is not None,
            }
            for r in session.scalars(select(RefreshToken).where(RefreshToken.person_id == person_id))
        ],
        "sessions": _sessions(session, person_id),
        "history": history.everything(session, person_id),
        "signatures": [
            {
                "record": s.record_id,
                "client_id": s.client_id,
                "document_sha256": s.document_sha256,
                "level": s.level,
                "signed_at": _when(s.signed_at),
                "copy_kept_until": _when(s.kept_until),
            }
            for s in copies.signatures_of(session, person_id)
        ],
        "signature_requests": [
            {
                "id": r.id,
                "client_id": r.client_id,
                "document_sha256": r.document_sha256,
                "status": r.status,
                "created_at": _when(r.created_at),
            }
            for r in copies.requests_of(session, person_id)
        ],
    }
