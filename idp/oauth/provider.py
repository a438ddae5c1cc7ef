"""The provider: Authlib's AuthorizationServer wired to our storage, keys and policy.

Framework-free (Authlib's integration pattern): the web layer turns HTTP requests into `OAuthRequest`
objects and `OAuthResponse` tuples back into HTTP responses.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import SmsGateway
from adapters.factory import Adapters
from idp import metrics
from idp.db import utcnow
from idp.errors import Conflict
from idp.oauth import ciba, device, dpop, exchange, grants, par, scopes, subjects, tokens
from idp.oauth.client_auth import PrivateKeyJwt
from idp.oauth.clients import Client, ClientCache, create_client
from idp.oauth.endpoints import Introspection, Revocation
from idp.oauth.models import AuthorizationCode, RefreshToken
from idp.oauth.ratelimit import Counters, DatabaseCounters, RedisCounters
from idp.oauth.signer import TokenSigner
from idp.runtime import Runtime
from idp.settings import Settings


class _Payload:
    def __init__(self, data: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self.data, self.datalist = data, datalist

    client_id = property(lambda self: self.data.get("client_id"))
    grant_type = property(lambda self: self.data.get("grant_type"))
    redirect_uri = property(lambda self: self.data.get("redirect_uri"))
    scope = property(lambda self: self.data.get("scope"))
    state = property(lambda self: self.data.get("state"))

    @property
    def response_type(self) -> str | None:
        rt = self.data.get("response_type")
        return " ".join(sorted(rt.split())) if rt and " " in rt else rt


# The unit of work of the request being handled on this thread (or task), if one is open.
_UNIT: ContextVar[Session | None] = ContextVar("yiwang_unit_of_work", default=None)


class OAuthRequest(OAuth2Request):  # type: ignore[misc]
    """An HTTP request as Authlib sees it, built from plain data (no framework object inside)."""

    def __init__(
        self, method: str, uri: str, headers: Any, query: list[tuple[str, str]], form: list[tuple[str, str]]
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        datalist: dict[str, list[str]] = defaultdict(list)
        for key, value in [*query, *form]:
            datalist[key].append(value)
        self._args = {k: v for k, v in query}
        self._form = {k: v for k, v in form}
        # Repeated parameters are an error in OAuth (RFC 6749 §3.1); the first value is what checks see.
        self.payload = _Payload({k: v[0] for k, v in datalist.items()}, datalist)
        # The caller's unit of work, when the request is handled inside one (storage hooks write into it).
        self.db: Session | None = None
        # The checked DPoP proof of a token request (RFC 9449 §5), if it came with one.
        self.dpop: dpop.Proof | None = None

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass(frozen=True)
class OAuthResponse:
    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)


class _AccessTokens(BearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 JWT access tokens and opaque refresh tokens."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(self._access_token, self._refresh_token, self._expires_in)
        self.provider = provider

    def _expires_in(self, client: Any, grant_type: str) -> int:
        return self.provider.settings.access_token_ttl

    def _refresh_token(self, client: Any, grant_type: str, user: Any, scope: str) -> str:
        return secrets.token_urlsafe(32)

    def generate(
        self,
        grant_type: str,
        client: Client,
        user: tokens.AuthUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token: dict[str, Any] = super().generate(grant_type, client, user, scope, expires_in, include_refresh_token)
        if dpop.bound_key() is not None:
            token["token_type"] = "DPoP"  # RFC 9449 §5.1
        return token

    def _access_token(self, client: Client, grant_type: str, user: tokens.AuthUser | None, scope: str) -> str:
        p = self.provider
        if user is None:  # client_credentials: the client acts for itself (RFC 9068 §2.2)
            claims = tokens.access_token_claims(
                issuer=p.settings.issuer,
                client_id=client.client_id,
                sub=client.client_id,
                scope=scope,
                ttl=p.settings.access_token_ttl,
            )
        else:
            claims = tokens.access_token_claims(
                issuer=p.settings.issuer,
                client_id=client.client_id,
                sub=p.subject_of(client, user.person_id),
                scope=scope,
                ttl=p.settings.access_token_ttl,
                acr=user.acr,
                amr=list(user.amr),
                auth_time=user.auth_time,
                sid=user.sid,
            )
        jkt = dpop.bound_key()
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}  # RFC 9449 §6.1
        return p.signer.sign(claims, typ=tokens.AT_TYP)


class OAuthServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, provider: Provider) -> None:
        super().__init__(scopes_supported=list(scopes.SUPPORTED))
        self.provider = provider

    def query_client(self, client_id: str) -> Client | None:
        return self.provider.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        self.provider.save_token(token, request)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResponse:
        return OAuthResponse(status, body, list(headers or []))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


class Provider:
    def __init__(self, runtime: Runtime, adapters: Adapters) -> None:
        self.runtime = runtime
        self.adapters = adapters
        self.settings: Settings = runtime.settings
        self.signer = TokenSigner(runtime)
        self.clients = ClientCache(runtime.engine)
        self.counters: Counters = (
            RedisCounters(self.settings.redis_url) if self.settings.redis_url else DatabaseCounters(runtime.sessions)
        )
        self.sms: SmsGateway = adapters.sms
        self.dpop = dpop.Verifier(
            dpop.Nonces(lambda text: runtime.protector.index("dpop_nonce", text), self.settings.dpop_nonce_rotation_s),
            dpop.RedisReplay(self.settings.redis_url)
            if self.settings.redis_url
            else dpop.DatabaseReplay(runtime.sessions),
            self.settings.dpop_proof_max_age_s,
            self.settings.dpop_clock_leeway_s,
        )
        server = OAuthServer(self)
        server.register_token_generator("default", _AccessTokens(self))
        server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(self))
        server.register_grant(
            grants.AuthorizationCodeGrant,
            [grants.S256CodeChallenge(required=True), grants.OpenIDCodeExtension(self)],
        )
        server.register_grant(grants.RefreshTokenGrant)
        server.register_grant(grants.ClientCredentialsGrant)
        server.register_endpoint(Revocation)
        server.register_endpoint(Introspection)
        device.register(server)
        self.ciba = ciba.Ciba(self, server)
        exchange.register(server)
        server.register_endpoint(par.PushedAuthorization)
        self.server = server

    # --- subjects --------------------------------------------------------------------------------------
    @contextmanager
    def unit(self, request: Any = None) -> Iterator[Session]:
        """The request's unit of work if one is open (one transaction per request), else a new one."""
        db = getattr(request, "db", None) or _UNIT.get()
        if db is not None:
            yield db
            return
        with self.runtime.transaction() as session:
            mark = _UNIT.set(session)
            try:
                yield session
            finally:
                _UNIT.reset(mark)

    def ensure_own_client(self, client_id: str, **registration: Any) -> None:
        """A client of our own (the demo, the console, the account centre, the kiosk demo), registered on first
        use — by a POST, never a GET — and known to this worker's cache at once."""
        if self.clients.get(client_id) is not None:
            return
        with suppress(Conflict):  # another worker registered it first
            self.runtime.run(lambda s: create_client(s, client_id=client_id, **registration))
        self.clients.forget(client_id)

    def subject_of(self, client: Client, person_id: str, session: Session | None = None) -> str:
        if session is not None:
            return subjects.subject(session, self.runtime.protector, client, person_id)
        with self.unit() as own:
            return subjects.subject(own, self.runtime.protector, client, person_id)

    # --- storage hooks ---------------------------------------------------------------------------------
    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Record what a grant issued: refresh tokens (hashed, in their family) and, for codes, the issue."""
        user: tokens.AuthUser | None = request.user
        refresh = token.get("refresh_token")
        access_jti = grants.unverified_claims(token["access_token"])["jti"]
        if user is None or (not refresh and request.authorization_code is None):
            return
        with self.unit(request) as session:
            family = None
            if refresh:
                previous = getattr(request, "refresh_token", None)
                family = previous.family_id if previous is not None else grants.new_family_id()
                session.add(
                    grants.refresh_row(
                        refresh,
                        family,
                        request.client.client_id,
                        user,
                        token.get("scope", ""),
                        self.settings.refresh_token_ttl,
                        access_jti,
                        # RFC 9449 §5: a public client's refresh token is bound to its DPoP key.
                        request.dpop.jkt if request.dpop is not None and request.client.is_public else None,
                    )
                )
            code = request.authorization_code
            if code is not None:
                row = session.get(AuthorizationCode, code.code_hash)
                if row is not None:
                    row.issued_jti, row.issued_family = access_jti, family

    def revoke_issued(self, session: Session, *, jti: str | None, family: str | None) -> None:
        if jti:
            tokens.revoke_jti(session, jti, self._access_expiry_bound())
        if family:
            self.revoke_family(session, family)

    def revoke_family(self, session: Session, family_id: str) -> None:
        now = utcnow()
        for row in session.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id)):
            if row.revoked_at is None:
                row.revoked_at = now
            if row.access_jti:
                tokens.revoke_jti(session, row.access_jti, self._access_expiry_bound())

    def _access_expiry_bound(self) -> int:
        """Latest moment an access token issued until now can expire: how long its deny-list entry lives."""
        return int(datetime.now(UTC).timestamp()) + self.settings.access_token_ttl

    # --- HTTP-free entry points ------------------------------------------------------------------------
    def token(self, request: OAuthRequest) -> OAuthResponse:
        if dpop.present(request.headers):
            # RFC 9449 §5: the proof is checked (its jti remembered) before the exchange's unit of work opens.
            try:
                request.dpop = self.dpop.check(
                    request.headers,
                    "POST",
                    self.settings.issuer + "/token",
                    require_nonce=self.settings.dpop_nonce_required,
                )
            except dpop.DPoPError as exc:
                return self.dpop_refusal(exc)
        mark = dpop.bind(request.dpop.jkt if request.dpop is not None else None)
        try:
            response = self._token(request)
        finally:
            dpop.unbind(mark)
        if request.dpop is not None:
            # §8.2: a fresh nonce with every answer, so a client follows the rotation without a refusal.
            return OAuthResponse(response.status, response.body, [*response.headers, *self.dpop_nonce_header()])
        return response

    def _token(self, request: OAuthRequest) -> OAuthResponse:
        grant_type = request.payload.data.get("grant_type")
        if grant_type == "client_credentials":
            # Nothing to store: no transaction at all on the machine-client path (a DPoP jti was stored above).
            response: OAuthResponse = self.server.create_token_response(request)
        else:
            # One unit of work for the whole exchange: claiming the code, subjects, refresh token, its record.
            with self.unit(request) as session:
                request.db = session
                response = self.server.create_token_response(request)
        metrics.count_grant(grant_type, response.status, response.body)
        return response

    def dpop_nonce_header(self) -> list[tuple[str, str]]:
        return [(dpop.NONCE_HEADER, self.dpop.nonces.current())]

    def dpop_refusal(self, exc: dpop.DPoPError) -> OAuthResponse:
        """RFC 9449 §5 and §8: 400 invalid_dpop_proof, or use_dpop_nonce with the nonce to retry with."""
        headers = self.dpop_nonce_header() if isinstance(exc, dpop.NonceRequired) else []
        return OAuthResponse(400, {"error": exc.error, "error_description": str(exc)}, headers)

    def endpoint(self, name: str, request: OAuthRequest) -> OAuthResponse:
        response: OAuthResponse = self.server.create_endpoint_response(name, request)
        return response


def json_body(response: OAuthResponse) -> bytes:
    body = response.body
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()
