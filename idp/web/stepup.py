"""Step-up: reaching the level a client asked for within this sign-in.

Real name (loa:2): the ID number proven to be this person's — the carrier three-element check, UnionPay
4-element verification, or Alipay certify; a registry name + number match alone is only a claim. Real person
(loa:3): a live face (randomised liveness challenge) matched to the registry photo, or Alipay certify with a
face check; a non-face alternative (the service counter) is always shown, and face processing needs its own
consent. The decisions, limits and bindings live in idp/proofing (steps.py, face.py, binding.py): these routes
parse, call and render.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from adapters import liveness
from adapters.errors import AdapterError
from idp import audit
from idp.errors import Conflict, InvalidInput, YiwangError
from idp.oauth import acr, flows, sessions
from idp.oauth.models import AuthFlow, LoginSession
from idp.oauth.provider import Provider
from idp.proofing import face as face_step
from idp.proofing import limits, service, steps
from idp.records.models import Person
from idp.web.authorize import STEPUP_DECLINED, load_flow
from idp.web.browser import check_csrf, csrf_token
from idp.web.deps import get_provider
from idp.web.i18n import messages, pick_language
from idp.web.pages import render

router = APIRouter(prefix="/stepup", tags=["step-up"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
MAX_FRAMES, MAX_FRAME_BYTES, FACE_TRIES = face_step.MAX_FRAMES, face_step.MAX_FRAME_BYTES, face_step.FACE_TRIES


@dataclass
class Context:
    flow: AuthFlow
    login: LoginSession
    person: Person
    demanded: int


def _context(request: Request, provider: Provider, flow_id: str) -> Context:
    flow = load_flow(request, provider, flow_id)
    with provider.runtime.transaction() as session:
        login = sessions.load(session, request.cookies.get(sessions.COOKIE))
        if login is None or login.sid != flow.params.get("_fresh_sid", login.sid):
            raise InvalidInput("请先登录。Please sign in first.")
        person = session.get(Person, login.person_id)
        if person is None:
            raise InvalidInput("该账户已不存在。The account no longer exists.")
        session.expunge(login)
        session.expunge(person)
    client = provider.clients.get(flow.client_id)
    req = flows.request_params(flow)
    demanded = acr.demanded(req.get("acr_values"), client.default_acr if client else None)
    return Context(flow, login, person, demanded)


def _deps(provider: Provider) -> steps.Deps:
    return steps.Deps(
        provider.runtime,
        provider.adapters,
        provider.counters,
        limits.from_settings(provider.settings),
        provider.settings.access_token_ttl,
    )


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _claimed(provider: Provider, ctx: Context) -> bool:
    return steps.claimed_identity(_deps(provider), ctx.person) is not None


def _csrf(provider: Provider, request: Request, flow_id: str) -> str:
    return csrf_token(provider.runtime.protector, "stepup", flow_id, request.cookies.get("yw_b", ""))


def _page(request: Request, provider: Provider, ctx: Context, status: int = 200, **extra: Any) -> Response:
    context = {
        "flow": ctx.flow.id,
        "csrf": _csrf(provider, request, ctx.flow.id),
        "needs_real_name": ctx.person.proofing_level < service.REAL_NAME,
        "needs_real_person": ctx.demanded >= service.REAL_PERSON,
        "target": acr.acr_for(ctx.demanded),
        "alipay": provider.adapters.alipay is not None,
        "unionpay": provider.adapters.bank_card is not None,
        "registry": provider.adapters.registry is not None,
        "carrier": provider.adapters.carrier is not None,
        "claimed": _claimed(provider, ctx),
        **extra,
    }
    return render(request, "stepup.html", context, status_code=status)


def _finish(request: Request, provider: Provider, ctx: Context, *, face: bool) -> Response:
    """Re-judge the session's level after proofing; back to the authorization request."""
    amr = acr.with_mfa([*ctx.login.amr, "face"]) if face else list(ctx.login.amr)
    with provider.runtime.transaction() as session:
        person = session.get(Person, ctx.person.id)
        assert person is not None
        level = acr.session_level(person.proofing_level, amr)
        sessions.step_up(session, ctx.login, acr.acr_for(level), amr)
        audit.record(
            session,
            audit.Event(
                action="login.step_up",
                subject=person.id,
                actor=person.id,
                channel="web",
                client=ctx.flow.client_id,
                detail={"acr": acr.acr_for(level), "amr": amr},
            ),
        )
    return RedirectResponse(f"/authorize/resume?flow={ctx.flow.id}", 303)


def _provider_down(request: Request, provider: Provider, ctx: Context) -> Response:
    return _page(request, provider, ctx, 503, error=messages(pick_language(request))["provider_down"])


