"""One place that turns errors into responses: RFC 7807 problem JSON for APIs, a readable page for people."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.errors import InvalidInput, YiwangError
from idp.logs import get_logger
from idp.masking import mask_text
from idp.web.pages import render

log = get_logger("yiwang.http")
_API_PREFIXES = ("/admin/", "/api/", "/readyz", "/healthz")


def _wants_page(request: Request) -> bool:
    if request.url.path.startswith(_API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def respond(request: Request, error: YiwangError) -> Response:
    """The response for a refusal: a page for a browser, RFC 7807 JSON for everything else."""
    challenge = getattr(error, "challenge", None)
    headers = {"WWW-Authenticate": challenge or "Bearer"} if error.status == 401 or challenge else None
    if _wants_page(request):
        return render(request, "error.html", {"detail": error.detail}, status_code=error.status)
    return JSONResponse(
        error.problem(instance=mask_text(request.url.path)),
        status_code=error.status,
        media_type="application/problem+json",
        headers=headers,
    )


async def _yiwang_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, YiwangError)
    log.info("request refused", path=request.url.path, status=exc.status, detail=exc.detail)
    return respond(request, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Pydantic echoes the offending input; keep only where and what, never the value.
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return respond(request, InvalidInput(mask_text("; ".join(parts))))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = YiwangError(str(exc.detail))
    error.status, error.slug, error.title = exc.status_code, f"http-{exc.status_code}", str(exc.detail)
    return respond(request, error)


def install(app: FastAPI) -> None:
    app.add_exception_handler(YiwangError, _yiwang_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
