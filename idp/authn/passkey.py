"""Method: sign in with a passkey (a discoverable WebAuthn credential, no username; idp/authn/passkeys.py checks).

Like SMS it proves who the person is, not their real name: the session's level is what the person's proofing
already reached (loa:1 alone, loa:2 once the ID number is bound), never more. With user verification required,
a passkey is a multi-factor cryptographic authenticator (NIST SP 800-63B §5.1.9): the key's possession and the
PIN or biometric that unlocked it. `amr` says so in RFC 8176 terms — `pop` (proof of possession of a key; without
attestation we can't claim `hwk`), `user` (the authenticator tested the user), hence `mfa` — and no TOTP code is
asked after it; it is also the second factor the staff console accepts (`second_factor_in`).
"""

from __future__ import annotations

from typing import Any

from idp.authn import journey, passkeys
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Refused, Result
from idp.records.models import Person

AMR = ["pop", "user"]
# The refusal the person reads: one for all reasons (which check failed is for the audit trail, not for a prober).
REFUSED = "passkey_refused"


def relying_party(engine: Engine) -> passkeys.RelyingParty:
    return passkeys.RelyingParty.of(engine.settings.issuer)


def second_factor_in(amr: list[str]) -> bool:
    """A sign-in whose `amr` shows a user-verified passkey (the staff console's second factor, like `otp`)."""
    return all(m in amr for m in AMR)


def options(engine: Engine, flow_id: str, browser: str | None) -> dict[str, Any] | Refused:
    """Request options for this journey's browser (a POST: it stores the challenge)."""
    if not browser:
        return Refused("send_first")
    with engine.unit() as session:
        flow = engine.journey(session, flow_id, browser, lock=True)
        return passkeys.authentication_options(session, engine.protector, relying_party(engine), browser, flow.id)


def submit(engine: Engine, flow_id: str, browser: str | None, credential: str) -> Result:
    if not credential.strip():
        return Result(Invalid(REFUSED))
    with engine.unit() as session:
        flow = engine.journey(session, flow_id, browser, lock=True)
        channel = flow.params.get(journey.CHANNEL, "web")
        try:
            row = passkeys.authenticate(session, engine.protector, relying_party(engine), browser, flow.id, credential)
        except passkeys.PasskeyRefused as refused:
            # Committed with the consumed challenge: a refusal (a clone's counter above all) stays on record.
            passkeys.audit_refusal(session, "login.passkey", refused, channel=channel, client=flow.client_id)
            return Result(Invalid(REFUSED))
        person = session.get(Person, row.person_id)
        if person is None:
            return Result(Refused("account_gone"))
        cookie, login = engine.sign_in(session, flow, person, list(AMR), channel=channel)
        return Result(engine.advance(session, flow, login), cookie, not engine.shared_screen(flow))
