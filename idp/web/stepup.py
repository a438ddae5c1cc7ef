"""Step-up pages: real name (loa:2) and real person (loa:3). Parse, call the engine's methods, render.

The methods live in `idp.authn` (registry, unionpay, alipay_certify, face, counter); this module only turns
forms and frames into calls and outcomes into pages.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from idp.authn import alipay_certify, carrier, counter, face, registry, stepup, unionpay
from idp.authn.engine import Engine
from idp.authn.outcome import Invalid, Outcome, Redirect, Shown, Step
from idp.masking import mask_id_number
from idp.oauth import sessions
from idp.proofing import service
from idp.web import kiosk
from idp.web.browser import browser_id, check_csrf, client_address, csrf_token
from idp.web.deps import get_engine
from idp.web.i18n import messages, pick_language
from idp.web.pages import render
from idp.web.steps import describe, respond, step_location
from signing.web.json_body import BadJson, parse_object

router = APIRouter(prefix="/stepup", tags=["step-up"])
EngineDep = Annotated[Engine, Depends(get_engine)]
# No max_length: an over-long value is a field error on the page (the engine judges it), not a validation dump;
# the body limit bounds what is read at all.
Field = Annotated[str, Form()]


def _who(request: Request) -> tuple[str | None, str | None]:
    return browser_id(request), request.cookies.get(sessions.COOKIE)


def _csrf(engine: Engine, request: Request, flow_id: str) -> str:
    return csrf_token(engine.protector, "stepup", flow_id, request.cookies.get("yw_b", ""))


def _page(
    request: Request, engine: Engine, flow_id: str, shown: Invalid | Shown | None = None, **typed: str
) -> Response:
    browser, cookie = _who(request)
    with engine.reading() as session:
        ctx = stepup.context(engine, session, flow_id, browser, cookie)
        claimed = stepup.identity(engine, session, ctx) is not None
    frame = kiosk.for_journey(engine, request, ctx.flow)
    t = messages(pick_language(request))
    context: dict[str, Any] = {
        "flow": flow_id,
        "csrf": _csrf(engine, request, flow_id),
        "needs_real_name": ctx.person.proofing_level < service.REAL_NAME,
        "needs_real_person": ctx.demand.level >= service.REAL_PERSON,
        "target": t[f"level_{ctx.demand.level}"],
        "alipay": engine.adapters.alipay is not None,
        "unionpay": engine.adapters.bank_card is not None,
        "registry": engine.adapters.registry is not None,
        "carrier": engine.adapters.carrier is not None,
        "claimed": claimed,
        # What the person typed comes back, except the ID number, which is only shown masked.
        "typed": {
            **{k: v for k, v in typed.items() if k != "id_number"},
            "id_masked": _masked_id(typed.get("id_number")),
        },
        "error": None,
        "error_field": None,
        "method": typed.get("method", ""),
        "kiosk": frame,
    }
    status = 200
    if isinstance(shown, Invalid):
        context.update(error=describe(shown, pick_language(request)), error_field=shown.field)
        status = shown.status
    response = kiosk.private(render(request, "stepup.html", context, status_code=status), frame)
    if isinstance(shown, Invalid) and status == 429 and "seconds" in shown.params:
        response.headers["Retry-After"] = str(shown.params["seconds"])
    return response


def _masked_id(raw: str | None) -> str:
    return mask_id_number(raw[:32]) if raw else ""


def _run(request: Request, engine: Engine, flow: str, call: Any, **typed: str) -> Response:
    outcome: Outcome = call()
    again = lambda shown: _page(request, engine, flow, shown, **typed)  # noqa: E731
    return respond(request, outcome, again, lambda: kiosk.for_flow_id(engine, request, flow))


@router.get("")
async def stepup_page(request: Request, engine: EngineDep, flow: str = "") -> Response:
    return await run_in_threadpool(_page, request, engine, flow)


@router.post("/decline")
async def decline(request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "") -> Response:
    check_csrf(engine.protector, request, csrf, "stepup", flow)
    browser, cookie = _who(request)
    return await run_in_threadpool(_run, request, engine, flow, lambda: engine.decline_stepup(flow, browser, cookie))


@router.post("/registry")
async def by_registry(
    request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "", name: Field = "", id_number: Field = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "stepup", flow)
    browser, cookie = _who(request)
    call = lambda: registry.submit(engine, flow, browser, cookie, client_address(request), name, id_number)  # noqa: E731
    return await run_in_threadpool(_run, request, engine, flow, call, method="registry", name=name, id_number=id_number)


@router.post("/carrier")
async def by_carrier(
    request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "", name: Field = "", id_number: Field = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "stepup", flow)
    browser, cookie = _who(request)
    call = lambda: carrier.submit(engine, flow, browser, cookie, client_address(request), name, id_number)  # noqa: E731
    return await run_in_threadpool(_run, request, engine, flow, call, method="carrier", name=name, id_number=id_number)


@router.post("/unionpay")
async def by_unionpay(
    request: Request,
    engine: EngineDep,
    flow: Field = "",
    csrf: Field = "",
    name: Field = "",
    id_number: Field = "",
    card_number: Field = "",
    phone: Field = "",
) -> Response:
    check_csrf(engine.protector, request, csrf, "stepup", flow)
    browser, cookie = _who(request)

    def call() -> Outcome:
        return unionpay.submit(
            engine,
            flow,
            browser,
            cookie,
            client_address(request),
            raw_name=name,
            raw_id=id_number,
            raw_card=card_number,
            raw_phone=phone,
        )

    typed = {"method": "unionpay", "name": name, "id_number": id_number, "phone": phone}
    return await run_in_threadpool(_run, request, engine, flow, call, **typed)


@router.post("/alipay")
async def by_alipay(
    request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "", name: Field = "", id_number: Field = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "stepup", flow)
    browser, cookie = _who(request)
    call = lambda: alipay_certify.start(engine, flow, browser, cookie, client_address(request), name, id_number)  # noqa: E731
    return await run_in_threadpool(_run, request, engine, flow, call, method="alipay", name=name, id_number=id_number)


@router.get("/alipay/return")
async def alipay_return(request: Request, engine: EngineDep, flow: str = "") -> Response:
    """Alipay's redirect back (a provider callback: it completes a step, like /authorize issues a code)."""
    browser, cookie = _who(request)
    return await run_in_threadpool(
        _run, request, engine, flow, lambda: alipay_certify.finish(engine, flow, browser, cookie)
    )


