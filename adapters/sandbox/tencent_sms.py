"""Tencent Cloud SMS emulator: `SendSms` and `PullSmsSendStatus`, TC3-HMAC-SHA256 checked as Tencent checks it
(over the Host and Content-Type actually received). Errors use Tencent's codes inside `Response.Error`."""

from __future__ import annotations

import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.sandbox.outbox import Outbox, is_link, link_text
from adapters.sandbox.wire import tc3

__all__ = ["tencent_sms_app", "SDK_APP_ID", "SIGN_NAME", "TEMPLATE_ID", "LINK_TEMPLATE_ID"]

SDK_APP_ID = "1400000001"
SIGN_NAME = "一网沙箱"
TEMPLATE_ID = "100001"
LINK_TEMPLATE_ID = "100002"
MAX_SKEW_S = 300
_E164_CN = re.compile(r"^\+861[3-9]\d{9}$")


def tencent_sms_app(
    outbox: Outbox, secret_id: str, secret_key: str, clock: Callable[[], float] = time.time
) -> Starlette:
    def reply(result: dict[str, Any]) -> Response:
        return JSONResponse({"Response": {**result, "RequestId": str(uuid.uuid4())}})

    def error(code: str, message: str) -> Response:
        return reply({"Error": {"Code": code, "Message": message}})

    async def api(request: Request) -> Response:
        body = await request.body()
        auth = tc3.credential(request.headers.get("authorization", ""))
        if auth is None:
            return error("AuthFailure.InvalidAuthorization", "Authorization is not a TC3-HMAC-SHA256 header.")
        if auth.secret_id != secret_id:
            return error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        try:
            ts = int(request.headers.get("x-tc-timestamp", ""))
        except ValueError:
            return error("InvalidParameter", "X-TC-Timestamp is missing or not a number.")
        if abs(ts - clock()) > MAX_SKEW_S:
            return error("AuthFailure.SignatureExpire", "The signature has expired.")
        if auth.service != "sms" or auth.date != tc3.date_of(ts):
            return error("AuthFailure.InvalidAuthorization", "Credential scope does not match the request.")
        if not {"content-type", "host"} <= set(auth.signed_headers):
            return error("AuthFailure.InvalidAuthorization", "content-type and host must be signed.")
        try:
            canonical = tc3.canonical_request("POST", "/", "", request.headers, auth.signed_headers, body)
        except KeyError:
            return error("AuthFailure.InvalidAuthorization", "A signed header is missing.")
        expected = tc3.expected(secret_key, ts, "sms", canonical)
        if not hmac.compare_digest(expected, auth.signature):
            return error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if request.headers.get("x-tc-version") != "2021-01-11":
            return error("InvalidParameterValue", "Unsupported X-TC-Version.")
        try:
            params = json.loads(body)
        except ValueError:
            return error("InvalidParameter", "The body is not JSON.")
        action = request.headers.get("x-tc-action")
        if action == "SendSms":
            return send(params)
        if action == "PullSmsSendStatus":
            if params.get("SmsSdkAppId") != SDK_APP_ID:
                return error("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verification failed.")
            return reply({"PullSmsSendStatusSet": []})
        return error("InvalidAction", "The action does not exist.")

    def send(params: dict[str, Any]) -> Response:
        if params.get("SmsSdkAppId") != SDK_APP_ID:
            return error("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verification failed.")
        if params.get("SignName") != SIGN_NAME:
            return error("FailedOperation.SignatureIncorrectOrUnapproved", "Signature is incorrect or unapproved.")
        template = params.get("TemplateId")
        if template not in (TEMPLATE_ID, LINK_TEMPLATE_ID):
            return error("FailedOperation.TemplateIncorrectOrUnapproved", "Template is incorrect or unapproved.")
        values = params.get("TemplateParamSet") or []
        code = str(values[0]) if values else ""
        if template == LINK_TEMPLATE_ID and not is_link(code):
            return error("InvalidParameterValue.TemplateParameterFormatError", "The link is not a valid URL.")
        statuses = []
        for phone in params.get("PhoneNumberSet") or []:
            if not isinstance(phone, str) or not _E164_CN.match(phone):
                statuses.append(
                    {
                        "SerialNo": "",
                        "PhoneNumber": str(phone),
                        "Fee": 0,
                        "SessionContext": "",
                        "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                        "Message": "incorrect phone number",
                        "IsoCode": "",
                    }
                )
                continue
            if template == LINK_TEMPLATE_ID:
                serial = outbox.deliver("tencent", phone, link_text(SIGN_NAME, code), None)
            else:
                serial = outbox.deliver("tencent", phone, f"【{SIGN_NAME}】您的验证码为 {code}，5分钟内有效。", code)
            statuses.append(
                {
                    "SerialNo": f"2028:{serial}",
                    "PhoneNumber": phone,
                    "Fee": 1,
                    "SessionContext": "",
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
            )
        return reply({"SendStatusSet": statuses})

    return Starlette(routes=[Route("/", api, methods=["POST"])])
