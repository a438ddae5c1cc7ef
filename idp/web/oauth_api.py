"""Machine-facing OAuth/OIDC endpoints: discovery, JWKS, token, introspection, revocation, userinfo.

Each is a thin adapter: read the HTTP request into an `OAuthRequest`, let the provider answer, write the
`OAuthResponse` back. Errors are RFC 6749 JSON, produced by Authlib.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idp.oauth import discovery, sender
from idp.oauth.provider import OAuthRequest, OAuthResponse, Provider, json_body
from idp.oauth.userinfo import userinfo
from idp.web.deps import get_provider

router = APIRouter(tags=["oauth"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FORM_BYTES = 64 * 1024
REPEATABLE = frozenset({"resource", "audience"})


async def oauth_request(request: Request) -> OAuthRequest | OAuthResponse:
    """The request as Authlib sees it; an RFC 6749 error response when it's not acceptable as a form."""
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return OAuthResponse(413, {"error": "invalid_request", "error_description": "request too large"})
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return OAuthResponse(
                400,
                {"error": "invalid_request", "error_description": "use application/x-www-form-urlencoded"},
            )
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return OAuthResponse(413, {"error": "invalid_request", "error_description": "request too large"})
        try:
            # A plain parse: the token endpoint is the hot path, and OAuth forms are small and flat.
            form = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return OAuthResponse(400, {"error": "invalid_request", "error_description": "the form is not UTF-8"})
    query = list(request.query_params.multi_items())
    # RFC 6749 §3.2: a parameter without a value counts as omitted; none may be sent twice. (`resource` and
    # `audience` may repeat by their own specifications, RFC 8707 §2 and RFC 8693 §2.1.)
    form = [(k, v) for k, v in form if v != ""]
    names = [k for k, _ in [*query, *form] if k not in REPEATABLE]
    if len(names) != len(set(names)):
        # (The names are not echoed: error_description is limited to printable ASCII, RFC 6749 §5.2.)
        return OAuthResponse(400, {"error": "invalid_request", "error_description": "a parameter is repeated"})
    # Authlib sees the URL under our issuer (the public name), not whatever Host the request carried.
    uri = request.app.state.settings.issuer + request.url.path
    return OAuthRequest(request.method, uri, request.headers, query, form)


def to_response(result: OAuthResponse, extra_headers: dict[str, str] | None = None) -> Response:
    headers = dict(result.headers)
    headers.update(extra_headers or {})
    headers.pop("Content-Type", None)
    return Response(json_body(result), status_code=result.status, headers=headers, media_type="application/json")


