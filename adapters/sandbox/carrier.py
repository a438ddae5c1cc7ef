"""Aliyun Dytnsapi emulator: `ThreeElementsVerification` (2020-02-17) against the seeded population.

The RPC v1 signature is checked with the emulators' own code (adapters/sandbox/wire/aliyun_rpc.py), not with
the adapter's `adapters.rpc_v1`, so a canonicalisation bug in the adapter cannot be mirrored by the emulator. A phone in the
dataset is registered to its person: the same name and ID number are consistent (1), others not (0); a phone
outside the dataset has no record (2). Refusals use Aliyun's codes: `InvalidAccessKeyId.NotFound`,
`SignatureDoesNotMatch`, `SignatureNonceUsed`, `InvalidTimeStamp.Expired`, `AuthCodeNotExist`,
`EncyrptTypeIllegal`, `MobileNumberIllegal`, `MobileNumberTypeNotMatch` (virtual operators).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.sandbox import dataset
from adapters.sandbox.state import Store
from adapters.sandbox.wire import aliyun_rpc

__all__ = ["carrier_app", "AUTH_CODE", "CARRIERS"]

AUTH_CODE = "SANDBOX3EL0001"
MAX_SKEW_S = 15 * 60
VIRTUAL = ("170", "171", "162", "165")
CARRIERS = {"138": "中国移动", "139": "中国移动", "130": "中国联通", "133": "中国电信"}


def _hashed(value: str, mask: str) -> str:
    if mask == "NORMAL":
        return value
    algo = hashlib.md5 if mask == "MD5" else hashlib.sha256
    return algo(value.encode()).hexdigest()


def carrier_app(store: Store, access_key_id: str, secret: str, clock: Callable[[], float] = time.time) -> Starlette:
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
        if not store.add_once(f"dytns-nonce:{params.get('SignatureNonce', '')}", 2 * MAX_SKEW_S):
            return answer(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        if params.get("Action") != "ThreeElementsVerification" or params.get("Version") != "2020-02-17":
            return answer(
                404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
            )
        return three_elements(params)

    def three_elements(params: dict[str, str]) -> Response:
        if params.get("AuthCode") != AUTH_CODE:
            return answer(400, "AuthCodeNotExist", "The label application form does not exist.")
        mask = params.get("Mask", "")
        if mask not in ("NORMAL", "MD5", "SHA256"):
            return answer(400, "EncyrptTypeIllegal", "The encryption type is illegal.")
        number = params.get("InputNumber", "").lower()
        if mask == "NORMAL":
            if not (len(number) == 11 and number.isdigit() and number[0] == "1"):
                return answer(400, "MobileNumberIllegal", "Wrong format of phone number")
            if number.startswith(VIRTUAL):
                return answer(400, "MobileNumberTypeNotMatch", "Virtual operator numbers are not supported.")
        holder = next((p for p in dataset.PEOPLE if _hashed(p.phone[3:], mask) == number), None)
        if holder is None:
            return answer(200, "OK", "OK", Data={"IsConsistent": 2, "BasicCarrier": ""})
        same = (
            _hashed(holder.id_number, mask) == params.get("CertCode", "").lower()
            and _hashed(holder.name, mask) == params.get("Name", "").lower()
        )
        carrier = CARRIERS.get(holder.phone[3:6], "中国移动")
        return answer(200, "OK", "OK", Data={"IsConsistent": 1 if same else 0, "BasicCarrier": carrier})

    return Starlette(routes=[Route("/", rpc, methods=["GET", "POST"])])
