"""Assurance levels (`acr`) and authentication method references (`amr`, RFC 8176)."""

from __future__ import annotations

LOA1 = "urn:yiwang:loa:1"
LOA2 = "urn:yiwang:loa:2"
LOA3 = "urn:yiwang:loa:3"
LEVELS = (LOA1, LOA2, LOA3)


def level(acr: str | None) -> int:
    """1, 2 or 3; 0 for an unknown value (never satisfies a demand)."""
    return LEVELS.index(acr) + 1 if acr in LEVELS else 0


def acr_for(level_: int) -> str:
    return LEVELS[max(1, min(level_, 3)) - 1]


def session_level(proofing_level: int, amr: list[str]) -> int:
    """What an authentication proves: the identity's proofing, but real-person (3) only with a live face now,
    or an in-person check at a counter within this sign-in."""
    if proofing_level >= 3 and ("face" in amr or "counter" in amr):
        return 3
    return max(1, min(proofing_level, 2))


def demanded(acr_values: str | None, default_acr: str | None) -> int:
    """The level a request demands: the lowest known value in `acr_values` (any of them is acceptable), but
    never below the client's registered default — a request can ask for more than the client registered,
    never for less (an attacker can edit the request; the registration is the client's own word). Else 1."""
    floor = level(default_acr) or 1
    if acr_values:
        known = [level(v) for v in acr_values.split() if level(v)]
        if known:
            return max(min(known), floor)
    return floor


def methods_label(amr: object) -> str:
    """A sign-in's methods for counting, `mfa` left out: "otp+sms". Not `amr[0]`: `with_mfa` sorts the list,
    so its first entry is the alphabetically first method (or `mfa`), not the first factor."""
    kinds = sorted({str(m) for m in amr if m != "mfa"}) if isinstance(amr, list) else []
    return "+".join(kinds) or "unknown"


def with_mfa(amr: list[str]) -> list[str]:
    """RFC 8176 `mfa` when factors of more than one kind were used."""
    kinds = {m for m in amr if m != "mfa"}
    return sorted(kinds | {"mfa"}) if len(kinds) > 1 else sorted(kinds)
