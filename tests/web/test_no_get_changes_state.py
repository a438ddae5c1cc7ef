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

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from fastapi.routing import iter_route_contexts
from sqlalchemy import MetaData, select
from starlette.routing import BaseRoute, Mount

from idp import operators
from idp.oauth.models import AuthFlow
from idp.web.browser import csrf_token
from tests.oauth.conftest import PHONE, Bench, form_value

OTHER_PHONE = "13900139000"
USCC = "91110000600037341L"

# The only exceptions: GET routes that are commands by protocol, each with its reason and the only tables it
# may touch: "insert" (new rows only) or "append" (the audit chain: a new event, and its head row moves on;
# the audit helper is removing that head row). Everything else must leave the database exactly as it was.
AUDIT = {"audit_events": "insert", "audit_head": "append"}
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
}


def _allowed(path: str, table: str, change: dict[str, int]) -> bool:
    kind = PROTOCOL_GETS.get(path, ({}, ""))[0].get(table)
    if kind == "insert":
        return change["removed"] == 0
    if kind in ("append", "update"):
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
    assert sent.status_code == 303, sent.text
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


def test_no_get_request_changes_the_database(bench: Bench) -> None:
    bench.code_flow()  # signed in: a real session cookie from the SMS sign-in
    tokens = bench.tokens()
    flows = _live_flows(bench)
    with bench.rt.transaction() as session:
        operator = operators.create(session, "crawler")
    values = {
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
    changed: dict[str, Any] = {}
    crawled = 0
    for path in paths:
        headers = next((h for prefix, h in headers_for.items() if path.startswith(prefix)), {})
        for url, params in _requests(bench, path, flows, values):
            before = dump(bench)
            response = bench.client.get(url, params=params, headers=headers)
            crawled += 1
            # Refusals are fine (that is what most of these requests get); a crash is not.
            assert response.status_code != 500, f"GET {url} {params}: {response.status_code} {response.text[:300]}"
            diff = changes(before, dump(bench))
            diff = {table: change for table, change in diff.items() if not _allowed(path, table, change)}
            if diff:
                changed[f"GET {url} {sorted(params)}"] = diff
    assert crawled >= len(paths)
    assert changed == {}, f"GET requests changed the database: {changed}"
    # The flows are still live: nothing the crawl did consumed or ended them.
    with bench.rt.transaction() as session:
        assert all(session.get(AuthFlow, f) is not None for f in flows.values())
