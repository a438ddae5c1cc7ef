"""Request body limits per route, enforced while the body streams in: 413 before anything parses it.

A declared Content-Length over the limit is refused before the route runs; a chunked (or understated) body is
counted as it is received and the route's read fails at the limit, so no handler ever holds more than the
limit in memory. Small by default (OAuth, forms, JSON APIs); sized for PDFs and for face frames where those
are uploaded. Each limit comes from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idp.errors import YiwangError
from idp.settings import Settings
from idp.web.i18n import pick_language

# RFC 6749 endpoints answer in RFC 6749 error JSON, like every other refusal they make.
OAUTH_PATHS = frozenset(
    {"/token", "/introspect", "/revoke", "/userinfo", "/authorize", "/kiosk/v1/challenge", "/kiosk/v1/identify"}
)
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Limits:
    default: int
    exact: dict[str, int]
    prefixes: tuple[tuple[str, int], ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        document = settings.max_document_bytes + 256 * 1024  # multipart framing and form fields around the PDF
        base64_document = settings.max_document_bytes * 4 // 3 + 256 * 1024
        return cls(
            default=settings.max_form_body_bytes,
            exact={
                "/stepup/face": settings.max_face_body_bytes,
                "/kiosk/v1/identify": settings.max_face_body_bytes,  # frames and the chip photo, as parts
                "/signing/v1/verify": document,
                "/signing/v1/sign": document,
                "/csc/v2/signatures/signDoc": base64_document,
            },
            prefixes=(
                ("/signing/v1/seals/", document),
                # The emulators receive what our adapters send providers: face frames and photos.
                ("/sandbox/", settings.max_face_body_bytes),
            ),
        )

    def for_path(self, path: str) -> int:
        if path in self.exact:
            return self.exact[path]
        for prefix, limit in self.prefixes:
            if path.startswith(prefix):
                return limit
        return self.default


class TooLarge(YiwangError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes the limit: FastAPI lets HTTPExceptions out of body parsing."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")
        self.limit = limit


def too_large(request: Request, limit: int) -> Response:
    if request.url.path in OAUTH_PATHS:
        body = {"error": "invalid_request", "error_description": f"the request body is larger than {limit} bytes"}
        return JSONResponse(body, status_code=413, headers={"Cache-Control": "no-store"})
    from idp.web import problems  # problems renders pages, which import the app's templates: load it late

    if pick_language(request).startswith("zh"):
        detail = f"请求内容过大（上限 {limit} 字节）。 The request is too large (limit {limit} bytes)."
    else:
        detail = f"The request is too large (limit {limit} bytes). 请求内容过大（上限 {limit} 字节）。"
    return problems.respond(request, TooLarge(detail))


async def handle_body_too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyTooLarge)
    return too_large(request, exc.limit)


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _NO_BODY:
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await too_large(Request(scope), limit)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
