"""What signing's routes need from the app that mounts them, and the FastAPI dependencies built on it.

The app sets `app.state.signing_host` to an object with these methods (Starlette's way: configuration on the
app's state, no module globals). Errors the host raises (401 with a challenge, a bad CSRF token...) are the
app's own and rendered by its handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from signing.context import SigningContext
from signing.errors import InvalidInput


@dataclass(frozen=True)
class Caller:
    """Who a verified access token speaks for: a client alone, or a person through a client."""

    client_id: str
    person_id: str | None
    acr: str | None
    auth_time: int | None


@dataclass(frozen=True)
class Login:
    """The person signed in on this browser (SSO session), with what that sign-in proved and when."""

    person_id: str
    acr: str | None
    auth_time: int | None


class WebHost(Protocol):
    def signing(self, request: Request) -> SigningContext:
        """The process's signing context (built once, keys unsealed once); NotReady while the service is not."""
        ...

    async def caller(self, request: Request, scope: str) -> Caller:
        """The bearer token's caller, or a 401/403 with a challenge when it is missing, invalid or lacks `scope`."""
        ...

    def login(self, request: Request, session: Session) -> Login | None: ...

    def client_name(self, session: Session, client_id: str) -> str: ...

    def render(self, request: Request, template: str, context: dict[str, Any]) -> Response:
        """A page for people, in the app's layout and the reader's language."""
        ...

    def csrf_token(self, request: Request, purpose: str, context: str) -> str:
        """A token binding a form to this browser (identified by a cookie `finish` sets if it is new)."""
        ...

    def check_csrf(self, request: Request, submitted: str, purpose: str, context: str) -> None: ...

    def finish(self, request: Request, response: Response) -> Response:
        """Set what a page's rendering needed on the response (the browser cookie)."""
        ...


def get_host(request: Request) -> WebHost:
    host: WebHost = request.app.state.signing_host
    return host


def get_signing(request: Request) -> SigningContext:
    return get_host(request).signing(request)


SigningDep = Annotated[SigningContext, Depends(get_signing)]
HostDep = Annotated[WebHost, Depends(get_host)]


def require_token(scope: str) -> Any:
    """`Depends(require_token("seal"))`: the caller of a valid access token with that scope."""

    async def dependency(request: Request) -> Caller:
        return await get_host(request).caller(request, scope)

    return dependency


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413-free: a problem 400) beyond `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InvalidInput(f"the request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise InvalidInput(f"the request body is larger than {limit} bytes")
    return bytes(body)
