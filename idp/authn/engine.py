"""The authentication engine: every sign-in and step-up journey, whatever the channel, goes through here.

A front end (the browser pages, and next kiosks, counters, the hotline) parses its input, calls one engine
entry point and renders the `Outcome`. Each entry point is one unit of work: it opens at most one write
transaction, in which everything the step changes (an OTP consumed, a person registered, a session, a consent,
an authorization code, the audit events) commits together or not at all. The decision "what next for this
level" is `idp.authn.policy.next_step`; the methods (`sms`, `totp`, `passkey`, `alipay_login`, `registry`,
`unionpay`, `alipay_certify`, `face`, `counter`) each prove one thing and hand back to `advance`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from authlib.oauth2 import OAuth2Error
from sqlalchemy.orm import Session

from idp import audit, place
from idp.authn import device, journey, policy
from idp.authn.journey import Demand
from idp.authn.outcome import Outcome, Redirect, Refused, Step
from idp.oauth import acr, consent, dpop, flows, id_token_hint, par, scopes, sessions
from idp.oauth.clients import Client
from idp.oauth.models import AuthFlow, LoginSession
from idp.oauth.provider import OAuthRequest
from idp.oauth.responses import add_params, error_to_client
from idp.proofing import limits
from idp.records.models import Person

if TYPE_CHECKING:
    from idp.oauth.provider import Provider


class Engine:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.runtime = provider.runtime
        self.settings = provider.settings
        self.adapters = provider.adapters
        self.protector = provider.runtime.protector
        self.limits = limits.from_settings(provider.settings)

    # --- units of work -----------------------------------------------------------------------------------
    @contextmanager
    def unit(self) -> Iterator[Session]:
        """The one write transaction of a step."""
        with self.runtime.transaction() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """Reads that change nothing: a read-only connection that never takes SQLite's write lock."""
        with self.runtime.reading() as session:
            yield session

    # --- journeys ----------------------------------------------------------------------------------------
    def journey(self, session: Session, flow_id: str | None, browser: str | None, *, lock: bool = False) -> AuthFlow:
        return flows.get(session, flow_id, browser, lock=lock)

    def client_of(self, flow: AuthFlow) -> Client | None:
        return self.provider.clients.get(flow.client_id)

    def shared_screen(self, flow: AuthFlow) -> bool:
        """The journey runs on a shared device (a kiosk client's screen): its sign-in lasts only as long as the
        journey. A device-grant journey is the exception: it runs on the person's own phone."""
        client = self.client_of(flow)
        return client is not None and client.shared_device and not device.is_device(flow)

    def demand_of(self, flow: AuthFlow) -> Demand | None:
        client = self.client_of(flow)
        return Demand.of(journey.request(flow), client) if client else None

    def deny_until(self) -> int:
        """Until when a revoked access token must stay deny-listed: the longest it can live from now."""
        return int(time.time()) + self.settings.access_token_ttl

    def seal(self, flow: AuthFlow, purpose: str, text: str) -> str:
        """Personal data a journey carries between steps, encrypted and bound to the journey."""
        return flows.seal(self.protector, flow.id, purpose, text)

    def unseal(self, flow: AuthFlow, purpose: str, sealed: str) -> str:
        return flows.unseal(self.protector, flow, purpose, sealed)

    @staticmethod
    def login_of(session: Session, cookie: str | None) -> LoginSession | None:
        return sessions.load(session, cookie)

    # --- the authorization request -----------------------------------------------------------------------
    def authorize(self, query: list[tuple[str, str]], cookie: str | None, browser: str) -> Outcome:
        """A new authorization request (GET or POST /authorize): a code at once, or a journey to start."""
        # RFC 6749 §3.1: a parameter sent without a value is treated as if it were omitted.
        query = [(k, v) for k, v in query if v != ""]
        req = {k: v for k, v in reversed(query)}  # first value wins, as in Authlib's checks
        client = self.provider.clients.get(req.get("client_id"))
        if client is not None and (
            req.get("request_uri", "").startswith(_PUSHED) or par.required(client, self.settings)
        ):
            return self._authorize_pushed(req, client, cookie, browser)
        refused = self._precheck(client, req)
        if refused is not None:
            return refused
        assert client is not None
        with self.unit() as session:
            return self._begin(session, query, req, client, cookie, browser)

    def _precheck(self, client: Client | None, req: dict[str, str]) -> Outcome | None:
        refused = _check_client(client, req)
        if refused is not None:
            return refused
        unsupported = _unsupported_request_object(req)
        if unsupported is not None:
            return Redirect(self._error(req, unsupported, "request objects are not supported"))
        if req.get("max_age") is not None and not req["max_age"].isdigit():
            return Redirect(self._error(req, "invalid_request", "max_age must be a non-negative integer"))
        if "dpop_jkt" in req and not dpop.is_thumbprint(req["dpop_jkt"]):
            return Redirect(self._error(req, "invalid_request", "dpop_jkt must be a JWK SHA-256 thumbprint"))
        return None

    def _authorize_pushed(self, req: dict[str, str], client: Client, cookie: str | None, browser: str) -> Outcome:
        """RFC 9126 §4: only the pushed parameters count; a client bound to PAR is refused a plain request."""
        if "request_uri" not in req:
            if not client.check_redirect_uri(req.get("redirect_uri", "")):
                return Refused("bad_redirect_uri")
            return Redirect(self._error(req, "invalid_request", "this client must use pushed authorization requests"))
        with self.unit() as session:
            query = par.take(session, req["request_uri"], client)
            if query is None:
                return Refused("request_uri_invalid")
            pushed = {k: v for k, v in query}
            refused = self._precheck(client, pushed)
            if refused is not None:
                return refused
            return self._begin(session, query, pushed, client, cookie, browser)

    def _begin(
        self,
        session: Session,
        query: list[tuple[str, str]],
        req: dict[str, str],
        client: Client,
        cookie: str | None,
        browser: str,
    ) -> Outcome:
        hint = req.get("id_token_hint")
        hinted = id_token_hint.claims(self.provider, hint) if hint else None
        if hint and (hinted is None or client.client_id not in id_token_hint.audience(hinted)):
            return Redirect(
                self._error(req, "invalid_request", "id_token_hint is not an ID token issued to this client")
            )
        login = self.login_of(session, cookie)
        # OIDC Core §3.1.2.1: the session counts only if it is the hinted person's; otherwise a sign-in
        # (or login_required with prompt=none).
        if (
            hinted is not None
            and login is not None
            and self.provider.subject_of(client, login.person_id, session=session) != hinted["sub"]
        ):
            login = None
        return self._decide(session, query, client, login, None, browser)

    def resume(self, flow_id: str | None, cookie: str | None, browser: str | None) -> Outcome:
        """Judge a journey again (after a step done outside the engine, or a reload)."""
        with self.unit() as session:
            flow = self.journey(session, flow_id, browser, lock=True)
            return self.advance(session, flow, self.login_of(session, cookie))

    def advance(self, session: Session, flow: AuthFlow, login: LoginSession | None) -> Outcome:
        """Within the caller's unit of work: what this journey needs next, or the code for the client."""
        client = self.client_of(flow)
        if client is None:
            return Refused("client_gone")
        if device.is_device(flow):  # a device journey ends in "approve the device" (idp.authn.device)
            return device.decide(self, session, client, login, flow)
        if journey.RETURN_TO in flow.params:
            return self._back_to_channel(session, flow, client, login)
        query = list(journey.request(flow).items())
        return self._decide(session, query, client, login, flow, None)

    def _back_to_channel(self, session: Session, flow: AuthFlow, client: Client, login: LoginSession | None) -> Outcome:
        """A channel's journey (no redirect URI, no code): sign in and step up here; the channel's own page
        judges what the session proved and asks the person itself (it is the consent)."""
        facts = flow.params
        done = policy.Done(
            fresh_sid=facts.get(journey.FRESH_SID), stepup_declined_sid=facts.get(journey.STEPUP_DECLINED)
        )
        seen = policy.Session(login.sid, login.acr, login.auth_time) if login else None
        decision = policy.next_step(Demand.of(journey.request(flow), client), seen, done, False)
        if decision.step in ("login", "stepup"):
            return Step(decision.step, flow.id)
        self._finish(session, flow)
        return Redirect(facts[journey.RETURN_TO])

    def _decide(
        self,
        session: Session,
        query: list[tuple[str, str]],
        client: Client,
        login: LoginSession | None,
        flow: AuthFlow | None,
        browser: str | None,
    ) -> Outcome:
        req = {k: v for k, v in reversed(query)}
        facts = flow.params if flow is not None else {}
        if client.shared_device and login is not None and facts.get(journey.FRESH_SID) != login.sid:
            login = None  # on a shared screen, whoever signed in before is not the person standing there now
        user = sessions.as_user(login) if login else None
        oauth_req = OAuthRequest("GET", f"{self.settings.issuer}/authorize", {}, query, [])
        oauth_req.db = session
        server = self.provider.server
        try:
            grant = server.get_consent_grant(oauth_req, end_user=user)
        except OAuth2Error as exc:
            self._finish(session, flow)
            return Redirect(self._error(req, exc.error, exc.description or exc.error))
        demand = Demand.of(req, client)
        done = policy.Done(
            fresh_sid=facts.get(journey.FRESH_SID),
            stepup_declined_sid=facts.get(journey.STEPUP_DECLINED),
            consented_sid=facts.get(journey.CONSENTED),
        )
        seen = policy.Session(login.sid, login.acr, login.auth_time) if login else None
        missing = False
        if login is not None and not policy.needs_login(demand, seen, done):
            missing = bool(consent.missing(session, login.person_id, client.client_id, self.requested(client, req)))
        decision = policy.next_step(demand, seen, done, missing)
        if decision.step == "error":
            self._finish(session, flow)
            return Redirect(self._error(req, decision.error, decision.description))
        if decision.step != "issue":
            if flow is None:
                flow = self._start(session, req, client, browser or "")
            return Step(decision.step, flow.id)
        assert login is not None and user is not None
        result = server.create_authorization_response(oauth_req, grant_user=user, grant=grant)
        location = dict(result.headers).get("Location")
        if result.status != 302 or not location:
            return Refused("authorize_failed")
        sessions.remember_client(session, login.sid, client.client_id)
        self._finish(session, flow)
        if client.shared_device:
            sessions.end(session, login)  # the sign-in lasts as long as its journey, not a minute longer
        audit.record(
            session,
            audit.Event(
                action="oauth.authorize",
                subject=login.person_id,
                actor=login.person_id,
                channel=facts.get(journey.CHANNEL, "web"),
                client=client.client_id,
                detail={"scope": req.get("scope", ""), "acr": login.acr},
            ),
        )
        # Authlib's response already carries state; add iss (RFC 9207).
        return Redirect(add_params(location, {"iss": self.settings.issuer}), end_session=client.shared_device)

    def start_journey(self, session: Session, req: dict[str, str], client: Client, browser: str) -> AuthFlow:
        return self._start(session, req, client, browser)

    def end_journey(self, session: Session, flow: AuthFlow) -> None:
        self._finish(session, flow)

    def start_for_channel(
        self, session: Session, req: dict[str, str], client: Client, browser: str, channel: str, return_to: str
    ) -> Step:
        """A journey for a channel other than the authorization endpoint: the level and prompt asked in `req`,
        and, once the person is signed in at that level, back to the channel's page `return_to`."""
        flow = self._start(session, req, client, browser)
        journey.update(flow, **{journey.CHANNEL: channel, journey.RETURN_TO: return_to})
        return Step("login", flow.id)

    def _start(self, session: Session, req: dict[str, str], client: Client, browser: str) -> AuthFlow:
        # A request's own parameters never look like the journey's facts: those start with "_".
        clean = {k: v for k, v in req.items() if not k.startswith("_")}
        return flows.start(session, clean, client.client_id, browser, self.settings.flow_ttl)

    @staticmethod
    def _finish(session: Session, flow: AuthFlow | None) -> None:
        if flow is not None:
            flows.finish(session, flow)

    def _error(self, req: dict[str, str], error: str, description: str) -> str:
        return error_to_client(self.settings.issuer, req, error, description)

    def requested(self, client: Client, req: dict[str, str]) -> list[str]:
        return scopes.parse(client.get_allowed_scope(req.get("scope", "")))

    # --- signing in and stepping up ----------------------------------------------------------------------
    def sign_in(
        self, session: Session, flow: AuthFlow, person: Person, amr: list[str], *, channel: str = "web"
    ) -> tuple[str, LoginSession]:
        """All factors done: a new SSO session (new cookie, new sid), recorded in the journey and audited."""
        amr = acr.with_mfa(amr)
        level = acr.session_level(person.proofing_level, amr)
        ttl = self.settings.shared_session_ttl if self.shared_screen(flow) else self.settings.session_ttl
        cookie, login = sessions.create(session, person.id, acr.acr_for(level), amr, ttl)
        journey.update(flow, **{journey.FRESH_SID: login.sid, journey.AMR: None})
        flow.person_id, flow.otp_id, flow.pending_factors = person.id, None, []
        audit.record(
            session,
            audit.Event(
                action="login",
                subject=person.id,
                actor=person.id,
                channel=channel,
                client=flow.client_id,
                detail={"amr": amr, "acr": login.acr, **_network()},
            ),
        )
        return cookie, login

    def raise_session(
        self,
        session: Session,
        flow: AuthFlow,
        login: LoginSession,
        *,
        face: bool,
        counter: bool = False,
        channel: str = "web",
    ) -> None:
        """After proofing: the session's level is judged again from the person's proofing level."""
        person = session.get(Person, login.person_id)
        assert person is not None
        extra = ["face"] if face else ["counter"] if counter else []
        amr = acr.with_mfa([*login.amr, *extra]) if extra else list(login.amr)
        level = acr.session_level(person.proofing_level, amr)
        sessions.step_up(session, login, acr.acr_for(level), amr)
        audit.record(
            session,
            audit.Event(
                action="login.step_up",
                subject=person.id,
                actor=person.id,
                channel=channel,
                client=flow.client_id,
                detail={"acr": acr.acr_for(level), "amr": amr, **_network()},
            ),
        )

    # --- consent and declining ---------------------------------------------------------------------------
    def consent(self, flow_id: str, browser: str | None, cookie: str | None, approve: bool) -> Outcome:
        with self.unit() as session:
            flow = self.journey(session, flow_id, browser, lock=True)
            login = self.login_of(session, cookie)
            if login is None:
                return Refused("please_sign_in")
            return self.give_consent(session, flow, login, approve)

    def give_consent(self, session: Session, flow: AuthFlow, login: LoginSession, approve: bool) -> Outcome:
        req = journey.request(flow)
        if not approve:
            self._finish(session, flow)
            shared = self.shared_screen(flow)
            if shared:
                sessions.end(session, login)  # declining on a shared screen ends the sign-in too
            return Redirect(self._error(req, "access_denied", "the person declined"), end_session=shared)
        client = self.client_of(flow)
        if client is None:
            return Refused("client_gone")
        consent.grant(session, login.person_id, client.client_id, self.requested(client, req))
        journey.update(flow, **{journey.CONSENTED: login.sid})
        return self.advance(session, flow, login)

    def decline_stepup(self, flow_id: str, browser: str | None, cookie: str | None) -> Outcome:
        with self.unit() as session:
            flow = self.journey(session, flow_id, browser, lock=True)
            login = self.login_of(session, cookie)
            if login is None:
                return Refused("please_sign_in")
            journey.update(flow, **{journey.STEPUP_DECLINED: login.sid})
            return self.advance(session, flow, login)

    def cancel(self, flow_id: str, browser: str | None) -> Outcome:
        """The person gave up at the login page (or a shared screen timed out): the client hears access_denied."""
        with self.unit() as session:
            flow = self.journey(session, flow_id, browser, lock=True)
            if device.is_device(flow):
                return device.deny(self, session, flow, "cancelled")
            req = journey.request(flow)
            shared = self.shared_screen(flow)
            fresh = flow.params.get(journey.FRESH_SID)
            if shared and fresh:
                sessions.end_sid(session, fresh)
            self._finish(session, flow)
            if journey.RETURN_TO in flow.params:
                return Redirect(flow.params[journey.RETURN_TO], end_session=shared)
            return Redirect(self._error(req, "access_denied", "the person cancelled the sign-in"), end_session=shared)


# A pushed request's handle (RFC 9126 §4) is not a request object by reference; its endpoint resolves it.
_PUSHED = "urn:ietf:params:oauth:request_uri:"


def _network() -> dict[str, str]:
    """The masked network the person signed in from, for their own history (`idp.place`), when known."""
    network = place.current()
    return {"network": network} if network else {}


def _unsupported_request_object(req: dict[str, str]) -> str | None:
    """OIDC Core §6.1, §6.2: an OP without request objects MUST answer request_(uri_)not_supported."""
    if "request" in req:
        return "request_not_supported"
    if "request_uri" in req and not req["request_uri"].startswith(_PUSHED):
        return "request_uri_not_supported"
    return None


def _check_client(client: Client | None, req: dict[str, str]) -> Refused | None:
    if client is None:
        return Refused("unknown_client")
    if not client.check_redirect_uri(req.get("redirect_uri", "")):
        # Never redirect to an address we can't vouch for (RFC 6749 §4.1.2.1).
        return Refused("bad_redirect_uri")
    return None
