"""Who may have an SMS code sent to a number, how often, and at what cost: fair to the number's owner.

A limit counted per number alone lets anyone lock a person out: ten requests for a victim's number, from
anywhere, would spend the number's day. So a number's budget is split by who asks:

- **A known device** (a browser that signed in with this number's code before: `KnownSmsDevice`, keyed on the
  journey's browser binding `yw_b`, which an attacker can't read) has a budget of its own, per minute and per
  day. Nothing another device or address does spends it: the owner keeps a way in.
- **Any other device** spends its own per-minute and per-day budget, the budget of its IP address for that
  number, the IP address's budget across numbers, and a daily budget for the number shared by all devices
  it does not know (which bounds how many codes a number can be sent by strangers). After the first send to
  a number in an hour, each further send from such a device needs a proof of work (idp/authn/hashcash.py) or, with
  no JavaScript, a wait since the journey's start or last send: a cost for every request an attacker makes,
  a second for the owner.
- **Everyone** counts against the service's hourly SMS spend (`sms_max_per_hour`); at the warning threshold
  and at the cap an operator alert is raised (idp/alerts.py), and at the cap sending stops.

Code-check lockouts are counted per number *and device* (idp/oauth/otp.py subjects), so wrong codes typed on
an attacker's device lock out only that device. Guesses stay bounded: each code allows a few tries and each
code needs a send from the budgets above.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.authn.models import KnownSmsDevice
from idp.db import utcnow
from idp.oauth.ratelimit import Counters, address
from idp.settings import Settings
from keys.protector import Protector

MINUTE, TEN_MINUTES, HOUR, DAY = 60, 600, 3600, 86400
SPEND_KEY = "sms:all:h"


class OverLimit(Exception):
    def __init__(self, window: int) -> None:
        super().__init__(window)
        self.window = window


class ProofNeeded(Exception):
    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.wait = wait


class SpendCapReached(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


@dataclass(frozen=True)
class Requester:
    """Who asks for a code to `phone_key` (the number's blind index): a device (keyed hash of its browser id)
    from an IP address (its keyed hash too, `ratelimit.address`), and whether the number knows the device."""

    phone_key: str
    device: str
    ip: str
    known: bool


def device_of(protector: Protector, browser: str | None) -> str:
    return protector.index("sms_device", browser or "")


def requester(session: Session, protector: Protector, phone_key: str, browser: str | None, ip: str) -> Requester:
    device = device_of(protector, browser)
    known = browser is not None and session.get(KnownSmsDevice, (phone_key, device)) is not None
    return Requester(phone_key, device, address(protector, ip), known)


def remember(session: Session, protector: Protector, phone_key: str, browser: str | None) -> None:
    """The device signed in with this number's code: from now on its sends keep their own path."""
    if browser is None:
        return
    device = device_of(protector, browser)
    row = session.get(KnownSmsDevice, (phone_key, device))
    if row is None:
        session.add(KnownSmsDevice(phone_bidx=phone_key, device=device))
    else:
        row.last_sign_in = utcnow()


def budgets(s: Settings, who: Requester) -> list[tuple[str, int, int]]:
    """(counter key, limit, window) that one send by `who` spends, per the module docstring."""
    own = f"sms:phone:{who.phone_key}:dev:{who.device}"
    out = [(f"{own}:m", s.sms_per_phone_per_minute, MINUTE), (f"{own}:d", s.sms_per_phone_per_day, DAY)]
    if not who.known:
        out += [
            (f"sms:phone:{who.phone_key}:ip:{who.ip}:d", s.sms_per_phone_per_ip_per_day, DAY),
            (f"sms:phone:{who.phone_key}:others:d", s.sms_per_phone_from_others_per_day, DAY),
            (f"sms:ip:{who.ip}", s.sms_per_ip_per_10min, TEN_MINUTES),
        ]
    return out


def check(
    counters: Counters,
    session: Session,
    s: Settings,
    who: Requester,
    *,
    proof_ok: bool,
    waited: float,
) -> int:
    """Count one send by `who` in the caller's unit of work (refused: the caller rolls it back).
    `proof_ok`: a valid proof of work came with the request; `waited`: seconds since the journey's start or
    last send. Returns the service's send count this hour (for the alert thresholds)."""
    for key, limit, window in budgets(s, who):
        if counters.hit(key, window, session) > limit:
            raise OverLimit(window)
    repeated = counters.hit(f"sms:phone:{who.phone_key}:h", HOUR, session) > 1
    if repeated and not who.known and not proof_ok and waited < s.sms_pow_wait_s:
        raise ProofNeeded(math.ceil(s.sms_pow_wait_s - waited))
    count = counters.hit(SPEND_KEY, HOUR, session)
    if count > s.sms_max_per_hour:
        raise SpendCapReached(count)
    return count


def warning_at(s: Settings) -> int:
    return max(1, math.ceil(s.sms_max_per_hour * s.sms_alert_warning_percent / 100))


def hour_start(now: float | None = None) -> int:
    now = time.time() if now is None else now
    return int(now) // HOUR * HOUR
