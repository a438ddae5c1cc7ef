"""Around every provider call: a circuit breaker, bounded time, retries for idempotent calls, one audit record.

The breaker lives in the adapter instance (per process): after `failure_threshold` consecutive failures it
opens and every call fails at once with ProviderUnavailable; after `cooldown_s` one trial call is let through
(half-open): success closes it, failure opens it again. Only "no usable answer" counts as a failure (network,
time-out, 5xx, an answer we cannot trust); a business "no" is a success of the provider.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx

from adapters.base import AuditHook
from adapters.errors import InvalidResponse, ProviderError, ProviderUnavailable

__all__ = ["CircuitBreaker", "RetryPolicy", "Guard", "classify_status"]

T = TypeVar("T")


class CircuitBreaker:
    """closed → (N consecutive failures) → open → (cool-down) → half-open → (trial ok) closed / (fails) open."""

    def __init__(
        self, failure_threshold: int = 5, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a call go out now? In half-open state exactly one trial call is allowed at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()


@dataclass(frozen=True)
class RetryPolicy:
    """For idempotent calls only: `attempts` in all, sleeping `backoff_s * 2**i` between them."""

    attempts: int = 3
    backoff_s: float = 0.2


NO_RETRY = RetryPolicy(attempts=1, backoff_s=0.0)


def classify_status(provider: str, response: httpx.Response) -> None:
    """A 5xx (or 429) answer is "unavailable"; the caller parses everything else."""
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnavailable(provider, f"HTTP {response.status_code}")


class _Attempt(Exception):
    """Internal: a failed attempt that may be retried."""

    def __init__(self, cause: ProviderUnavailable) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Guard:
    """Runs one logical provider operation: breaker check, deadline, retries, breaker bookkeeping, audit."""

    def __init__(
        self,
        provider: str,
        breaker: CircuitBreaker,
        deadline_s: float,
        on_call: AuditHook | None = None,
    ) -> None:
        self.provider = provider
        self.breaker = breaker
        self.deadline_s = deadline_s
        self.on_call = on_call

    def _audit(self, operation: str, outcome: str, detail: dict[str, Any]) -> None:
        if self.on_call is not None:
            self.on_call(self.provider, operation, outcome, detail)

    async def run(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        *,
        detail: dict[str, Any] | None = None,
        retry: RetryPolicy = NO_RETRY,
        outcome: Callable[[T], tuple[str, dict[str, Any]]] | None = None,
    ) -> T:
        """`call` is one attempt; `outcome(result)` gives the audit outcome and extra (masked) detail."""
        info: dict[str, Any] = dict(detail or {})
        started = time.perf_counter()
        attempts = 0

        def finish(result_outcome: str, extra: dict[str, Any] | None = None) -> None:
            info.update(extra or {})
            info["attempts"] = attempts
            info["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            info["circuit"] = self.breaker.state
            self._audit(operation, result_outcome, info)

        if not self.breaker.allow():
            finish("unavailable", {"reason": "circuit open"})
            raise ProviderUnavailable(self.provider, "circuit open after repeated failures; try later")
        try:
            with anyio.fail_after(self.deadline_s):
                while True:
                    attempts += 1
                    try:
                        result = await self._attempt(call)
                        break
                    except _Attempt as failed:
                        if attempts >= retry.attempts:
                            raise failed.cause from None
                        await anyio.sleep(retry.backoff_s * 2 ** (attempts - 1))
        except TimeoutError:
            self.breaker.record_failure()
            finish("unavailable", {"reason": f"no answer within {self.deadline_s:g} s"})
            raise ProviderUnavailable(self.provider, f"no answer within {self.deadline_s:g} s") from None
        except ProviderUnavailable as exc:
            self.breaker.record_failure()
            finish("unavailable", {"reason": exc.message})
            raise
        except InvalidResponse as exc:
            self.breaker.record_failure()
            finish("invalid_response", {"reason": exc.message})
            raise
        except ProviderError as exc:
            self.breaker.record_success()  # it answered, coherently: the provider is up
            finish("error", {"code": exc.code})
            raise
        except Exception:
            self.breaker.record_failure()
            finish("unavailable", {"reason": "internal error"})
            raise
        self.breaker.record_success()
        kind, extra = outcome(result) if outcome is not None else ("ok", {})
        finish(kind, extra)
        return result

    async def _attempt(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except httpx.TimeoutException as exc:
            raise _Attempt(ProviderUnavailable(self.provider, f"time-out ({type(exc).__name__})")) from exc
        except httpx.TransportError as exc:
            raise _Attempt(ProviderUnavailable(self.provider, f"network error ({type(exc).__name__})")) from exc
        except ProviderUnavailable as exc:
            raise _Attempt(exc) from exc
