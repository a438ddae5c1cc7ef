"""The kiosk API (人证合一): parse, authenticate the kiosk, call idp/kiosk/identify.py, answer in OAuth JSON.

- `POST /kiosk/v1/challenge` (application/x-www-form-urlencoded): a liveness challenge for the next citizen.
- `POST /kiosk/v1/identify` (multipart/form-data): the challenge answered — chip fields, the chip photo
  (`chip_photo`) and the camera frames (`frame`, repeated, in order) — for an RFC 6749 §5.1 token response.

Both authenticate the kiosk with `private_key_jwt` only (RFC 7523 §2.2: `client_assertion_type` and
`client_assertion` among the form fields) and name the hall the kiosk stands in (`hall`). The body is limited
before it is read (idp/web/body_limit.py), the number of parts and frames before any is decoded. Errors are
RFC 6749 §5.2 JSON with a `reason`; responses are never cached.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import JSONResponse, Response

from idp.authn.engine import Engine
from idp.kiosk import identify
from idp.kiosk.refusals import Refusal, refuse
from idp.oauth.clients import Client
from idp.oauth.provider import OAuthRequest
from idp.web.deps import get_engine
from idp.web.oauth_api import NO_STORE, oauth_request

router = APIRouter(prefix="/kiosk/v1", tags=["kiosk"])
CHALLENGE_PATH, IDENTIFY_PATH = "/kiosk/v1/challenge", "/kiosk/v1/identify"
TEXT_FIELDS = (
    "client_id", "client_assertion_type", "client_assertion", "hall", "challenge_id", "card_name", "card_number",
    "valid_from", "valid_until", "issuing_authority", "nonce",
)  # fmt: skip
MAX_TEXT = 8 * 1024


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def _refused(refusal: Refusal) -> JSONResponse:
    extra = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
    return _json(refusal.status, refusal.body(), extra)


def _authenticate(engine: Engine, prepared: OAuthRequest) -> Client | JSONResponse:
    """RFC 6749 §5.2 `invalid_client` (401) unless a valid private_key_jwt assertion of a known client."""
    try:
        client: Client = engine.provider.server.authenticate_client(prepared, ["private_key_jwt"], endpoint="kiosk")
    except OAuth2Error as exc:
        return _invalid_client(exc.description or "client authentication failed")
    named = prepared.form.get("client_id")
    if named is not None and named != client.client_id:  # RFC 7521 §4.2: it must name the assertion's subject
        return _invalid_client("client_id is not the assertion's subject")
    return client


def _invalid_client(description: str) -> JSONResponse:
    body = {"error": "invalid_client", "error_description": description}
    return _json(401, body, {"WWW-Authenticate": 'Basic realm="yiwang", error="invalid_client"'})


def _kiosk(engine: Engine, prepared: OAuthRequest) -> identify.Kiosk | JSONResponse:
    client = _authenticate(engine, prepared)
    if isinstance(client, JSONResponse):
        return client
    kiosk = identify.kiosk_of(engine, client, prepared.form.get("hall", ""))
    return _refused(kiosk) if isinstance(kiosk, Refusal) else kiosk


@router.post("/challenge")
async def challenge(request: Request) -> Response:
    engine = get_engine(request)
    prepared = await oauth_request(request)
    if not isinstance(prepared, OAuthRequest):
        return _json(prepared.status, prepared.body)

    def work() -> JSONResponse:
        kiosk = _kiosk(engine, prepared)
        if isinstance(kiosk, JSONResponse):
            return kiosk
        issued = identify.challenge(engine, kiosk)
        return _json(
            200, {"challenge_id": issued.challenge_id, "actions": issued.actions, "expires_in": issued.expires_in}
        )

    return await run_in_threadpool(work)


async def _multipart(request: Request) -> FormData | Refusal:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return refuse("bad_request")
    try:
        # Parts are counted as they stream in: more frames than allowed is refused before any is decoded.
        return await request.form(
            max_files=identify.MAX_FRAMES + 1, max_fields=len(TEXT_FIELDS), max_part_size=MAX_TEXT
        )
    except Exception as exc:  # Starlette raises MultiPartException / HTTPException(400) for malformed bodies
        if getattr(exc, "status_code", 400) == 413:
            raise
        return refuse("bad_frames" if "files" in str(exc).lower() else "bad_request")


async def _read(part: Any, limit: int) -> bytes | None:
    if not isinstance(part, UploadFile):
        return None
    data = await part.read(limit + 1)
    return data if len(data) <= limit else None


@router.post("/identify")
async def identify_route(request: Request) -> Response:
    engine = get_engine(request)
    form = await _multipart(request)
    if isinstance(form, Refusal):
        return _refused(form)
    try:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if set(fields) - set(TEXT_FIELDS) or len(fields) != len(
            [k for k, v in form.multi_items() if isinstance(v, str)]
        ):
            return _refused(refuse("bad_request"))  # unknown or repeated fields
        prepared = OAuthRequest(
            "POST", engine.settings.issuer + request.url.path, request.headers, [], list(fields.items())
        )
        parts = form.getlist("frame")
        if not 1 <= len(parts) <= identify.MAX_FRAMES:
            return _refused(refuse("bad_frames"))
        frames = [await _read(p, identify.MAX_FRAME_BYTES) for p in parts]
        chip = await _read(form.get("chip_photo"), identify.MAX_CHIP_PHOTO_BYTES)
    finally:
        await form.close()
    if any(f is None for f in frames):
        return _refused(refuse("bad_frames"))
    if chip is None:
        return _refused(refuse("bad_chip_photo"))
    evidence = identify.Evidence(
        challenge_id=fields.get("challenge_id", ""),
        name=fields.get("card_name", ""),
        number=fields.get("card_number", ""),
        valid_from=fields.get("valid_from", ""),
        valid_until=fields.get("valid_until", ""),
        authority=fields.get("issuing_authority") or None,
        chip_photo=chip,
        frames=[f for f in frames if f is not None],
        nonce=(fields.get("nonce") or None),
    )

    def work() -> JSONResponse:
        kiosk = _kiosk(engine, prepared)
        if isinstance(kiosk, JSONResponse):
            return kiosk
        outcome = identify.identify(engine, kiosk, evidence)
        return _refused(outcome) if isinstance(outcome, Refusal) else _json(200, outcome)

    return await run_in_threadpool(work)
