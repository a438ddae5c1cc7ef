"""No GET request changes state: every GET route of the app, requested with a signed-in session (and live
authorization flows wherever a `flow` is taken), leaves every row of every table as it was.

The routes are enumerated from the app itself (routers and mounted sub-apps), so a new GET route is crawled
without anyone remembering to add it; path parameters get plausible values. The database is dumped in full
(every table, every row) before and after each request, so a change is pinned to the route that made it.
Nothing is ignored except the exceptions in `PROTOCOL_GETS`, each with its reason.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from fastapi.routing import iter_route_contexts
from sqlalchemy import MetaData, select
from starlette.routing import BaseRoute, Mount

from idp import operators
from idp.oauth import totp
from idp.oauth.models import AuthFlow
from idp.proofing import binding, service
from idp.records import people
from idp.settings import Settings
from idp.web.browser import csrf_token
from tests.oauth.conftest import PHONE, Bench, form_value

OTHER_PHONE = "13900139000"
TOTP_PHONE = "13700137000"
FACE_ID_NUMBER = "11010519491231002X"
USCC = "91110000600037341L"

# The only exceptions: GET routes that are commands by protocol, each with its reason and the only tables it
# may touch: "insert" (new rows only), or "update" (one row). An audited event is a new event row and a new
# row in the sequencer's queue. Everything else must leave the database exactly as it was.
AUDIT = {"audit_events": "insert", "audit_unsealed": "insert"}
PROTOCOL_GETS: dict[str, tuple[dict[str, str], str]] = {
    "/authorize": (
        {"auth_flows": "insert", "oauth_codes": "insert", **AUDIT},
        "RFC 6749 §3.1 / OIDC Core §3.1.2.1: the authorization endpoint MUST accept GET; the request starts an "
        "authorization (its flow), and for a signed-in person with remembered consent the response is the code "
        "(§4.1.2), audited",
    ),
    "/login/alipay/callback": (
        {"auth_flows": "update", **AUDIT},
        "the redirection endpoint of sign-in with Alipay (RFC 6749 §4.1.2: the provider sends the browser back "
        "with a GET); bound to this browser and flow by `state`; the outbound call to Alipay is audited",
    ),
    "/pki/crl": (
        {"pki_crls": "insert"},
        "RFC 5280 §5: a CRL is reissued lazily, only when none is fresh (at most once per validity period); "
        "better issued at `init` and by a timer (signing's remit)",
    ),
    "/pki/root.crl": ({"pki_crls": "insert"}, "as /pki/crl"),
    "/pki/sm2/crl": ({"pki_crls": "insert"}, "as /pki/crl, for the SM2 hierarchy"),
    "/pki/sm2/root.crl": ({"pki_crls": "insert"}, "as /pki/crl, for the SM2 hierarchy"),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background audit sealing while crawling: the sequencer's writes would be taken for a GET's."""
    settings.audit_seal_interval_s = 0
    return settings


def _allowed(path: str, table: str, change: dict[str, int]) -> bool:
    kind = PROTOCOL_GETS.get(path, ({}, ""))[0].get(table)
    if kind == "insert":
        return change["removed"] == 0
    if kind == "update":
        return change["removed"] <= 1 and change["added"] <= 1
    return False


def get_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    """Path templates of every GET route, descending into mounted apps (the emulators, static files)."""
    for context in iter_route_contexts(routes):
        route = context.route
        if isinstance(route, Mount):
            app: Any = route.app
            while not hasattr(app, "routes") and hasattr(app, "app"):  # through middleware such as faults
                app = app.app
            if getattr(app, "routes", None):
                yield from get_routes(list(app.routes), prefix + route.path)
            else:
                yield prefix + route.path + "/{path}"  # StaticFiles: any file below
            continue
        if context.methods and "GET" in context.methods and context.path:
            yield prefix + context.path


def dump(bench: Bench) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table in the database (reflected: tables no model declares are included too)."""
    metadata = MetaData()
    metadata.reflect(bench.rt.engine)
    with bench.rt.engine.connect() as conn:
        return {
            name: sorted(tuple(repr(v) for v in row) for row in conn.execute(select(table)))
            for name, table in metadata.tables.items()
        }


def changes(before: dict[str, list[tuple[str, ...]]], after: dict[str, list[tuple[str, ...]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(set(before) | set(after)):
        old, new = set(before.get(name, [])), set(after.get(name, []))
        if old != new:
            out[name] = {"removed": len(old - new), "added": len(new - old)}
    return out


def _ocsp_request(bench: Bench) -> str:
    """A real OCSP request (RFC 6960 appendix A.1, GET form) for the issuing CA's certificate."""
    issuing = x509.load_der_x509_certificate(bench.client.get("/pki/issuing-ca.cer").content)
    root = x509.load_der_x509_certificate(bench.client.get("/pki/root-ca.cer").content)
    request = ocsp.OCSPRequestBuilder().add_certificate(issuing, root, hashes.SHA1()).build()
    return base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode()