def _metadata(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    return JSONResponse(discovery.metadata(settings.issuer, require_par=settings.require_par))


@router.get("/.well-known/openid-configuration")
async def openid_configuration(request: Request) -> JSONResponse:
    return _metadata(request)


@router.get("/.well-known/oauth-authorization-server")
async def oauth_metadata(request: Request) -> JSONResponse:
    return _metadata(request)


@router.get("/jwks")
async def jwks(provider: ProviderDep) -> JSONResponse:
    provider.signer.refresh()
    return JSONResponse(provider.signer.jwks, headers={"Cache-Control": "public, max-age=300"})


async def _run(request: Request, call: Any) -> Response:
    prepared = await oauth_request(request)
    if isinstance(prepared, OAuthResponse):
        return to_response(prepared, NO_STORE)
    return to_response(await run_in_threadpool(call, prepared), NO_STORE)


async def token(request: Request) -> Response:
    """The token endpoint: a plain Starlette route (see `TOKEN_ROUTE`)."""
    provider: Provider = request.app.state.provider or get_provider(request)
    prepared = await oauth_request(request)
    if isinstance(prepared, OAuthResponse):
        return to_response(prepared, NO_STORE)
    payload = prepared.payload.data
    fast = "client_assertion" not in payload and "dpop" not in request.headers  # a DPoP jti is a write
    if payload.get("grant_type") == "client_credentials" and fast:
        # Machine clients with a secret: a cached client, a hash compare and a signature — no I/O to wait
        # for, so the hop to a worker thread would only cost time.
        return to_response(provider.token(prepared), NO_STORE)
    return to_response(await run_in_threadpool(provider.token, prepared), NO_STORE)


# The hottest endpoint skips FastAPI's per-request dependency machinery and is matched first.
TOKEN_ROUTE = Route("/token", token, methods=["POST"], name="token")


def client_authentication_failed_is_401(result: OAuthResponse) -> OAuthResponse:
    """RFC 7662 §2.3: invalid client credentials at introspection answer 401 as in RFC 6749 §5.2.

    Authlib answers 401 only when the client could have used HTTP Basic; a private_key_jwt client with a bad
    assertion got 400. A 401 needs a challenge (RFC 9110 §11.6.1): Basic, the scheme RFC 6749 names.
    """
    body = result.body if isinstance(result.body, dict) else None
    if result.status != 400 or body is None or body.get("error") != "invalid_client":
        # (Authlib hands errors over as dicts; anything else is a success body or our own refusal.)
        return result
    headers = [h for h in result.headers if h[0].lower() != "www-authenticate"]
    headers.append(("WWW-Authenticate", 'Basic realm="yiwang", error="invalid_client"'))
    return OAuthResponse(401, body, headers)


def unsupported_token_type_is_400(result: OAuthResponse) -> OAuthResponse:
    """RFC 7009 §2.2.1: the error is presented as in RFC 6749 §5.2, a 400 (Authlib answers 401 with a
    challenge, as if the client had failed to authenticate)."""
    body = result.body if isinstance(result.body, dict) else None
    if body is None or body.get("error") != "unsupported_token_type":
        return result
    return OAuthResponse(400, body, [h for h in result.headers if h[0].lower() != "www-authenticate"])


@router.post("/introspect")
async def introspect(request: Request, provider: ProviderDep) -> Response:
    return await _run(
        request,
        lambda r: unsupported_token_type_is_400(
            client_authentication_failed_is_401(provider.endpoint("introspection", r))
        ),
    )


@router.post("/device_authorization")
async def device_authorization(request: Request, provider: ProviderDep) -> Response:
    """RFC 8628 §3.1: a kiosk (or any device client) asks for a device code and a user code."""
    return await _run(request, lambda r: provider.endpoint("device_authorization", r))


@router.post("/par")
async def pushed_authorization_request(request: Request, provider: ProviderDep) -> Response:
    """RFC 9126 §2: push an authorization request; 201 with a single-use request_uri."""
    return await _run(
        request, lambda r: client_authentication_failed_is_401(provider.endpoint("pushed_authorization", r))
    )


@router.post("/revoke")
async def revoke(request: Request, provider: ProviderDep) -> Response:
    return await _run(request, lambda r: unsupported_token_type_is_400(provider.endpoint("revocation", r)))


# Two decorators, not one route with two methods: that gives both the same OpenAPI operation id, and
# /openapi.json then warns of a duplicate.
@router.get("/userinfo")
@router.post("/userinfo")
async def userinfo_endpoint(request: Request, provider: ProviderDep) -> Response:
    """OIDC Core §5.3; the token in the Authorization header only (RFC 6750 §2.1), as a bearer token or, bound
    to a key, with the DPoP scheme and a proof (RFC 9449 §7)."""
    header = request.headers.get("authorization", "")
    url = request.app.state.settings.issuer + request.url.path

    def work() -> OAuthResponse:
        try:
            token = sender.presented_token(provider, header, request.headers, request.method, url)
        except sender.TokenRefused as exc:
            return OAuthResponse(exc.status, {"error": exc.error, "error_description": exc.description}, exc.headers)
        return userinfo(provider, token)

    return to_response(await run_in_threadpool(work), NO_STORE)
