"""Alipay Open Platform emulator: the gateway (RSA2 both ways), the login page and the face-verification page.

Gateway methods: `alipay.system.oauth.token`, `alipay.user.info.share`, `alipay.user.certify.open.initialize`,
`alipay.user.certify.open.certify` (a GET the browser opens: shows the verification page), and
`alipay.user.certify.open.query`. Every answer is `{"<member>": {...}, "sign": "..."}` signed over the member's
exact text. Gateway refusals are `error_response` with Alipay's sub-codes (`isv.invalid-signature`, ...).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adapters.masking import mask_id_number, mask_name
from adapters.sandbox import dataset
from adapters.sandbox._page import escape, page
from adapters.sandbox.keys import SandboxKeys
from adapters.sandbox.state import Store
from adapters.sandbox.wire import alipay_rsa2

__all__ = ["alipay_app"]

CHINA = timezone(timedelta(hours=8))
MAX_SKEW_S = 15 * 60
CODE_TTL_S = 300
TOKEN_TTL_S = 1800
CERTIFY_TTL_S = 1800
METHODS = (
    "alipay.system.oauth.token",
    "alipay.user.info.share",
    "alipay.user.certify.open.initialize",
    "alipay.user.certify.open.certify",
    "alipay.user.certify.open.query",
)


def _ok(**fields: Any) -> dict[str, Any]:
    return {"code": "10000", "msg": "Success", **fields}


def _biz_error(sub_code: str, sub_msg: str, code: str = "40004", msg: str = "Business Failed") -> dict[str, Any]:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def _http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def alipay_app(store: Store, keys: SandboxKeys, clock: Callable[[], float] = time.time) -> Starlette:
    platform_key = serialization.load_pem_private_key(keys.alipay_platform_key.encode(), None)
    app_public = serialization.load_pem_public_key(keys.alipay_app_public_key.encode())
    assert isinstance(platform_key, rsa.RSAPrivateKey) and isinstance(app_public, rsa.RSAPublicKey)

    def answer(member: str, value: dict[str, Any], signed: bool = True) -> Response:
        raw = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"{member}":{raw}'
        if signed:
            body += f',"sign":"{alipay_rsa2.sign_text(raw, platform_key)}"'
        return Response(body + "}", media_type="application/json;charset=utf-8")

    def gateway_error(sub_code: str, sub_msg: str, signed: bool = True) -> Response:
        return answer("error_response", _biz_error(sub_code, sub_msg, "40002", "Invalid Arguments"), signed)

    async def params_of(request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        return params

    def check(params: dict[str, str]) -> Response | None:
        if params.get("app_id") != keys.alipay_app_id:
            return gateway_error("isv.invalid-app-id", "无效的AppID参数", signed=False)
        if params.get("method") not in METHODS:
            return gateway_error("isv.invalid-method", "不存在的方法名")
        if params.get("sign_type") != "RSA2" or params.get("charset", "utf-8").lower() != "utf-8":
            return gateway_error("isv.invalid-signature-type", "无效的签名类型")
        if not alipay_rsa2.verified(params, app_public):
            return gateway_error("isv.invalid-signature", "验签出错")
        try:
            ts = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
        except ValueError:
            return gateway_error("isv.invalid-timestamp", "非法的时间戳参数")
        if abs(ts.timestamp() - clock()) > MAX_SKEW_S:
            return gateway_error("isv.invalid-timestamp", "非法的时间戳参数")
        return None

    def biz(params: dict[str, str]) -> dict[str, Any]:
        try:
            value = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    async def gateway(request: Request) -> Response:
        params = await params_of(request)
        refusal = check(params)
        if refusal is not None:
            return refusal
        method = params["method"]
        member = method.replace(".", "_") + "_response"
        if method == "alipay.system.oauth.token":
            grant = store.pop(f"alipay-code:{params.get('code', '')}")
            if params.get("grant_type") != "authorization_code" or grant is None:
                return gateway_error("isv.code-invalid", "授权码code无效")
            token = "authusrB" + secrets.token_hex(16)
            store.put(f"alipay-token:{token}", grant, TOKEN_TTL_S)
            person = dataset.by_alipay_user_id(grant["user_id"])
            assert person is not None
            return answer(
                member,
                {
                    "access_token": token,
                    "alipay_user_id": person.alipay_user_id,
                    "expires_in": TOKEN_TTL_S,
                    "re_expires_in": TOKEN_TTL_S,
                    "refresh_token": "authusrR" + secrets.token_hex(16),
                    "user_id": person.alipay_user_id,
                    "open_id": person.alipay_open_id,
                },
            )
        if method == "alipay.user.info.share":
            grant = store.get(f"alipay-token:{params.get('auth_token', '')}")
            person = dataset.by_alipay_user_id(grant["user_id"]) if grant else None
            if person is None:
                return answer(
                    member,
                    _biz_error("aop.invalid-auth-token", "无效的访问令牌", "20001", "Insufficient Token Permissions"),
                )
            return answer(
                member,
                _ok(
                    user_id=person.alipay_user_id,
                    open_id=person.alipay_open_id,
                    nick_name=person.nick_name,
                    avatar="https://example.invalid/avatar.png",
                    province="北京市",
                    city="北京市",
                    gender="m",
                ),
            )
        if method == "alipay.user.certify.open.initialize":
            return initialize(member, biz(params))
        if method == "alipay.user.certify.open.query":
            state = store.get(f"alipay-certify:{biz(params).get('certify_id', '')}")
            if state is None:
                return answer(member, _biz_error("CERTIFY_ID_NOT_EXIST", "认证ID不存在"))
            passed = "T" if state.get("passed") is True else "F"
            identity = json.dumps({"identity_type": "CERT_INFO", "cert_type": "IDENTITY_CARD"})
            return answer(member, _ok(passed=passed, identity_info=identity, material_info="{}"))
        return certify_page(params)

    def initialize(member: str, content: dict[str, Any]) -> Response:
        identity = content.get("identity_param") or {}
        config = content.get("merchant_config") or {}
        order = str(content.get("outer_order_no", ""))
        if not (0 < len(order) <= 32) or content.get("biz_code") not in ("FACE", "CERTIFY_PHOTO", "SMART_FACE"):
            return answer(member, _biz_error("isv.invalid-parameter", "outer_order_no 或 biz_code 无效"))
        if identity.get("identity_type") != "CERT_INFO" or identity.get("cert_type") != "IDENTITY_CARD":
            return answer(member, _biz_error("isv.invalid-parameter", "identity_param 无效"))
        if not _http_url(str(config.get("return_url", ""))):
            return answer(member, _biz_error("isv.invalid-parameter", "return_url 无效"))
        certify_id = "SB" + secrets.token_hex(15)
        store.put(
            f"alipay-certify:{certify_id}",
            {
                "name": str(identity.get("cert_name", "")),
                "cert_no": str(identity.get("cert_no", "")).upper(),
                "return_url": str(config["return_url"]),
                "passed": None,
            },
            CERTIFY_TTL_S,
        )
        return answer(member, _ok(certify_id=certify_id))

    def certify_page(params: dict[str, str]) -> Response:
        certify_id = str(biz(params).get("certify_id", ""))
        state = store.get(f"alipay-certify:{certify_id}")
        if state is None:
            return page("刷脸认证", "<p>认证ID不存在或已过期。</p>", status=404)
        person = dataset.by_id_number(state["cert_no"])
        known = person is not None and person.name == state["name"]
        who = f"{escape(mask_name(state['name']))}（{escape(mask_id_number(state['cert_no']))}）"
        note = "" if known else "<p>沙箱人口中没有这个姓名与证件号的组合：只能选择“认证失败”。</p>"
        buttons = ("<button name=result value=pass>刷脸通过</button>" if known else "") + (
            "<button name=result value=fail>认证失败</button>"
        )
        form = (
            f'<form method=post action="certify/complete"><input type=hidden name=certify_id '
            f'value="{escape(certify_id)}">{buttons}</form>'
        )
        return page("支付宝刷脸认证（模拟）", f"<p>为 {who} 进行身份认证。</p>{note}{form}")

    async def certify_complete(request: Request) -> Response:
        form = await request.form()
        certify_id, result = str(form.get("certify_id", "")), str(form.get("result", ""))
        state = store.get(f"alipay-certify:{certify_id}")
        if state is None or state.get("passed") is not None:
            return page("刷脸认证", "<p>认证ID不存在、已过期或已完成。</p>", status=400)
        person = dataset.by_id_number(state["cert_no"])
        state["passed"] = result == "pass" and person is not None and person.name == state["name"]
        store.put(f"alipay-certify:{certify_id}", state, CERTIFY_TTL_S)
        return RedirectResponse(state["return_url"], status_code=303)

    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("app_id") != keys.alipay_app_id or q.get("scope") != "auth_user":
            return page("支付宝登录", "<p>应用或授权范围无效。</p>", status=400)
        if not _http_url(q.get("redirect_uri", "")):
            return page("支付宝登录", "<p>redirect_uri 无效。</p>", status=400)
        hidden = "".join(
            f'<input type=hidden name={k} value="{escape(q.get(k, ""))}">' for k in ("app_id", "redirect_uri", "state")
        )
        buttons = "".join(
            f"<button name=user_id value={p.alipay_user_id}>{escape(p.nick_name)}（{escape(mask_name(p.name))}）</button>"
            for p in dataset.PEOPLE
        )
        target = escape(urlsplit(q["redirect_uri"]).netloc)
        return page(
            "支付宝登录（模拟）",
            f"<p>授权 {target} 获取你的支付宝账户信息。选择一个沙箱账户：</p>"
            f'<form method=post action="grant">{hidden}{buttons}</form>',
        )

    async def grant(request: Request) -> Response:
        form = await request.form()
        redirect_uri, user_id = str(form.get("redirect_uri", "")), str(form.get("user_id", ""))
        if form.get("app_id") != keys.alipay_app_id or not _http_url(redirect_uri):
            return page("支付宝登录", "<p>请求无效。</p>", status=400)
        if dataset.by_alipay_user_id(user_id) is None:
            return page("支付宝登录", "<p>没有这个沙箱账户。</p>", status=400)
        code = secrets.token_hex(16)
        store.put(f"alipay-code:{code}", {"user_id": user_id}, CODE_TTL_S)
        query = urlencode(
            {
                "app_id": keys.alipay_app_id,
                "source": "alipay_wallet",
                "scope": "auth_user",
                "auth_code": code,
                "state": str(form.get("state", "")),
            }
        )
        sep = "&" if urlsplit(redirect_uri).query else "?"
        return RedirectResponse(f"{redirect_uri}{sep}{query}", status_code=303)

    return Starlette(
        routes=[
            Route("/gateway.do", gateway, methods=["GET", "POST"]),
            Route("/certify/complete", certify_complete, methods=["POST"]),
            Route("/oauth2/publicAppAuthorize.htm", authorize),
            Route("/oauth2/grant", grant, methods=["POST"]),
        ]
    )
