"""One place that turns errors into responses: RFC 7807 problem JSON for APIs, a readable page for people."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SqlTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.errors import InvalidInput, NotReady, YiwangError
from idp.logs import get_logger
from idp.masking import mask_text
from idp.oauth.redis_link import LimitsUnavailable
from idp.web.pages import render
from signing.errors import SigningError

log = get_logger("yiwang.http")
_API_PREFIXES = ("/admin/", "/api/", "/readyz", "/healthz")
# OAuth endpoints answer errors as RFC 6749 §5.2 JSON, which their clients parse, not as problem documents.
_OAUTH_ENDPOINTS = frozenset({"/token", "/par", "/bc-authorize", "/device_authorization", "/revoke", "/introspect"})


def _wants_page(request: Request) -> bool:
    if request.url.path.startswith(_API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def respond(request: Request, error: YiwangError | SigningError) -> Response:
    """The response for a refusal: a page for a browser, RFC 7807 JSON for everything else."""
    challenge = getattr(error, "challenge", None)
    headers = {"WWW-Authenticate": challenge or "Bearer"} if error.status == 401 or challenge else None
    if headers is not None:
        headers.update(getattr(error, "extra_headers", None) or {})  # e.g. DPoP-Nonce (RFC 9449 §9)
    if _wants_page(request):
        return render(request, "error.html", {"detail": error.detail}, status_code=error.status)
    return JSONResponse(
        error.problem(instance=mask_text(request.url.path)),
        status_code=error.status,
        media_type="application/problem+json",
        headers=headers,
    )


async def _yiwang_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, YiwangError | SigningError)
    log.info("request refused", path=request.url.path, status=exc.status, detail=exc.detail)
    return respond(request, exc)


async def _limits_unavailable(request: Request, exc: Exception) -> Response:
    """Redis, holding the shared limits, is down: refused with a 503 and a retry (fail closed, not open)."""
    assert isinstance(exc, LimitsUnavailable)
    log.warning("request refused: limits unavailable", path=request.url.path)
    response: Response
    if request.url.path in _OAUTH_ENDPOINTS:
        body = {"error": "temporarily_unavailable", "error_description": exc.detail}
        response = JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
    else:
        response = respond(request, exc)
    response.headers["Retry-After"] = "5"
    return response


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


def _is_busy(exc: Exception) -> bool:
    """The database could not take this request now (SQLite's lock, a full pool, PostgreSQL lock or
    statement timeouts, a dropped connection), as opposed to a fault in our code."""
    if isinstance(exc, SqlTimeout):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig or exc).lower()
        return any(s in text for s in ("locked", "busy", "timeout", "could not connect", "connection", "lock"))
    return False


async def _database_busy(request: Request, exc: Exception) -> Response:
    if not _is_busy(exc):
        raise exc
    log.warning("database busy", path=request.url.path, error=type(exc).__name__)
    error = NotReady(
        "服务繁忙，请稍后重试；你填写的内容没有丢失。The service is busy; please try again in a moment — nothing was lost."
    )
    response = respond(request, error)
    response.headers["Retry-After"] = "2"
    return response


def install(app: FastAPI) -> None:
    # A busy database means a clear 503 and a retry, never a 500 (every unit of work rolled back whole).
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(SqlTimeout, _database_busy)
    app.add_exception_handler(LimitsUnavailable, _limits_unavailable)
    app.add_exception_handler(YiwangError, _yiwang_error)
    app.add_exception_handler(SigningError, _yiwang_error)  # signing's own tree, same shape
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
