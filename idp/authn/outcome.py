"""What an engine call tells its front end: the next step, a redirect, a form error, or a refusal.

Front ends (the browser pages today; kiosks, counters and the hotline next) turn these into their own
responses. Messages are keys of `idp.web.i18n` with parameters, so every front end speaks the person's language.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Step:
    """The person has something to do next: `login`, `totp`, `stepup` or `consent`, in this journey."""

    name: str
    flow_id: str


@dataclass(frozen=True)
class Redirect:
    """Leave for the client (an authorization response, success or error) or for a provider's page.
    `end_session`: the sign-in ended with this journey (a shared device); the browser forgets its cookie."""

    location: str
    end_session: bool = False


@dataclass(frozen=True)
class Invalid:
    """The submitted form can't go on: which field (None for the whole form), why, and what to show."""

    message: str
    field: str | None = None
    status: int = 400
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    """The request itself is unacceptable and must not be redirected anywhere: a plain page."""

    message: str
    status: int = 400


@dataclass(frozen=True)
class Shown:
    """The same step goes on with new facts for the page (e.g. a code was sent, resend in 60 s)."""

    facts: dict[str, Any] = dataclasses.field(default_factory=dict)


Outcome = Step | Redirect | Invalid | Refused | Shown


@dataclass(frozen=True)
class Result:
    """An outcome, and the new SSO session cookie when this step signed the person in. `lasting`: the cookie
    outlives the browser session; not on a shared device, where it must end with the journey (and the browser)."""

    outcome: Outcome
    cookie: str | None = None
    lasting: bool = True
