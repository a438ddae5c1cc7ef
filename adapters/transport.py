"""What every HTTP adapter shares: one httpx.AsyncClient with explicit time-outs, a breaker, a guard."""

from __future__ import annotations

from types import TracebackType

import httpx

from adapters.base import AuditHook
from adapters.config import HttpConfig
from adapters.correlation import tag_request
from adapters.resilience import CircuitBreaker, Guard, RetryPolicy

__all__ = ["HttpAdapter", "timeout_of"]


def timeout_of(http: HttpConfig) -> httpx.Timeout:
    return httpx.Timeout(
        connect=http.connect_timeout_s, read=http.read_timeout_s, write=http.read_timeout_s, pool=http.connect_timeout_s
    )


class HttpAdapter:
    """Base of the HTTP adapters. `transport` lets the sandbox route calls to an in-process emulator."""

    provider = "provider"

    def __init__(
        self,
        base_url: str,
        http: HttpConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.breaker = CircuitBreaker(http.breaker_failures, http.breaker_cooldown_s)
        self.guard = Guard(self.provider, self.breaker, http.deadline_s, on_call)
        self.retry = RetryPolicy(http.retry_attempts, http.retry_backoff_s)
        self.client = httpx.AsyncClient(
            timeout=timeout_of(http),
            transport=transport,
            verify=http.verify_tls,
            follow_redirects=False,
            event_hooks={"request": [tag_request]},
        )

    def url(self, path: str = "") -> str:
        return self.base_url + path

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> HttpAdapter:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