def _live_flows(bench: Bench) -> dict[str, str]:
    """Authorization flows at each stage a flow page can show: sign-in, code sent, step-up, consent."""
    flows: dict[str, str] = {}
    first = bench.authorize(**bench.auth_params(prompt="login"))
    flows["login"] = first.headers["location"].split("flow=")[1]
    second = bench.authorize(**bench.auth_params(prompt="login"))
    page = bench.client.get(second.headers["location"])
    flow = form_value(page.text, "flow")
    sent = bench.client.post(
        "/login/sms", data={"flow": flow, "csrf": form_value(page.text, "csrf"), "phone": OTHER_PHONE}
    )
    assert sent.status_code == 200 and 'name="code"' in sent.text, sent.text
    flows["code_sent"] = flow
    third = bench.authorize(**bench.auth_params(acr_values="urn:yiwang:loa:2"))
    assert third.headers["location"].startswith("/stepup"), third.headers["location"]
    flows["stepup"] = third.headers["location"].split("flow=")[1]
    other = bench.register(name="另一部门")
    fourth = bench.authorize(**bench.auth_params(other))
    assert fourth.headers["location"].startswith("/consent"), fourth.headers["location"]
    flows["consent"] = fourth.headers["location"].split("flow=")[1]
    return flows


def _requests(
    bench: Bench, path: str, flows: dict[str, str], values: dict[str, str]
) -> list[tuple[str, dict[str, str]]]:
    """The GETs to make for one route: its path filled in, with each live flow where it takes one."""
    filled = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "x"), path)
    if path in ("/authorize",):
        return [(filled, bench.auth_params()), (filled, bench.auth_params(prompt="login"))]
    if path == "/logout":
        return [(filled, {}), (filled, {"client_id": bench.rp.client_id, "state": "s"})]
    if path in ("/sandbox/sms", "/sandbox/sms/outbox"):
        return [(filled, {"phone": PHONE})]
    if path == "/console/orgs/find":
        return [(filled, {}), (filled, {"uscc": values["uscc"]})]
    if path.startswith("/signing/v1/confirm/"):
        return [(filled, {"k": secrets.token_urlsafe(16)})]
    if path == "/login/alipay/callback":
        protector = bench.rt.protector
        browser = bench.client.cookies.get("yw_b") or ""
        return [
            (
                filled,
                {"auth_code": "plausible-auth-code", "state": f"{f}.{csrf_token(protector, 'alipay', f, browser)}"},
            )
            for f in flows.values()
        ]
    if _takes_flow(bench, path):
        return [(filled, {"flow": f}) for f in flows.values()]
    return [(filled, {})]


def _takes_flow(bench: Bench, path: str) -> bool:
    for context in iter_route_contexts(bench.client.app.routes):  # type: ignore[attr-defined]
        dependant = getattr(context, "dependant", None) if context.path == path else None
        if dependant is not None and any(p.name == "flow" for p in dependant.query_params):
            return True
    return False


def _totp_flow(bench: Bench) -> str:
    """A flow waiting at the authenticator step: a person with TOTP enrolled, past the SMS code."""
    with bench.rt.transaction() as session:
        person = people.register_by_phone(session, bench.rt.protector, "+86" + TOTP_PHONE, channel="web")
        session.flush()
        totp.start_enrolment(session, bench.rt.protector, person.id)
        shown = totp.pending(session, bench.rt.protector, person.id, "Yiwang", "x")
        assert shown is not None
        assert isinstance(
            totp.confirm_enrolment(session, bench.rt.protector, person.id, pyotp.TOTP(shown.secret).now(), 5), list
        )
    first = bench.authorize(**bench.auth_params(prompt="login"))
    after_sms = bench.sign_in(first.headers["location"], TOTP_PHONE)
    assert after_sms.headers["location"].startswith("/login/totp?flow="), after_sms.headers["location"]
    return after_sms.headers["location"].split("flow=")[1]


def _signed_in_with_pending_totp(bench: Bench) -> dict[str, str]:
    """Signed in by SMS (a real session cookie), halfway through enrolling an authenticator (the state a
    GET of /account/totp used to overwrite); returns tokens for the bearer-protected GETs."""
    bench.code_flow()
    tokens = bench.tokens()
    page = bench.client.get("/account/totp")
    started = bench.client.post("/account/totp/start", data={"csrf": form_value(page.text, "csrf")})
    assert started.status_code == 303
    return tokens


