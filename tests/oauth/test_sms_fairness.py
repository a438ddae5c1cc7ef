"""SMS limits that stop abuse without letting anyone lock a person out (issue 11 #1), and the hourly spend cap
with its operator alerts (issue 11 #2). Requests come through a trusted proxy so each can name its address."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest
import time_machine
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from typer.testing import CliRunner

from idp import audit
from idp.alerts import OperatorAlert
from idp.app import create_app
from idp.cli.main import app as cli_app
from idp.oauth.clients import NewClient
from idp.runtime import Runtime
from idp.settings import Settings
from tests.kit.hashcash import proof_for
from tests.oauth.conftest import ISSUER, PHONE, Bench, form_value

OWNER_IP, ATTACKER_IP, OTHER_IP = "198.51.100.1", "203.0.113.7", "203.0.113.8"
BUSY = "短信服务繁忙，请稍后再试或选择其他方式"


@pytest.fixture
def bench(rt: Runtime, settings: Settings) -> Iterator[Bench]:
    """The bench behind a proxy we trust: X-Forwarded-For says which address a request comes from."""
    settings.trusted_proxies = "127.0.0.1"
    settings.sms_per_phone_per_minute = 5  # one test below checks the minute on its own
    settings.sms_per_phone_per_day = 2
    settings.sms_per_phone_per_ip_per_day = 3
    settings.sms_per_phone_from_others_per_day = 5
    settings.sms_per_ip_per_10min = 100
    app = create_app(settings)
    with TestClient(app, base_url=ISSUER, follow_redirects=False, client=("127.0.0.1", 40000)) as client:
        b = Bench(client, rt, NewClient("", None))
        b.rp = b.register()
        yield b


def _device(b: Bench, ip: str, cookies: dict[str, str] | None = None) -> None:
    """Act as a browser (its cookies; a new one when None) at an address."""
    b.client.cookies.clear()
    for name, value in (cookies or {}).items():
        b.client.cookies.set(name, value)
    b.client.headers["X-Forwarded-For"] = ip


def _send(b: Bench, phone: str = PHONE, *, proof: bool = True) -> tuple[Response, str, str]:
    """A new sign-in journey on the current device, and a request for a code to `phone`."""
    first = b.authorize(**b.auth_params(prompt="login"))
    page = b.client.get(first.headers["location"])
    flow, csrf = form_value(page.text, "flow"), form_value(page.text, "csrf")
    data = {"flow": flow, "csrf": csrf, "phone": phone, "proof": proof_for(page.text) if proof else ""}
    return b.client.post("/login/sms", data=data), flow, csrf


def _outbox(b: Bench, phone: str = PHONE) -> int:
    return len(b.client.get("/sandbox/sms/outbox", params={"phone": phone}).json()["messages"])


def _sign_in(b: Bench, flow: str, csrf: str, phone: str = PHONE) -> Response:
    form = {"flow": flow, "csrf": csrf, "phone": phone, "code": b.outbox_code(phone), "agree": "yes"}
    return b.client.post("/login/code", data={**form, "decision": "approve"})


def _owner_device(b: Bench) -> dict[str, str]:
    """The owner signs in once on their phone's browser: that device is now known to the number."""
    _device(b, OWNER_IP)
    sent, flow, csrf = _send(b)
    assert sent.status_code == 200
    assert _sign_in(b, flow, csrf).status_code == 302
    return {"yw_b": str(b.client.cookies.get("yw_b"))}


def test_requests_from_other_devices_and_addresses_cannot_lock_the_owner_out(bench: Bench) -> None:
    owner = _owner_device(bench)
    # The attacker, from fresh browsers at one address and then another, asks for codes until refused and types
    # wrong codes until their device is locked.
    refused = 0
    for ip in (ATTACKER_IP, OTHER_IP) * 4:
        _device(bench, ip)
        sent, flow, csrf = _send(bench)
        if sent.status_code == 429:
            refused += 1
            continue
        assert sent.status_code == 200
        for _ in range(5):
            wrong = bench.client.post(
                "/login/code",
                data={"flow": flow, "csrf": csrf, "phone": PHONE, "code": "000000", "agree": "yes"},
            )
        assert wrong.status_code == 429  # that device is locked for the number
    assert refused  # the strangers' budget for the number is spent
    # The owner, even at the attacker's address, still gets a code and signs in.
    _device(bench, ATTACKER_IP, owner)
    before = _outbox(bench)
    sent, flow, csrf = _send(bench, proof=False)  # a known device needs no proof either
    assert sent.status_code == 200, sent.text
    assert _outbox(bench) == before + 1
    assert _sign_in(bench, flow, csrf).status_code == 302


