"""Step-up: reaching the level a client asked for within this sign-in.

Real name (loa:2): name and ID number confirmed by the population registry, by UnionPay 4-element
verification, or by Alipay certify. Real person (loa:3): a live face (randomised liveness challenge) matched
to the registry photo, or Alipay certify with a face check; a non-face alternative (the service counter) is
always shown, and face processing needs its own consent.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from anyio import from_thread
from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from adapters import liveness
from adapters.errors import AdapterError, UnusableImage
from idp import audit
from idp.errors import Conflict, InvalidInput, YiwangError
from idp.oauth import acr, flows, sessions
from idp.oauth.models import AuthFlow, LoginSession
from idp.oauth.provider import Provider
from idp.proofing import service
from idp.records.models import Person
from idp.web.authorize import STEPUP_DECLINED, load_flow
from idp.web.browser import check_csrf, csrf_token
from idp.web.deps import get_provider
from idp.web.i18n import messages, pick_language
from idp.web.pages import render

router = APIRouter(prefix="/stepup", tags=["step-up"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
MAX_FRAMES, MAX_FRAME_BYTES = 24, 400_000
FACE_TRIES = 3
SAMPLED_FRAMES = 4


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
    return _page(request, provider, ctx, exc.status, error=exc.detail)


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


def _real_name(
    request: Request, provider: Provider, ctx: Context, *, source: str, name: str, id_number: str, level: int = 2
) -> Response | None:
    """Apply a confirmed real name (and ID number); a page if the binding is refused, else None."""
    refusal = audit.Event(
        action="proofing.raise", subject=ctx.person.id, actor=ctx.person.id, channel="web", detail={"source": source}
    )
    try:
        provider.runtime.run(
            lambda s: service.raise_level(
                s,
                provider.runtime.protector,
                ctx.person.id,
                level=level,
                source=source,
                channel="web",
                id_number=id_number,
                name=name,
            ),
            refusal=refusal,
        )
    except (Conflict, InvalidInput) as exc:
        return _refused(request, provider, ctx, exc)
    return None


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
        registry = provider.adapters.registry
        t = messages(pick_language(request))
        if registry is None:
            return _provider_down(request, provider, ctx)
        try:
            result = from_thread.run(lambda: registry.verify(name.strip(), id_number.strip(), include_photo=False))
        except AdapterError:
            return _provider_down(request, provider, ctx)
        if not result.matched:
            return _page(request, provider, ctx, 400, error=t["no_match"])
        return _real_name(request, provider, ctx, source="registry", name=name, id_number=id_number) or _finish(
            request, provider, ctx, face=False
        )

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
        verifier = provider.adapters.bank_card
        t = messages(pick_language(request))
        if verifier is None:
            return _provider_down(request, provider, ctx)
        card = "".join(c for c in card_number if c.isdigit())
        try:
            result = from_thread.run(verifier.verify, name.strip(), id_number.strip(), card, phone.strip())
        except AdapterError:
            return _provider_down(request, provider, ctx)
        if result.matched is None:
            return _page(request, provider, ctx, 503, error=t["undecided"])
        if not result.matched:
            return _page(request, provider, ctx, 400, error=t["no_match"])
        refused = _real_name(request, provider, ctx, source="unionpay", name=name, id_number=id_number)
        if refused is not None:
            return refused
        provider.runtime.run(lambda s: service.record_bank_card(s, ctx.person.id, card))
        return _finish(request, provider, ctx, face=False)

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
            certify_id = from_thread.run(
                lambda: alipay.certify_initialize(order, name.strip(), id_number.strip(), return_url, biz_code="FACE")
            )
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
        alipay = provider.adapters.alipay
        pending = _open_pending(provider, ctx.flow)
        if alipay is None:
            return _provider_down(request, provider, ctx)
        try:
            passed = from_thread.run(alipay.certify_query, pending["certify_id"])
        except AdapterError:
            return _provider_down(request, provider, ctx)
        with provider.runtime.transaction() as session:
            row = session.merge(ctx.flow)
            row.params = {k: v for k, v in row.params.items() if k != "_pending"}
        if not passed:
            return _page(request, provider, ctx, 400, error=messages(pick_language(request))["no_match"])
        # Alipay certify with biz_code FACE is a real-name check and a live face check at once.
        refused = _real_name(
            request,
            provider,
            ctx,
            source="alipay_certify",
            level=3,
            name=pending["name"],
            id_number=pending["id_number"],
        )
        return refused or _finish(request, provider, ctx, face=True)

    return await run_in_threadpool(work)


@router.get("/face")
async def face_page(request: Request, provider: ProviderDep, flow: str = "") -> Response:
    def work() -> Response:
        ctx = _context(request, provider, flow)
        if ctx.person.proofing_level < service.REAL_NAME:
            return _page(request, provider, ctx, 400, error=messages(pick_language(request))["real_name_first"])
        with provider.runtime.transaction() as session:
            consented = service.has_face_consent(session, ctx.person.id)
        csrf = _csrf(provider, request, flow)
        if not consented:
            return render(request, "stepup_face_consent.html", {"flow": flow, "csrf": csrf})
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
            identity = service.identity_of(session, provider.runtime.protector, ctx.person)
        if not challenge or tries > FACE_TRIES or not consented or identity is None:
            return JSONResponse({"error": t["face_failed"]}, status_code=400)
        frames = _frames(body)
        face, registry = provider.adapters.face, provider.adapters.registry
        landmarks = face.landmarks_all(frames)
        result = liveness.check_challenge(challenge, landmarks)
        outcome = "refused"
        try:
            if not result.passed:
                return JSONResponse({"error": t["liveness_failed"], "retry": f"/stepup/face?flow={flow_id}"}, 400)
            if registry is None:
                return JSONResponse({"error": t["provider_down"]}, status_code=503)
            reference = from_thread.run(lambda: registry.verify(identity[0], identity[1], include_photo=True))
            if not reference.matched or reference.photo is None:
                return JSONResponse({"error": t["no_registry_photo"]}, status_code=400)
            # The most frontal frame of the live sequence is the probe: the face that moved is the face matched.
            seen = [(f, lm) for f, lm in zip(frames, landmarks, strict=True) if lm is not None]
            best = min(seen, key=lambda pair: abs(liveness.head_yaw(pair[1])))[0]
            probe = face.encode(best)
            # The challenge proves liveness only if one face did it all: frames spread over the sequence must
            # be the probe's face (a spliced video of two people fails here).
            step = max(1, len(seen) // SAMPLED_FRAMES)
            for frame, _ in seen[::step][:SAMPLED_FRAMES]:
                if face.distance(probe, face.encode(frame)) > face.threshold:
                    return JSONResponse({"error": t["face_mismatch"], "retry": f"/stepup/face?flow={flow_id}"}, 400)
            if face.distance(probe, face.encode(reference.photo)) > face.threshold:
                return JSONResponse({"error": t["face_mismatch"], "retry": f"/stepup/face?flow={flow_id}"}, 400)
            outcome = "success"
        except UnusableImage:
            return JSONResponse({"error": t["face_failed"], "retry": f"/stepup/face?flow={flow_id}"}, 400)
        except AdapterError:
            return JSONResponse({"error": t["provider_down"]}, status_code=503)
        finally:
            with provider.runtime.transaction() as session:
                audit.record(
                    session,
                    audit.Event(
                        action="proofing.face",
                        subject=ctx.person.id,
                        actor=ctx.person.id,
                        channel="web",
                        outcome=outcome,
                        client=ctx.flow.client_id,
                        detail={"liveness": result.reason, "frames": len(frames), "try": tries},
                    ),
                )
        with provider.runtime.transaction() as session:
            service.store_face_template(session, provider.runtime.protector, ctx.person.id, probe.to_bytes())
            service.raise_level(
                session, provider.runtime.protector, ctx.person.id, level=3, source="face", channel="web"
            )
        finish = _finish(request, provider, ctx, face=True)
        return JSONResponse({"redirect": finish.headers["location"]})

    return await run_in_threadpool(work)


@router.get("/counter")
async def counter_page(request: Request, flow: str = "") -> Response:
    """The non-face way to become a real person: in person, at a service counter, with the ID card."""
    return render(request, "stepup_counter.html", {"flow": flow})
