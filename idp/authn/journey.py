"""A journey: one sign-in or step-up in progress, kept as an `AuthFlow` row while the person works through it.

The flow row holds the client's authorization request and what this journey has established so far. The keys
below are the journey's own facts; everything else in `params` is the client's request as it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.oauth import acr
from idp.oauth.clients import Client
from idp.oauth.flows import request_params
from idp.oauth.models import AuthFlow

FRESH_SID = "_fresh_sid"  # the session this journey created; its level is judged, not its age
STEPUP_DECLINED = "_stepup_declined"
CONSENTED = "_consented"  # the person approved the scopes within this journey (for this session id)
AMR = "_amr"
PHONE_MASKED = "_phone_masked"
SENT_AT = "_sent_at"
ALIPAY_PENDING = "_alipay_pending"
CERTIFY_PENDING = "_pending"
CHALLENGE = "_challenge"
FACE_TRIES = "_face_tries"
CHANNEL = "_channel"
DEVICE = "_device"  # a device journey (RFC 8628): the hash of the device code it decides
# A channel's own page (a local path set by our code, never by a request) that judges and finishes the journey
# itself, e.g. the CIBA approval page: the journey signs the person in and steps up, then goes back there.
RETURN_TO = "_return_to"


@dataclass(frozen=True)
class Demand:
    """What the client asked of this sign-in (OIDC Core §3.1.2.1)."""

    level: int
    prompts: frozenset[str]
    max_age: int | None

    @classmethod
    def of(cls, req: dict[str, str], client: Client) -> Demand:
        max_age = req.get("max_age")
        return cls(
            level=acr.demanded(req.get("acr_values"), client.default_acr),
            prompts=frozenset(req.get("prompt", "").split()),
            max_age=int(max_age) if max_age is not None and max_age.isdigit() else None,
        )


def update(flow: AuthFlow, **changes: str | None) -> None:
    """Set (or, with None, drop) journey facts; the JSON column is reassigned so the change is saved."""
    params = {k: v for k, v in flow.params.items() if k not in changes}
    params.update({k: v for k, v in changes.items() if v is not None})
    flow.params = params


def request(flow: AuthFlow) -> dict[str, str]:
    """The client's request, without the journey's own facts."""
    return {k: v for k, v in request_params(flow).items() if not k.startswith("_")}
