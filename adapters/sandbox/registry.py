"""Population-registry emulator: the server side of adapters/population-registry.md, over the seeded population.

Photos come from `photos` (ID number → image bytes), e.g. loaded from a directory by `Sandbox`; a person with
no photo there matches without one.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.sandbox import dataset
from adapters.sandbox.state import Store
from adapters.sandbox.wire import registry as wire

__all__ = ["registry_app", "media_type_of"]


def media_type_of(photo: bytes) -> str:
    if photo.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if photo.startswith(b"\x89PNG"):
        return "image/png"
    return "application/octet-stream"


MAX_SKEW_S = 300  # the protocol's allowed clock skew (adapters/population-registry.md)


def registry_app(
    store: Store,
    key_id: str,
    secret: str,
    photos: Mapping[str, bytes],
    clock: Callable[[], float] = time.time,
) -> Starlette:
    key = secret.encode()

    def signed(status: int, payload: dict[str, Any], nonce: str) -> Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        ts = int(clock())
        headers = {"X-Registry-Signature": wire.answer_header(key, nonce, status, ts, body)}
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    async def authenticate(request: Request, body: bytes) -> tuple[str, Response | None]:
        auth = wire.signed(request.headers.get("authorization", ""))
        if auth is None:
            # Nothing to bind an answer to: unsigned 401.
            return "", Response(b'{"error":"unauthorized"}', 401, media_type="application/json")
        if auth.key_id != key_id:
            return auth.nonce, signed(401, {"error": "unknown_key", "message": "unknown key id"}, auth.nonce)
        if not wire.verified(key, request.method, request.url.path, auth, body):
            return auth.nonce, signed(401, {"error": "bad_signature", "message": "signature mismatch"}, auth.nonce)
        if abs(auth.timestamp - clock()) > MAX_SKEW_S:
            return auth.nonce, signed(401, {"error": "stale_timestamp", "message": "clock skew too large"}, auth.nonce)
        if not store.add_once(f"registry-nonce:{auth.nonce}", 2 * MAX_SKEW_S):
            return auth.nonce, signed(401, {"error": "replayed_nonce", "message": "nonce already used"}, auth.nonce)
        return auth.nonce, None

    async def verify(request: Request) -> Response:
        body = await request.body()
        nonce, refusal = await authenticate(request, body)
        if refusal is not None:
            return refusal
        try:
            q = json.loads(body)
            name, id_number = str(q["name"]), str(q["id_number"]).upper()
            include_photo = bool(q.get("include_photo", False))
        except (ValueError, KeyError, TypeError):
            return signed(400, {"error": "bad_request", "message": "name and id_number are required"}, nonce)
        person = dataset.by_id_number(id_number)
        if person is None or not person.in_registry:
            return signed(200, {"result": "not_found", "photo": None}, nonce)
        if person.name != name.strip():
            return signed(200, {"result": "mismatch", "photo": None}, nonce)
        photo = photos.get(person.id_number) if include_photo else None
        photo_json = {"media_type": media_type_of(photo), "data": base64.b64encode(photo).decode()} if photo else None
        return signed(200, {"result": "match", "photo": photo_json}, nonce)

    async def status(request: Request) -> Response:
        nonce, refusal = await authenticate(request, await request.body())
        return refusal if refusal is not None else signed(200, {"status": "ok"}, nonce)

    return Starlette(routes=[Route("/v1/verify", verify, methods=["POST"]), Route("/v1/status", status)])