def test_one_device_is_stopped_by_its_own_budget(bench: Bench) -> None:
    _device(bench, ATTACKER_IP)
    statuses = [_send(bench)[0].status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # sms_per_phone_per_day = 2 for one device


def test_one_device_may_ask_once_a_minute_for_a_number(bench: Bench) -> None:
    bench.rt.settings.sms_per_phone_per_minute = 1
    _device(bench, ATTACKER_IP)
    assert _send(bench)[0].status_code == 200
    again, _, _ = _send(bench)  # a new journey of the same device
    assert again.status_code == 429 and "发送过于频繁" in again.text


def test_one_address_is_stopped_however_many_devices_it_uses(bench: Bench) -> None:
    statuses = []
    for _ in range(4):
        _device(bench, ATTACKER_IP)
        statuses.append(_send(bench)[0].status_code)
    assert statuses == [200, 200, 200, 429]  # sms_per_phone_per_ip_per_day = 3


def test_strangers_together_are_stopped_for_a_number(bench: Bench) -> None:
    statuses = []
    for i in range(6):
        _device(bench, f"192.0.2.{i + 1}")
        statuses.append(_send(bench)[0].status_code)
    assert statuses == [200] * 5 + [429]  # sms_per_phone_from_others_per_day = 5


def test_an_address_is_stopped_across_numbers(bench: Bench) -> None:
    bench.rt.settings.sms_per_ip_per_10min = 2
    statuses = []
    for phone in ("13800138001", "13800138002", "13800138003"):
        _device(bench, ATTACKER_IP)
        statuses.append(_send(bench, phone)[0].status_code)
    assert statuses == [200, 200, 429]


def test_a_repeated_send_from_a_stranger_needs_a_proof_of_work_or_a_wait(bench: Bench) -> None:
    _device(bench, OWNER_IP)
    first, _, _ = _send(bench, proof=False)
    assert first.status_code == 200  # a number's first code: no proof asked
    _device(bench, ATTACKER_IP)
    bare, _, _ = _send(bench, proof=False)
    assert bare.status_code == 429 and "为防止滥用" in bare.text
    assert _outbox(bench) == 1  # nothing was sent
    _device(bench, ATTACKER_IP)
    forged = bench.client.post(
        "/login/sms", data={**_send_form(bench), "proof": "0"}
    )  # a nonce that is not a proof for this challenge
    assert forged.status_code == 429 and _outbox(bench) == 1
    _device(bench, ATTACKER_IP)
    assert _send(bench)[0].status_code == 200  # with the page's proof
    # Without JavaScript: waiting since the journey started is the price instead.
    _device(bench, OTHER_IP)
    form = _send_form(bench)
    with time_machine.travel(time.time() + bench.rt.settings.sms_pow_wait_s + 1, tick=True):
        assert bench.client.post("/login/sms", data=form).status_code == 200
    assert _outbox(bench) == 3


def _send_form(b: Bench, phone: str = PHONE) -> dict[str, str]:
    first = b.authorize(**b.auth_params(prompt="login"))
    page = b.client.get(first.headers["location"])
    return {"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf"), "phone": phone}


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_hourly_spend_cap_stops_sending_and_alerts_an_operator(bench: Bench, settings: Settings) -> None:
    bench.rt.settings.sms_max_per_hour = 3
    bench.rt.settings.sms_alert_warning_percent = 60  # warn at the 2nd of 3
    lines = _Lines()
    logging.getLogger("yiwang.alerts").addHandler(lines)
    try:
        phones = ["13800138011", "13800138012", "13800138013", "13800138014", "13800138015"]
        statuses = []
        for phone in phones:
            _device(bench, OWNER_IP)
            statuses.append(_send(bench, phone))
    finally:
        logging.getLogger("yiwang.alerts").removeHandler(lines)
    assert [s[0].status_code for s in statuses] == [200, 200, 200, 503, 503]
    assert BUSY in statuses[3][0].text
    assert [_outbox(bench, p) for p in phones] == [1, 1, 1, 0, 0]  # nothing sent over the cap
    with bench.rt.transaction() as session:
        rows = session.scalars(select(OperatorAlert).order_by(OperatorAlert.raised_at)).all()
        assert [(r.event, r.level) for r in rows] == [
            ("sms.hourly_cap.warning", "warning"),
            ("sms.hourly_cap.reached", "error"),
        ]  # once each, however many sends ran into the cap
        events = session.scalars(select(audit.AuditEvent).where(audit.AuditEvent.action == "alert.raised")).all()
        assert sorted(e.subject for e in events) == ["sms.hourly_cap.reached", "sms.hourly_cap.warning"]
    errors = [r for r in lines.records if r.levelno == logging.ERROR]
    assert [_event(r) for r in errors] == ["sms.hourly_cap.warning", "sms.hourly_cap.reached"]
    listed = CliRunner().invoke(cli_app, ["alerts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert {a["event"] for a in json.loads(listed.output)["alerts"]} == {
        "sms.hourly_cap.warning",
        "sms.hourly_cap.reached",
    }
    human = CliRunner().invoke(cli_app, ["alerts", "list"])
    assert "sms.hourly_cap.reached" in human.output and "cap_per_hour=3" in human.output


def _event(record: logging.LogRecord) -> str:
    msg = record.msg
    return str(msg.get("event") if isinstance(msg, dict) else record.getMessage())
