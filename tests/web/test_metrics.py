"""Prometheus metrics at `/metrics` (operator token), counted from committed facts; request ids everywhere."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from adapters.config import HttpConfig
from adapters.correlation import REQUEST_ID
from adapters.transport import HttpAdapter
from idp import audit, operators
from idp.runtime import Runtime
from tests.kit.served import free_port, wait_healthy
from tests.oauth.conftest import Bench, form_value


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _operator(rt: Runtime) -> str:
    with rt.transaction() as session:
        return operators.create(session, "prometheus")


def test_metrics_need_an_operator_token(bench: Bench) -> None:
    assert bench.client.get("/metrics").status_code == 401
    assert bench.client.get("/metrics", headers={"Authorization": "Bearer ywop_not-a-token"}).status_code == 401
    scraped = bench.client.get("/metrics", headers={"Authorization": f"Bearer {_operator(bench.rt)}"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(scraped.text)}
    assert {
        "yiwang_logins",
        "yiwang_login_failures",
        "yiwang_provider_calls",
        "yiwang_provider_latency_seconds",
        "yiwang_provider_circuit_state",
        "yiwang_token_grants",
        "yiwang_signatures",
        "yiwang_db_connections_in_use",
        "yiwang_http_request_duration_seconds",
    } <= names


def test_a_login_and_its_grants_are_counted(bench: Bench) -> None:
    logins = _value("yiwang_logins_total", method="sms", channel="web", acr="urn:yiwang:loa:1")
    issued = _value("yiwang_token_grants_total", grant_type="authorization_code", outcome="issued")
    refused = _value("yiwang_token_grants_total", grant_type="authorization_code", outcome="invalid_grant")
    sends = _value("yiwang_provider_calls_total", provider="sandbox_sms", operation="send_code", outcome="ok")

    bench.tokens()
    assert bench.exchange("not-a-code").status_code == 400

    assert _value("yiwang_logins_total", method="sms", channel="web", acr="urn:yiwang:loa:1") == logins + 1
    assert _value("yiwang_token_grants_total", grant_type="authorization_code", outcome="issued") == issued + 1
    assert _value("yiwang_token_grants_total", grant_type="authorization_code", outcome="invalid_grant") == refused + 1
    assert (
        _value("yiwang_provider_calls_total", provider="sandbox_sms", operation="send_code", outcome="ok") == sends + 1
    )
    route = {"method": "POST", "route": "/token", "status": "200"}
    assert _value("yiwang_http_request_duration_seconds_count", **route) >= 1


def test_wrong_codes_are_counted_as_failures(bench: Bench) -> None:
    before = _value("yiwang_login_failures_total", method="sms", reason="wrong_code")
    first = bench.authorize(**bench.auth_params())
    page = bench.client.get(first.headers["location"])
    flow, csrf = form_value(page.text, "flow"), form_value(page.text, "csrf")
    bench.client.post("/login/sms", data={"flow": flow, "csrf": csrf, "phone": "13800138000"})
    code = bench.outbox_code()
    wrong = "000000" if code != "000000" else "111111"
    form = {"flow": flow, "csrf": csrf, "phone": "13800138000", "code": wrong, "agree": "yes"}
    assert bench.client.post("/login/code", data=form).status_code != 303
    assert _value("yiwang_login_failures_total", method="sms", reason="wrong_code") == before + 1


def test_only_committed_events_count(rt: Runtime) -> None:
    labels = {"method": "face", "channel": "kiosk", "acr": "urn:yiwang:loa:3"}
    before = _value("yiwang_logins_total", **labels)
    event = audit.Event(action="login", subject="p", channel="kiosk", detail={"amr": ["face"], "acr": labels["acr"]})
    with pytest.raises(RuntimeError), rt.transaction() as session:
        audit.record(session, event)
        raise RuntimeError("the sign-in failed after it was recorded")
    assert _value("yiwang_logins_total", **labels) == before
    with rt.transaction() as session:
        audit.record(session, event)
    assert _value("yiwang_logins_total", **labels) == before + 1


def test_every_response_carries_a_request_id_and_logs_name_it(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    given = bench.client.get("/healthz", headers={"X-Request-Id": "lb-0123456789abcdef"})
    assert given.headers["x-request-id"] == "lb-0123456789abcdef"
    for hostile in ("short", "x" * 65, 'bad"id\\n{injected}'):
        answered = bench.client.get("/healthz", headers={"X-Request-Id": hostile})
        assert answered.headers["x-request-id"] != hostile
        assert len(answered.headers["x-request-id"]) == 32
    one, two = bench.client.get("/healthz"), bench.client.get("/healthz")
    assert one.headers["x-request-id"] != two.headers["x-request-id"]

    with caplog.at_level(logging.INFO, logger="yiwang.providers"):
        first = bench.authorize(**bench.auth_params())
        page = bench.client.get(first.headers["location"])
        sent = bench.client.post(
            "/login/sms",
            data={"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf"), "phone": "13800138000"},
            headers={"X-Request-Id": "req-sms-send-000001"},
        )
    assert sent.headers["x-request-id"] == "req-sms-send-000001"
    provider_lines = [r for r in caplog.records if r.name == "yiwang.providers"]
    assert provider_lines and all("req-sms-send-000001" in str(r.msg) for r in provider_lines)


def test_provider_calls_carry_the_request_id() -> None:
    seen: list[str | None] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-request-id"))
        return httpx.Response(200, json={})

    async def calls() -> None:
        adapter = HttpAdapter("https://provider.example", HttpConfig(), transport=httpx.MockTransport(provider))
        mark = REQUEST_ID.set("req-0123456789")
        try:
            await adapter.client.get(adapter.url("/x"))
        finally:
            REQUEST_ID.reset(mark)
        await adapter.client.get(adapter.url("/y"))
        await adapter.aclose()

    asyncio.run(calls())
    assert seen == ["req-0123456789", None]


def test_workers_metrics_are_merged_in_one_scrape(tmp_path: Path) -> None:
    """Under `serve --workers 2` a scrape answered by either worker counts every worker's requests."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIWANG_", "PROMETHEUS_"))}
    env |= {"YIWANG_DATA_DIR": str(tmp_path / "var"), "YIWANG_ISSUER": base, "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "idp.cli.main"]
    subprocess.run([*cli, "init"], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    made = subprocess.run(
        [*cli, "operator", "add", "prometheus", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--workers", "2"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    try:
        wait_healthy(base, proc, seconds=180)  # two workers import the whole service each
        with httpx.Client(base_url=base) as http:
            for _ in range(40):  # new connections: the kernel spreads them over both workers
                httpx.get(f"{base}/readyz").raise_for_status()
            for _ in range(6):  # whichever worker answers
                text = http.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
                samples = [
                    s
                    for family in text_string_to_metric_families(text)
                    for s in family.samples
                    if s.name == "yiwang_http_request_duration_seconds_count" and s.labels.get("route") == "/readyz"
                ]
                total = sum(s.value for s in samples)
                assert total == 40, f"a scrape saw {total} of 40 /readyz requests"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_two_factor_sign_in_counts_under_its_methods_not_under_mfa(rt: Runtime) -> None:
    labels = {"method": "otp+sms", "channel": "web", "acr": "urn:yiwang:loa:2"}
    before = _value("yiwang_logins_total", **labels)
    mfa_before = _value("yiwang_logins_total", **{**labels, "method": "mfa"})
    amr = ["mfa", "otp", "sms"]  # as acr.with_mfa sorts it
    with rt.transaction() as session:
        audit.record(
            session, audit.Event(action="login", subject="p", channel="web", detail={"amr": amr, "acr": labels["acr"]})
        )
    assert _value("yiwang_logins_total", **labels) == before + 1
    assert _value("yiwang_logins_total", **{**labels, "method": "mfa"}) == mfa_before
