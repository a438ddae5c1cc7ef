"""Circuit breaker, time-outs and deadlines, with real adapters against the emulators."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.config import AdaptersConfig, HttpConfig
from adapters.errors import ProviderUnavailable
from adapters.registry import RegistryClient
from adapters.resilience import CircuitBreaker
from adapters.sandbox import Sandbox, dataset
from adapters.sms_sandbox import OutboxSmsGateway

LI = dataset.PEOPLE[1]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=30, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.state == "half-open"
    assert breaker.allow()  # one trial call ...
    assert not breaker.allow()  # ... and only one
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 31
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_breaker_rejects_a_zero_threshold() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)


@pytest.mark.anyio
async def test_adapter_fails_fast_once_the_circuit_is_open(
    config: AdaptersConfig, sandbox: Sandbox, audit: Any
) -> None:
    assert config.registry is not None
    http = HttpConfig(retry_attempts=1, breaker_failures=3, breaker_cooldown_s=60, read_timeout_s=1, deadline_s=3)
    faults = sandbox.faults["registry"]
    faults.always_status = 503
    async with RegistryClient(config.registry.model_copy(update={"http": http}), on_call=audit) as registry:
        for _ in range(3):
            with pytest.raises(ProviderUnavailable, match="HTTP 503"):
                await registry.verify(LI.name, LI.id_number)
        assert registry.breaker.state == "open"
        seen = faults.requests
        faults.always_status = None  # the provider is back, but the breaker does not know yet
        with pytest.raises(ProviderUnavailable, match="circuit open"):
            await registry.verify(LI.name, LI.id_number)
        assert faults.requests == seen  # nothing was sent
    assert audit.last[2] == "unavailable" and audit.last[3]["reason"] == "circuit open"


@pytest.mark.anyio
async def test_slow_provider_times_out(config: AdaptersConfig, sandbox: Sandbox, audit: Any) -> None:
    sandbox.faults["outbox"].delay_s = 2.0
    http = HttpConfig(connect_timeout_s=0.5, read_timeout_s=0.2, deadline_s=1.0)
    sms = config.sms.model_copy(update={"http": http})
    async with OutboxSmsGateway(sms, on_call=audit) as gateway:  # type: ignore[arg-type]
        with pytest.raises(ProviderUnavailable, match="time-out"):
            await gateway.send_code(LI.phone, "123456")
    assert audit.last[2] == "unavailable" and audit.last[3]["attempts"] == 1  # sending is never retried


@pytest.mark.anyio
async def test_retries_stop_at_the_deadline(config: AdaptersConfig, sandbox: Sandbox) -> None:
    """Every attempt times out; the whole operation still ends at its deadline, not attempts × time-out."""
    assert config.registry is not None
    sandbox.faults["registry"].delay_s = 2.0
    http = HttpConfig(read_timeout_s=0.3, deadline_s=0.5, retry_attempts=10, retry_backoff_s=0)
    async with RegistryClient(config.registry.model_copy(update={"http": http})) as registry:
        with pytest.raises(ProviderUnavailable, match="within 0.5 s"):
            await registry.verify(LI.name, LI.id_number)


@pytest.mark.anyio
async def test_unreachable_provider_is_unavailable(config: AdaptersConfig) -> None:
    assert config.registry is not None
    cfg = config.registry.model_copy(update={"base_url": "http://127.0.0.1:9/registry",
                                             "http": HttpConfig(retry_attempts=2, retry_backoff_s=0)})  # fmt: skip
    async with RegistryClient(cfg) as registry:
        with pytest.raises(ProviderUnavailable, match="network error"):
            await registry.verify(LI.name, LI.id_number)
