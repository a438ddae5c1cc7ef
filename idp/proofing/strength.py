"""How strongly a binding of an ID number to a person is proven, and what each proof is worth.

Name + ID number matched by the registry is knowledge anyone with a leaked record has: it proves nothing and
binds nothing. Each ownership proof ties the number to something only its owner has. When two persons claim
one number, the stronger proof keeps it (idp/proofing/binding.py).

| strength | source | what it ties the number to | proofing level |
|---|---|---|---|
| 0 `NONE` | (legacy) | a binding made before proofs were recorded | - |
| 1 `OPERATOR` | `operator` | an operator's enrolment (staff accountable, audited; not the person's own proof) | 1 |
| 2 `CARRIER` | `carrier` | the signed-in phone is registered to that name and number at its carrier | 2 |
| 2 `BANK_CARD` | `unionpay` | a bank card and phone registered to that name and number (4 elements) | 2 |
| 3 `ALIPAY_CERTIFY` | `alipay_certify` | Alipay's own real-person check (face) of that name and number | 3 |
| 3 `FACE` | `face` | this live face (with liveness) against the registry photo of that number | 3 |
| 3 `FACE` | `kiosk` | this live face (with liveness) against the chip photo of the ID card, read by a hall kiosk | 3 |
| 4 `COUNTER` | `counter` | the ID card and the person in front of staff at a service counter | 3 |
"""

from __future__ import annotations

NONE, OPERATOR, CARRIER, BANK_CARD, ALIPAY_CERTIFY, FACE, COUNTER = 0, 1, 2, 2, 3, 3, 4

STRENGTH = {
    "operator": OPERATOR,
    "carrier": CARRIER,
    "unionpay": BANK_CARD,
    "alipay_certify": ALIPAY_CERTIFY,
    "face": FACE,
    "kiosk": FACE,
    "counter": COUNTER,
}
LEVEL = {"operator": 1, "carrier": 2, "unionpay": 2, "alipay_certify": 3, "face": 3, "kiosk": 3, "counter": 3}

ROLES_NEED = OPERATOR
"""Organisation roles granted by ID number apply to the number's holder only from this strength on."""


def of(source: str) -> int:
    return STRENGTH[source]
