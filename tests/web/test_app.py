"""The ASGI app in-process (lifespan included) against a real database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from idp import operators
from idp.app import create_app
from idp.audit import AuditEvent
from idp.records.models import Membership, Organisation, Person
from idp.runtime import Runtime, initialise
from idp.settings import Settings
from idp.web.health import redis_state
from tests.conftest import IN_CI
from tests.kit.served import free_port

ID_NUMBER = "11010519491231002X"
OTHER_ID_NUMBER = "110105198001010016"
BAD_CHECK_ID_NUMBER = "110105194912310021"
USCC = "91110000600037341L"
PHONE = "13800138000"
NAME = "张三"
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/test"
PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:yiwang:problem:")
    assert body["title"] and body["detail"]
    return body


def count(rt: Runtime, model: type) -> int:
    with rt.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def client(rt: Runtime, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def token(rt: Runtime) -> str:
    with rt.transaction() as session:
        return operators.create(session, "test-operator")


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def person(client: TestClient, auth: dict[str, str]) -> dict:
    r = client.post("/admin/v1/persons", json={"id_number": ID_NUMBER, "name": NAME, "phone": PHONE}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


# --- health and readiness --------------------------------------------------------------------------


def test_healthz_and_readyz(client: TestClient, settings: Settings) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["database"] == ("sqlite" if settings.db_url.startswith("sqlite") else "postgresql")
    assert body["schema"]


def test_readiness_checks_compile_nothing_new(client: TestClient) -> None:
    """A balancer asks /readyz every second or two, for as long as the node lives: each check reuses the same
    statements. New ones in the engine's statement cache would evict the service's own and grow the process
    (Alembic's MigrationContext made a new version Table per check; the soak's memory curve showed it)."""
    assert client.get("/readyz").status_code == 200
    cache = client.app.state.runtime.engine._compiled_cache  # type: ignore[attr-defined]
    before = len(cache)
    for _ in range(20):
        assert client.get("/readyz").status_code == 200
    assert len(cache) == before


def test_readiness_reports_redis_without_depending_on_it(settings: Settings, rt: Runtime) -> None:
    """Redis down is reported (and the limits that need it refuse with a 503, tests/oauth/test_ratelimit.py), but
    the node stays ready: every node shares Redis, and a balancer with no ready node serves nothing at all."""
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(down)) as c:
        body = c.get("/readyz").json()
    assert body["status"] == "ready" and body["redis"] == "unreachable"
    with TestClient(create_app(settings)) as c:
        assert "redis" not in c.get("/readyz").json()  # not configured: nothing to say


@pytest.mark.redis
def test_readiness_reports_a_reachable_redis(settings: Settings, rt: Runtime) -> None:
    url = os.environ.get("YIWANG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if redis_state(url) != "ok":
        if IN_CI:
            pytest.fail(f"Redis not reachable at {url} (CI must run the Redis tests)")
        pytest.skip(f"Redis not reachable at {url}")
    with TestClient(create_app(settings.model_copy(update={"redis_url": url}))) as c:
        assert c.get("/readyz").json()["redis"] == "ok"


def test_a_schema_with_two_versions_is_not_ready(client: TestClient, rt: Runtime) -> None:
    with rt.engine.begin() as conn:
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('branch')"))
    body = problem(client.get("/readyz"), 503)
    assert "branch" in body["detail"] and "yiwang init" in body["detail"]


def test_uninitialised_database_is_not_ready_but_alive(settings: Settings) -> None:
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").status_code == 200
        body = problem(c.get("/readyz"), 503)
        assert "schema" in body["detail"]
        assert "yiwang init" in body["detail"]
        # The home page still renders, saying it is not ready.
        r = c.get("/")
        assert r.status_code == 200
        assert "尚未就绪" in r.text


def test_readiness_recovers_once_the_database_is_initialised(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("idp.web.deps.RETRY_SECONDS", 0.0)
    with TestClient(create_app(settings)) as c:
        problem(c.get("/readyz"), 503)
        initialise(settings)  # e.g. `yiwang init` run while the service is up
        r = c.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ready"


def test_unreachable_database_is_not_ready(tmp_path: Path, settings: Settings) -> None:
    unreachable = Settings(data_dir=tmp_path / "elsewhere", database_url=UNREACHABLE)
    with TestClient(create_app(unreachable)) as c:
        assert c.get("/healthz").status_code == 200
        body = problem(c.get("/readyz"), 503)
        assert "unreachable" in body["detail"]
        # The operator API says the same rather than failing with a 500.
        problem(c.post("/admin/v1/persons/lookup", json={"id_number": ID_NUMBER}), 503)


# --- pages -----------------------------------------------------------------------------------------


def test_home_page_in_chinese_by_default(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text
    assert "统一身份认证" in r.text
    assert 'class="sandbox"' in r.text and "沙箱模式" in r.text
    assert '<meta name="viewport"' in r.text
    assert "数据库就绪" in r.text


@pytest.mark.parametrize(
    ("params", "headers"),
    [({}, {"Accept-Language": "en-US,en;q=0.9"}), ({"lang": "en"}, {})],
    ids=["accept-language", "query"],
)
def test_home_page_in_english(client: TestClient, params: dict, headers: dict) -> None:
    r = client.get("/", params=params, headers=headers)
    assert r.status_code == 200
    assert '<html lang="en">' in r.text
    assert "Yiwang Unified Identity" in r.text
    assert "Sandbox mode" in r.text
    assert "统一身份认证" not in r.text
    assert '<meta name="viewport"' in r.text


def test_language_choice_is_remembered(client: TestClient) -> None:
    client.get("/", params={"lang": "en"})
    r = client.get("/")
    assert '<html lang="en">' in r.text


def test_unknown_page_for_a_browser_is_html(client: TestClient) -> None:
    r = client.get("/no/such/page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "<!doctype html>" in r.text.lower()
    assert "出错了" in r.text
    assert '<meta name="viewport"' in r.text


def test_unknown_path_for_an_api_client_is_problem_json(client: TestClient, auth: dict[str, str]) -> None:
    problem(client.get("/no/such/page", headers={"Accept": "application/json"}), 404)
    # Under /admin/ it is problem JSON even for a browser; without a token not even its paths are told.
    problem(client.get("/admin/v1/nothing", headers={"Accept": "text/html", **auth}), 404)
    problem(client.get("/admin/v1/nothing", headers={"Accept": "text/html"}), 401)


# --- operator API: authentication ------------------------------------------------------------------


def test_operator_api_without_token(client: TestClient, rt: Runtime) -> None:
    r = client.post("/admin/v1/persons", json={"id_number": ID_NUMBER, "name": NAME})
    body = problem(r, 401)
    assert body["type"] == "urn:yiwang:problem:unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert ID_NUMBER not in r.text
    assert count(rt, Person) == 0


@pytest.mark.parametrize(
    "header",
    ["Bearer ywop_not-a-real-token", "Bearer not-even-prefixed", "Basic b3BzOnNlY3JldA==", "Bearer "],
)
def test_operator_api_with_wrong_token(client: TestClient, rt: Runtime, token: str, header: str) -> None:
    r = client.post("/admin/v1/persons", json={"id_number": ID_NUMBER, "name": NAME}, headers={"Authorization": header})
    problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert count(rt, Person) == 0


def test_authentication_comes_before_validation(client: TestClient, rt: Runtime) -> None:
    # An anonymous caller learns nothing about the API's schema from validation messages.
    r = client.post("/admin/v1/persons", json={"phone": PHONE})
    problem(r, 401)
    assert "name" not in r.json()["detail"]


def test_revoked_token_is_refused(client: TestClient, rt: Runtime, auth: dict[str, str]) -> None:
    assert client.post("/admin/v1/persons/lookup", json={"id_number": ID_NUMBER}, headers=auth).status_code == 404
    with rt.transaction() as session:
        operators.revoke(session, "test-operator")
    problem(client.post("/admin/v1/persons/lookup", json={"id_number": ID_NUMBER}, headers=auth), 401)


# --- operator API: persons -------------------------------------------------------------------------


def test_add_person_response_is_masked(client: TestClient, rt: Runtime, auth: dict[str, str]) -> None:
    r = client.post("/admin/v1/persons", json={"id_number": ID_NUMBER, "name": NAME, "phone": PHONE}, headers=auth)
    assert r.status_code == 201, r.text
    assert ID_NUMBER not in r.text and PHONE not in r.text and NAME not in r.text
    body = r.json()
    assert body["id_number"] == "110***********002X"
    assert body["name"] == "张*"
    assert body["phone"].endswith("138****8000")
    assert body["id_type"] == "resident_id"
    assert count(rt, Person) == 1
    with rt.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "person.add")).one()
    assert (event.outcome, event.actor, event.channel, event.subject) == (
        "success",
        "test-operator",
        "api",
        body["id"],
    )


def test_duplicate_person_is_409_and_audited(
    client: TestClient, rt: Runtime, auth: dict[str, str], person: dict
) -> None:
    r = client.post("/admin/v1/persons", json={"id_number": ID_NUMBER, "name": "李四"}, headers=auth)
    body = problem(r, 409)
    assert ID_NUMBER not in r.text and "李四" not in r.text
    assert body["instance"] == "/admin/v1/persons"
    assert count(rt, Person) == 1
    with rt.transaction() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "person.add").order_by(AuditEvent.at)
        ).all()
    assert [e.outcome for e in events] == ["success", "refused"]
    refusal = events[-1]
    assert refusal.actor == "test-operator" and refusal.channel == "api"
    assert "already exists" in refusal.detail["reason"]
    assert ID_NUMBER not in str(refusal.detail)


def test_invalid_id_number_is_400_without_echo(client: TestClient, rt: Runtime, auth: dict[str, str]) -> None:
    r = client.post("/admin/v1/persons", json={"id_number": BAD_CHECK_ID_NUMBER, "name": NAME}, headers=auth)
    body = problem(r, 400)
    assert BAD_CHECK_ID_NUMBER not in r.text and NAME not in r.text
    assert "ID number" in body["detail"]
    assert count(rt, Person) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"id_number": ID_NUMBER},  # name missing
        {"id_number": ID_NUMBER, "name": NAME, "phone": PHONE + "0" * 30},  # phone too long
        {"id_number": ID_NUMBER + "0" * 20, "name": NAME},  # ID number too long
        {"id_number": 110105194912310020, "name": NAME},  # wrong type
    ],
    ids=["missing", "long-phone", "long-id", "wrong-type"],
)
def test_validation_error_is_400_without_echo(
    client: TestClient, rt: Runtime, auth: dict[str, str], payload: dict
) -> None:
    r = client.post("/admin/v1/persons", json=payload, headers=auth)
    body = problem(r, 400)
    assert body["type"] == "urn:yiwang:problem:invalid-input"
    for value in payload.values():
        assert str(value) not in r.text
    assert ID_NUMBER not in r.text and PHONE not in r.text and NAME not in r.text
    assert "body." in body["detail"]
    assert count(rt, Person) == 0


def test_malformed_json_is_400(client: TestClient, auth: dict[str, str]) -> None:
    r = client.post(
        "/admin/v1/persons",
        content=f'{{"id_number": "{ID_NUMBER}", "name": '.encode(),
        headers={**auth, "Content-Type": "application/json"},
    )
    problem(r, 400)
    assert ID_NUMBER not in r.text


def test_lookup_person(client: TestClient, auth: dict[str, str], person: dict) -> None:
    r = client.post("/admin/v1/persons/lookup", json={"id_number": ID_NUMBER}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == person["id"]
    assert ID_NUMBER not in r.text and PHONE not in r.text and NAME not in r.text
    r = client.post("/admin/v1/persons/lookup", json={"id_number": OTHER_ID_NUMBER}, headers=auth)
    problem(r, 404)
    assert OTHER_ID_NUMBER not in r.text
    r = client.post("/admin/v1/persons/lookup", json={"id_number": BAD_CHECK_ID_NUMBER}, headers=auth)
    problem(r, 400)
    assert BAD_CHECK_ID_NUMBER not in r.text


# --- operator API: organisations -------------------------------------------------------------------


def test_organisation_create_and_show(client: TestClient, rt: Runtime, auth: dict[str, str], person: dict) -> None:
    r = client.post(
        "/admin/v1/organisations",
        json={
            "uscc": USCC,
            "name": "示例科技有限公司",
            "kind": "enterprise",
            "legal_rep_id_number": ID_NUMBER,
        },
        headers=auth,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["uscc"] == USCC and created["kind"] == "enterprise"
    assert created["legal_representative"] == "张*"
    assert ID_NUMBER not in r.text and NAME not in r.text
    r = client.get(f"/admin/v1/organisations/{USCC}", headers=auth)
    assert r.status_code == 200
    assert r.json()["id"] == created["id"]
    assert r.json()["name"] == "示例科技有限公司"
    # Duplicate: 409, still one.
    r = client.post("/admin/v1/organisations", json={"uscc": USCC, "name": "另一个", "kind": "other"}, headers=auth)
    problem(r, 409)
    assert count(rt, Organisation) == 1


def test_organisation_bad_kind_and_bad_uscc(client: TestClient, rt: Runtime, auth: dict[str, str]) -> None:
    problem(
        client.post("/admin/v1/organisations", json={"uscc": USCC, "name": "X", "kind": "bogus"}, headers=auth),
        400,
    )
    problem(
        client.post(
            "/admin/v1/organisations",
            json={"uscc": "91350100M000100Y4Z", "name": "X", "kind": "other"},
            headers=auth,
        ),
        400,
    )
    assert count(rt, Organisation) == 0


def test_unknown_organisation_is_404(client: TestClient, auth: dict[str, str], rt: Runtime) -> None:
    body = problem(client.get(f"/admin/v1/organisations/{USCC}", headers=auth), 404)
    assert "no organisation" in body["detail"]
    problem(client.get(f"/admin/v1/organisations/{USCC}"), 401)


def test_organisation_members(client: TestClient, rt: Runtime, auth: dict[str, str], person: dict) -> None:
    r = client.post(
        "/admin/v1/organisations",
        json={"uscc": USCC, "name": "示例科技有限公司", "kind": "enterprise"},
        headers=auth,
    )
    assert r.status_code == 201
    url = f"/admin/v1/organisations/{USCC}/members"
    r = client.post(url, json={"id_number": ID_NUMBER, "role": "seal_keeper"}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["members"] == [{"person": person["id"], "name": "张*", "role": "seal_keeper"}]
    assert ID_NUMBER not in r.text and NAME not in r.text
    problem(client.post(url, json={"id_number": ID_NUMBER, "role": "seal_keeper"}, headers=auth), 409)
    problem(client.post(url, json={"id_number": ID_NUMBER, "role": "emperor"}, headers=auth), 400)
    r = client.post(url, json={"id_number": OTHER_ID_NUMBER, "role": "signer"}, headers=auth)
    problem(r, 404)
    assert OTHER_ID_NUMBER not in r.text
    problem(
        client.post(
            "/admin/v1/organisations/91350100M000100Y4Z/members",
            json={"id_number": ID_NUMBER, "role": "signer"},
            headers=auth,
        ),
        400,
    )
    problem(client.post(url, json={"id_number": ID_NUMBER, "role": "signer"}), 401)
    assert count(rt, Membership) == 1
    shown = client.get(f"/admin/v1/organisations/{USCC}", headers=auth).json()
    assert shown["members"] == [{"person": person["id"], "name": "张*", "role": "seal_keeper"}]