# --- live face ------------------------------------------------------------------------------------------
@router.get("/face")
async def face_page(request: Request, engine: EngineDep, flow: str = "") -> Response:
    browser, cookie = _who(request)

    def work() -> Response:
        shown = face.page(engine, flow, browser, cookie)
        if isinstance(shown, Invalid):
            return _page(request, engine, flow, shown)
        frame = kiosk.for_flow_id(engine, request, flow)
        context = {"flow": flow, "csrf": _csrf(engine, request, flow), "kiosk": frame}
        name = "stepup_face_consent.html" if shown.facts["consent_needed"] else "stepup_face.html"
        return kiosk.private(render(request, name, context), frame)

    return await run_in_threadpool(work)


@router.post("/face/consent")
async def face_consent(
    request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "", agree: Field = ""
) -> Response:
    check_csrf(engine.protector, request, csrf, "stepup", flow)
    if agree != "yes":
        return RedirectResponse(f"/stepup?flow={flow}", 303)
    browser, cookie = _who(request)
    await run_in_threadpool(face.give_consent, engine, flow, browser, cookie)
    return RedirectResponse(f"/stepup/face?flow={flow}", 303)


async def _json(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None: not JSON, not an object (`[]`, `"x"`, `1`), or nested too deep."""
    try:
        return parse_object(await request.body())
    except BadJson:
        return None


def _face_error(request: Request, invalid: Invalid, flow: str) -> JSONResponse:
    """A face attempt refused: the message, whether a retry is possible, and the non-face way, one tap away."""
    params = {k: v for k, v in invalid.params.items() if k != "retry"}
    text = describe(Invalid(invalid.message, params=params), pick_language(request))
    body: dict[str, Any] = {"error": text, "alternative": f"/stepup/counter?flow={flow}"}
    if invalid.params.get("retry"):
        body["retry"] = True
    headers = {"Retry-After": str(params["seconds"])} if "seconds" in params else None
    return JSONResponse(body, status_code=invalid.status, headers=headers)


@router.post("/face/challenge")
async def face_challenge(request: Request, engine: EngineDep) -> Response:
    """A fresh liveness challenge: a POST, because issuing one changes the journey."""
    body = await _json(request)
    if body is None:
        return JSONResponse({"error": "invalid JSON"}, status_code=400)
    flow = str(body.get("flow", ""))[:64]
    check_csrf(engine.protector, request, str(body.get("csrf", ""))[:128], "stepup", flow)
    browser, cookie = _who(request)
    actions = await run_in_threadpool(face.challenge, engine, flow, browser, cookie)
    if isinstance(actions, Invalid):
        return _face_error(request, actions, flow)
    t = messages(pick_language(request))
    return JSONResponse({"challenge": [{"action": a, "label": t[f"action_{a}"]} for a in actions]})


def _frames(body: dict[str, Any]) -> list[bytes] | None:
    frames = body.get("frames")
    if not isinstance(frames, list) or not 1 <= len(frames) <= face.MAX_FRAMES:
        return None
    out = []
    for item in frames:
        if not isinstance(item, str) or len(item) > face.MAX_FRAME_BYTES * 4 // 3 + 100:
            return None
        try:
            out.append(base64.b64decode(item.split(",", 1)[-1], validate=True))
        except (binascii.Error, ValueError):
            return None
    return out


@router.post("/face")
async def face_check(request: Request, engine: EngineDep) -> Response:
    """Liveness over the frames, then the best frame against the registry photo. Images are never stored."""
    body = await _json(request)
    if body is None:
        return JSONResponse({"error": "invalid JSON"}, status_code=400)
    flow = str(body.get("flow", ""))[:64]
    check_csrf(engine.protector, request, str(body.get("csrf", ""))[:128], "stepup", flow)
    frames = _frames(body)
    if frames is None:
        return _face_error(request, Invalid("bad_frames", params={"retry": True}), flow)
    browser, cookie = _who(request)
    outcome = await run_in_threadpool(face.check, engine, flow, browser, cookie, client_address(request), frames)
    if isinstance(outcome, Invalid):
        return _face_error(request, outcome, flow)
    if isinstance(outcome, Step):
        return JSONResponse({"redirect": step_location(outcome)})
    if isinstance(outcome, Redirect):
        return JSONResponse({"redirect": outcome.location})
    return _face_error(request, Invalid("face_failed"), flow)


# --- at a counter ---------------------------------------------------------------------------------------
def _counter_page(request: Request, engine: Engine, flow: str, shown: Invalid | Shown | None = None) -> Response:
    context: dict[str, Any] = {
        "flow": flow,
        "csrf": _csrf(engine, request, flow) if flow else "",
        "halls": engine.settings.halls,
        "code": None,
        "qr": None,
        "error": None,
        "kiosk": kiosk.for_flow_id(engine, request, flow) if flow else None,
    }
    status = 200
    if isinstance(shown, Shown) and shown.facts.get("code"):
        code = str(shown.facts["code"])
        svg = io.BytesIO()
        segno.make(code, error="m").save(svg, kind="svg", scale=6, xmldecl=False, svgns=True, title=code)
        context.update(code=f"{code[:4]} {code[4:]}", qr=svg.getvalue().decode())
    elif isinstance(shown, Invalid):
        context["error"], status = describe(shown, pick_language(request)), shown.status
    return kiosk.private(render(request, "stepup_counter.html", context, status_code=status), context["kiosk"])


@router.get("/counter")
async def counter_page(request: Request, engine: EngineDep, flow: str = "") -> Response:
    """The non-face way to become a real person: in person, at a service counter, with the ID card."""
    return await run_in_threadpool(_counter_page, request, engine, flow)


@router.post("/counter")
async def counter_code(request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "") -> Response:
    check_csrf(engine.protector, request, csrf, "stepup", flow)
    browser, cookie = _who(request)
    call = lambda: counter.issue(engine, flow, browser, cookie)  # noqa: E731
    shown = await run_in_threadpool(call)
    return await run_in_threadpool(_counter_page, request, engine, flow, shown)


@router.post("/counter/continue")
async def counter_continue(request: Request, engine: EngineDep, flow: Field = "", csrf: Field = "") -> Response:
    check_csrf(engine.protector, request, csrf, "stepup", flow)
    browser, cookie = _who(request)
    call = lambda: counter.proceed(engine, flow, browser, cookie)  # noqa: E731
    return await run_in_threadpool(_run_counter, request, engine, flow, call)


def _run_counter(request: Request, engine: Engine, flow: str, call: Any) -> Response:
    again = lambda shown: _counter_page(request, engine, flow, shown)  # noqa: E731
    return respond(request, call(), again, lambda: kiosk.for_flow_id(engine, request, flow))
