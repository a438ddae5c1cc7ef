"""Attempt limits on identity-matching steps, and a cap on paid provider calls.

Every registry, carrier, UnionPay, Alipay certify and face attempt counts against the person, the client IP
and the whole service (paid calls), in fixed windows shared by every worker (`idp.oauth.ratelimit`). Guessing
ID numbers against the registry, or spending the city's money on a provider, stops at the first limit;
the refusal says when to try again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from idp.errors import YiwangError
from idp.oauth.ratelimit import Counters
from idp.settings import Settings

STEPS = ("registry", "carrier", "unionpay", "alipay", "face")
PAID = frozenset({"carrier", "unionpay", "alipay", "registry", "face"})  # a face check fetches the registry photo
HOUR, DAY = 3600, 86400


class TooManyAttempts(YiwangError):
    status, slug, title = 429, "too-many-attempts", "Too many attempts"

    def __init__(self, retry_at: int) -> None:
        when = datetime.fromtimestamp(retry_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(
            f"核验尝试次数过多，请于 {when} 之后再试。Too many verification attempts: try again after {when}."
        )
        self.retry_at = retry_at

    @property
    def retry_after(self) -> int:
        return max(1, self.retry_at - int(time.time()))


@dataclass(frozen=True)
class Limits:
    per_person_hour: int = 5
    per_person_day: int = 10
    per_ip_hour: int = 20
    per_ip_day: int = 60
    face_flows_per_person_day: int = 5
    paid_calls_per_day: int = 5000
    """All paid provider calls together, for the whole service (a budget, not a per-person fairness limit)."""


def from_settings(settings: Settings) -> Limits:
    return Limits(
        per_person_hour=settings.proofing_per_person_per_hour,
        per_person_day=settings.proofing_per_person_per_day,
        per_ip_hour=settings.proofing_per_ip_per_hour,
        per_ip_day=settings.proofing_per_ip_per_day,
        face_flows_per_person_day=settings.face_flows_per_person_per_day,
        paid_calls_per_day=settings.provider_paid_calls_per_day,
    )


def check(
    counters: Counters, limits: Limits, step: str, person_id: str, ip: str, session: Session | None = None
) -> None:
    """Count one attempt at `step`; TooManyAttempts (with when to retry) at the first limit passed.
    With `session`, database counters join the caller's unit of work."""
    if step not in STEPS:
        raise ValueError(f"unknown proofing step {step}")
    windows = [
        (f"idm:p:{person_id}:h", limits.per_person_hour, HOUR),
        (f"idm:p:{person_id}:d", limits.per_person_day, DAY),
        (f"idm:ip:{ip}:h", limits.per_ip_hour, HOUR),
        (f"idm:ip:{ip}:d", limits.per_ip_day, DAY),
    ]
    if step in PAID:
        windows.append(("idm:paid:d", limits.paid_calls_per_day, DAY))
    for key, limit, window in windows:
        if counters.hit(key, window, session) > limit:
            raise TooManyAttempts((int(time.time()) // window + 1) * window)


def start_face_flow(counters: Counters, limits: Limits, person_id: str, session: Session | None = None) -> None:
    """Count one face flow (a liveness challenge handed out); each costs CPU on every frame sent back."""
    if counters.hit(f"idm:face:{person_id}:d", DAY, session) > limits.face_flows_per_person_day:
        raise TooManyAttempts((int(time.time()) // DAY + 1) * DAY)