def _console_staff(bench: Bench) -> str:
    """A staff member (admin and counter) signed in to the console in another browser, whose console cookie the
    crawling browser then carries: the console pages are crawled as staff, not only as the sign-in page."""
    from tests.console.conftest import ADMIN, make_staff, second_browser, sign_in

    other = second_browser(bench)
    member = make_staff(other, ADMIN, "admin", "counter")
    assert sign_in(other, member).status_code == 303
    cookie = other.client.cookies.get("yw_console")
    assert cookie is not None
    bench.client.cookies.set("yw_console", cookie)
    return member.person_id


def _a_seal(bench: Bench) -> str:
    """A seal (of a new organisation), so the console's seal pages are crawled with a real one."""
    from idp.records import organisations
    from idp.signing_wiring import open_signing
    from signing import seals
    from signing.policy import Policy

    ctx = open_signing(bench.rt)
    with bench.rt.transaction() as session:
        organisations.add(
            session, bench.rt.protector, bench.rt.uscc_rules, uscc=USCC, name="爬虫测试局", kind="department"
        )
        return seals.create(session, ctx, uscc=USCC, seal_type="official", policy=Policy()).id


def crawl(
    bench: Bench, flows: dict[str, str], tokens: dict[str, str], *, flow_routes_only: bool = False
) -> dict[str, Any]:
    """GET every route (each flow where one is taken); the database changes each request made."""
    with bench.rt.transaction() as session:
        operator = operators.create(session, f"crawler-{secrets.token_hex(4)}")
    staff_id = _console_staff(bench) if not flow_routes_only else "x"
    values = {
        "person_id": staff_id,
        "seal_id": _a_seal(bench) if not flow_routes_only else "x",
        "uscc": USCC,
        "client_id": bench.rp.client_id,
        "encoded": _ocsp_request(bench),
        "confirmation_id": str(uuid.uuid4()),
        "path": "yiwang.css",
    }
    headers_for = {
        "/admin": {"Authorization": f"Bearer {operator}"},
        "/signing": {"Authorization": f"Bearer {tokens['access_token']}"},
        "/userinfo": {"Authorization": f"Bearer {tokens['access_token']}"},
    }
    paths = sorted(set(get_routes(list(bench.client.app.routes))))  # type: ignore[attr-defined]
    assert "/account/totp" in paths and "/pki/ocsp/{encoded:path}" in paths and "/sandbox/outbox/" in paths
    assert "/console/counter" in paths and "/docs" in paths
    if flow_routes_only:
        paths = [p for p in paths if _takes_flow(bench, p)]
    changed: dict[str, Any] = {}
    for path in paths:
        headers = next((h for prefix, h in headers_for.items() if path.startswith(prefix)), {})
        for url, params in _requests(bench, path, flows, values):
            before = dump(bench)
            response = bench.client.get(url, params=params, headers=headers)
            if path.startswith("/console") and path != "/console/callback" or path in ("/docs", "/openapi.json"):
                assert response.status_code == 200, f"GET {url}: not crawled as staff ({response.status_code})"
            # Refusals are fine (that is what most of these requests get); a crash is not.
            assert response.status_code != 500, f"GET {url} {params}: {response.status_code} {response.text[:300]}"
            diff = changes(before, dump(bench))
            diff = {table: change for table, change in diff.items() if not _allowed(path, table, change)}
            if diff:
                changed[f"GET {url} {sorted(params)}"] = diff
    return changed


def test_no_get_request_changes_the_database(bench: Bench) -> None:
    tokens = _signed_in_with_pending_totp(bench)
    flows = {**_live_flows(bench), "totp": _totp_flow(bench)}
    changed = crawl(bench, flows, tokens)
    assert changed == {}, f"GET requests changed the database: {changed}"
    # The flows are still live: nothing the crawl did consumed or ended them.
    with bench.rt.transaction() as session:
        assert all(session.get(AuthFlow, f) is not None for f in flows.values())


def test_no_get_request_changes_the_database_at_the_face_step(bench: Bench) -> None:
    tokens = _signed_in_with_pending_totp(bench)
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, PHONE)
        assert person is not None
        binding.prove(
            session,
            bench.rt.protector,
            person.id,
            id_number=FACE_ID_NUMBER,
            name="张三",
            source="carrier",
            channel="web",
            deny_until=0,
        )
        service.give_face_consent(session, person.id)
    stepup = bench.authorize(**bench.auth_params(acr_values="urn:yiwang:loa:3"))
    assert stepup.headers["location"].startswith("/stepup?flow="), stepup.headers["location"]
    face_page = bench.client.get(stepup.headers["location"].replace("/stepup?", "/stepup/face?"))
    assert "/static/stepup_face.js" in face_page.text  # the crawl reaches the face step itself
    changed = crawl(bench, {"face": stepup.headers["location"].split("flow=")[1]}, tokens, flow_routes_only=True)
    assert changed == {}, f"GET requests changed the database: {changed}"
