"""Aliyun Dysmsapi emulator: `SendSms` and `QuerySmsSign`, RPC signature v1 checked as Aliyun checks it.

Refusals use Aliyun's codes: `InvalidAccessKeyId.NotFound`, `SignatureDoesNotMatch`, `SignatureNonceUsed`,
`InvalidTimeStamp.Expired`, `isv.SMS_SIGNATURE_ILLEGAL`, `isv.SMS_TEMPLATE_ILLEGAL`, `isv.MOBILE_NUMBER_ILLEGAL`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.sandbox.outbox import Outbox, is_link, link_text
from adapters.sandbox.state import Store
from adapters.sandbox.wire import aliyun_rpc

__all__ = ["aliyun_sms_app", "SIGN_NAME", "TEMPLATE_CODE", "LINK_TEMPLATE_CODE"]

SIGN_NAME = "一网沙箱"
TEMPLATE_CODE = "SMS_000000001"
LINK_TEMPLATE_CODE = "SMS_000000002"
MAX_SKEW_S = 15 * 60
_MAINLAND = re.compile(r"^1[3-9]\d{9}$")


def aliyun_sms_app(
    outbox: Outbox, store: Store, access_key_id: str, secret: str, clock: Callable[[], float] = time.time
) -> Starlette:
    def answer(status: int, code: str, message: str, **extra: object) -> Response:
        body = {"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message, **extra}
        return JSONResponse(body, status_code=status)

    async def rpc(request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        if params.get("AccessKeyId") != access_key_id:
            return answer(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if params.get("SignatureMethod") != "HMAC-SHA1" or params.get("SignatureVersion") != "1.0":
            return answer(400, "InvalidParameter", "Unsupported signature method or version.")
        if not aliyun_rpc.verified(request.method, params, secret):
            return answer(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        try:
            ts = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return answer(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        if abs(ts.timestamp() - clock()) > MAX_SKEW_S:
            return answer(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if not store.add_once(f"aliyun-nonce:{params.get('SignatureNonce', '')}", 2 * MAX_SKEW_S):
            return answer(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        action = params.get("Action")
        if action == "SendSms":
            return send_sms(params)
        if action == "QuerySmsSign":
            if params.get("SignName") != SIGN_NAME:
                return answer(200, "isv.SMS_SIGN_ILLEGAL", "The sign name does not exist.")
            return answer(
                200, "OK", "OK", SignName=SIGN_NAME, SignStatus=1, Reason="", CreateDate="2024-01-01 00:00:00"
            )
        return answer(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")

    def send_sms(params: dict[str, str]) -> Response:
        if params.get("SignName") != SIGN_NAME:
            return answer(200, "isv.SMS_SIGNATURE_ILLEGAL", "The sign name is not approved.")
        template = params.get("TemplateCode")
        if template not in (TEMPLATE_CODE, LINK_TEMPLATE_CODE):
            return answer(200, "isv.SMS_TEMPLATE_ILLEGAL", "The template is not approved.")
        phones = params.get("PhoneNumbers", "").split(",")
        if not phones or not all(_MAINLAND.match(p) for p in phones):
            return answer(200, "isv.MOBILE_NUMBER_ILLEGAL", "Illegal mobile number.")
        variable = "code" if template == TEMPLATE_CODE else "link"
        try:
            value = str(json.loads(params.get("TemplateParam", ""))[variable])
        except (ValueError, KeyError, TypeError):
            return answer(200, "isv.INVALID_JSON_PARAM", f"TemplateParam is not valid JSON with `{variable}`.")
        if variable == "link" and not is_link(value):
            return answer(200, "isv.INVALID_PARAMETERS", "The link is not a valid URL.")
        for phone in phones:
            if variable == "code":
                outbox.deliver("aliyun", f"+86{phone}", f"【{SIGN_NAME}】您的验证码为 {value}，5分钟内有效。", value)
            else:
                outbox.deliver("aliyun", f"+86{phone}", link_text(SIGN_NAME, value), None)
        return answer(200, "OK", "OK", BizId=f"{int(clock())}^{uuid.uuid4().int % 10**10}")

    return Starlette(routes=[Route("/", rpc, methods=["GET", "POST"])])