def _refused(request: Request, provider: Provider, ctx: Context, exc: YiwangError) -> Response:
    response = _page(request, provider, ctx, exc.status, error=exc.detail)
    if isinstance(exc, limits.TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _outcome(
    request: Request, provider: Provider, ctx: Context, run: Any, *, face: bool = False, undecided: str = "undecided"
) -> Response:
    """Render a step's outcome: bound → re-judge the session; otherwise the page with why."""
    t = messages(pick_language(request))
    try:
        outcome: steps.Outcome = run()
    except (Conflict, InvalidInput, limits.TooManyAttempts) as exc:
        return _refused(request, provider, ctx, exc)
    if outcome.result == "bound":
        return _finish(request, provider, ctx, face=face)
    if outcome.result == "claimed":
        return _page(request, provider, ctx)
    if outcome.result == "unavailable":
        return _provider_down(request, provider, ctx)
    if outcome.result == "undecided":
        return _page(request, provider, ctx, 503 if undecided == "undecided" else 400, error=t[undecided])
    return _page(request, provider, ctx, 400, error=t["no_match"])


@router.get("")
async def stepup_page(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    return await run_in_threadpool(lambda: _page(request, provider, _context(request, provider, flow)))


@router.post("/decline")
async def decline(
    request: Request, provider: ProviderDep, flow: Annotated[str, Form()], csrf: Annotated[str, Form()]
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "stepup", flow)
        ctx = _context(request, provider, flow)
        with provider.runtime.transaction() as session:
            row = session.merge(ctx.flow)
            row.params = {**row.params, STEPUP_DECLINED: ctx.login.sid}
        return RedirectResponse(f"/authorize/resume?flow={flow}", 303)

    return await run_in_threadpool(work)


@router.post("/registry")
async def by_registry(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    name: Annotated[str, Form(max_length=100)],
    id_number: Annotated[str, Form(max_length=32)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "stepup", flow)
        ctx = _context(request, provider, flow)
        # A match is a claim, not a proof: the page comes back asking for an ownership proof.
        return _outcome(
            request, provider, ctx,
            lambda: steps.registry_claim(_deps(provider), ctx.person.id, _ip(request), name, id_number),
        )  # fmt: skip

    return await run_in_threadpool(work)


@router.post("/carrier")
async def by_carrier(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    name: Annotated[str, Form(max_length=100)],
    id_number: Annotated[str, Form(max_length=32)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "stepup", flow)
        ctx = _context(request, provider, flow)
        # No carrier record for this phone proves nothing either way: another method, not a retry later.
        return _outcome(
            request, provider, ctx,
            lambda: steps.carrier_check(_deps(provider), ctx.person.id, _ip(request), name, id_number),
            undecided="carrier_undecided",
        )  # fmt: skip

    return await run_in_threadpool(work)


@router.post("/unionpay")
async def by_unionpay(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    name: Annotated[str, Form(max_length=100)],
    id_number: Annotated[str, Form(max_length=32)],
    card_number: Annotated[str, Form(max_length=32)],
    phone: Annotated[str, Form(max_length=32)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "stepup", flow)
        ctx = _context(request, provider, flow)
        return _outcome(
            request, provider, ctx,
            lambda: steps.unionpay_check(
                _deps(provider), ctx.person.id, _ip(request), name, id_number, card_number, phone
            ),
        )  # fmt: skip

    return await run_in_threadpool(work)


def _open_pending(provider: Provider, flow: AuthFlow) -> dict[str, str]:
    sealed = flow.params.get("_pending")
    if not sealed:
        raise InvalidInput("没有进行中的核验。No verification is in progress.")
    data: dict[str, str] = json.loads(flows.unseal(provider.runtime.protector, flow, "pending", sealed))
    return data


@router.post("/alipay")
async def by_alipay(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    name: Annotated[str, Form(max_length=100)],
    id_number: Annotated[str, Form(max_length=32)],
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "stepup", flow)
        ctx = _context(request, provider, flow)
        alipay = provider.adapters.alipay
        if alipay is None:
            return _provider_down(request, provider, ctx)
        return_url = f"{provider.settings.issuer}/stepup/alipay/return?flow={flow}"
        order = secrets.token_hex(16)
        try:
            certify_id = steps.alipay_start(
                _deps(provider), ctx.person.id, _ip(request), order, name, id_number, return_url
            )
        except (InvalidInput, limits.TooManyAttempts) as exc:
            return _refused(request, provider, ctx, exc)
        except AdapterError:
            return _provider_down(request, provider, ctx)
        with provider.runtime.transaction() as session:
            row = session.merge(ctx.flow)
            pending = flows.seal(
                provider.runtime.protector,
                flow,
                "pending",
                json.dumps({"name": name.strip(), "id_number": id_number.strip(), "certify_id": certify_id}),
            )
            row.params = {**row.params, "_pending": pending}
        return RedirectResponse(alipay.certify_url(certify_id), 303)

    return await run_in_threadpool(work)


@router.get("/alipay/return")
async def alipay_return(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    def work() -> Response:
        ctx = _context(request, provider, flow)
        pending = _open_pending(provider, ctx.flow)
        with provider.runtime.transaction() as session:
            row = session.merge(ctx.flow)
            row.params = {k: v for k, v in row.params.items() if k != "_pending"}
        deps = _deps(provider)
        # Alipay certify with biz_code FACE is a real-name check and a live face check at once.
        return _outcome(
            request, provider, ctx,
            lambda: steps.alipay_finish(deps, ctx.person.id, pending["certify_id"], pending["name"],
                                        pending["id_number"]),
            face=True,
        )  # fmt: skip

    return await run_in_threadpool(work)


@router.get("/face")
async def face_page(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    def work() -> Response:
        ctx = _context(request, provider, flow)
        if not _claimed(provider, ctx):
            return _page(request, provider, ctx, 400, error=messages(pick_language(request))["real_name_first"])
        with provider.runtime.transaction() as session:
            consented = service.has_face_consent(session, ctx.person.id)
        csrf = _csrf(provider, request, flow)
        if not consented:
            return render(request, "stepup_face_consent.html", {"flow": flow, "csrf": csrf})
        try:
            limits.start_face_flow(provider.counters, limits.from_settings(provider.settings), ctx.person.id)
        except limits.TooManyAttempts as exc:
            return _refused(request, provider, ctx, exc)
        challenge = liveness.new_challenge()
        with provider.runtime.transaction() as session:
            row = session.merge(ctx.flow)
            row.params = {**row.params, "_challenge": " ".join(challenge)}
        return render(request, "stepup_face.html", {"flow": flow, "csrf": csrf, "challenge": challenge})

    return await run_in_threadpool(work)


@router.post("/face/consent")
async def face_consent(
    request: Request,
    provider: ProviderDep,
    flow: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    agree: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    def work() -> Response:
        check_csrf(provider.runtime.protector, request, csrf, "stepup", flow)
        ctx = _context(request, provider, flow)
        if agree != "yes":
            return RedirectResponse(f"/stepup?flow={flow}", 303)
        provider.runtime.run(lambda s: service.give_face_consent(s, ctx.person.id))
        return RedirectResponse(f"/stepup/face?flow={flow}", 303)

    return await run_in_threadpool(work)


def _frames(body: Any) -> list[bytes]:
    frames = body.get("frames") if isinstance(body, dict) else None
    if not isinstance(frames, list) or not 1 <= len(frames) <= MAX_FRAMES:
        raise InvalidInput(f"send 1 to {MAX_FRAMES} frames")
    out = []
    for item in frames:
        if not isinstance(item, str) or len(item) > MAX_FRAME_BYTES * 4 // 3 + 100:
            raise InvalidInput("a frame is missing or too large")
        try:
            out.append(base64.b64decode(item.split(",", 1)[-1], validate=True))
        except (binascii.Error, ValueError):
            raise InvalidInput("a frame is not base64") from None
    return out


@router.post("/face")
async def face_check(request: Request, provider: ProviderDep) -> Response:
    """Liveness over the frames, then the best frame against the registry photo. Images are never stored."""
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "invalid JSON"}, status_code=400)

    if not isinstance(body, dict):
        return JSONResponse({"error": "a JSON object is expected"}, status_code=400)

    def work() -> Response:
        t = messages(pick_language(request))
        flow_id, csrf = str(body.get("flow", "")), str(body.get("csrf", ""))
        check_csrf(provider.runtime.protector, request, csrf, "stepup", flow_id)
        ctx = _context(request, provider, flow_id)
        challenge = ctx.flow.params.get("_challenge", "").split()
        tries = int(ctx.flow.params.get("_face_tries", "0")) + 1
        with provider.runtime.transaction() as session:
            row = session.merge(ctx.flow)
            # One challenge, one attempt: a recording of this attempt can't be replayed against a new one.
            row.params = {**{k: v for k, v in row.params.items() if k != "_challenge"}, "_face_tries": str(tries)}
            consented = service.has_face_consent(session, ctx.person.id)
        if not challenge or tries > FACE_TRIES or not consented:
            return JSONResponse({"error": t["face_failed"]}, status_code=400)
        frames = _frames(body)
        retry = {"retry": f"/stepup/face?flow={flow_id}"}
        try:
            result = steps.face_check(_deps(provider), ctx.person, _ip(request), challenge, frames)
        except limits.TooManyAttempts as exc:
            return JSONResponse({"error": exc.detail}, 429, headers={"Retry-After": str(exc.retry_after)})
        except Conflict as exc:
            return JSONResponse({"error": exc.detail}, status_code=409)
        if result == "passed":
            finish = _finish(request, provider, ctx, face=True)
            return JSONResponse({"redirect": finish.headers["location"]})
        errors = {
            "liveness_failed": (t["liveness_failed"], 400),
            "spliced": (t["face_mismatch"], 400),
            "mismatch": (t["face_mismatch"], 400),
            "no_reference": (t["no_registry_photo"], 400),
            "unusable": (t["face_failed"], 400),
            "too_large": (t["face_failed"], 400),
            "unavailable": (t["provider_down"], 503),
        }
        message, status = errors.get(result, (t["face_failed"], 400))
        return JSONResponse({"error": message, **(retry if status == 400 else {})}, status_code=status)

    return await run_in_threadpool(work)


@router.get("/counter")
async def counter_page(request: Request, flow: str = "") -> Response:
    """The non-face way to become a real person: in person, at a service counter, with the ID card."""
    return render(request, "stepup_counter.html", {"flow": flow})
