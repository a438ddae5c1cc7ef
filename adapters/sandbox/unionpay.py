"""UnionPay ACP 5.1.0 emulator: real-name verification (72/01/000401) and transaction query (00/00/000000).

Requests are checked as UnionPay would: the merchant's registered certificate (by merId and certId) verifies
the signature (`11` otherwise); accNo and the phone inside customerInfo are decrypted with the encryption key.
Every answer is signed with the emulated UnionPay signing key and carries its certificate in `signPubKeyCert`.
Seeded cards follow `dataset.Person.behaviour`; unknown cards get `61`, wrong elements `66`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters import acp
from adapters.sandbox import dataset
from adapters.sandbox.keys import SandboxKeys
from adapters.sandbox.state import Store
from adapters.sandbox.wire import unionpay_acp

__all__ = ["unionpay_app"]

ORDER_TTL_S = 24 * 3600
ECHO = (
    "version",
    "encoding",
    "signMethod",
    "txnType",
    "txnSubType",
    "bizType",
    "accessType",
    "merId",
    "orderId",
    "txnTime",
)
MESSAGES = {
    "00": "成功[0000000]",
    "03": "交易通讯超时，请发起查询交易",
    "05": "交易已受理，请稍后查询交易结果",
    "11": "验证签名失败",
    "12": "重复交易",
    "13": "报文交易要素缺失",
    "34": "查无此交易",
    "38": "银联风险受限",
    "61": "输入的卡号无效，请确认后输入",
    "66": "持卡人身份信息或手机号输入不正确",
}


def _rsa_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def unionpay_app(store: Store, keys: SandboxKeys, clock: Callable[[], float] = time.time) -> Starlette:
    sign_key = _rsa_private(keys.unionpay_sign_key)
    sign_cert_pem = keys.unionpay_sign_cert
    encrypt_key = _rsa_private(keys.unionpay_encrypt_key)
    encrypt_cert_id = acp.cert_id(x509.load_pem_x509_certificate(keys.unionpay_encrypt_cert.encode()))
    merchant_cert = x509.load_pem_x509_certificate(keys.merchant_cert.encode())
    merchants = {(keys.unionpay_mer_id, acp.cert_id(merchant_cert)): merchant_cert.public_key()}

    def respond(request_fields: dict[str, str], code: str, **extra: str) -> Response:
        fields = {k: request_fields[k] for k in ECHO if k in request_fields}
        fields.update(respCode=code, respMsg=MESSAGES.get(code, "交易失败"), signPubKeyCert=sign_cert_pem, **extra)
        return PlainTextResponse(acp.format_kv(unionpay_acp.sign(fields, sign_key)))

    async def read(request: Request) -> tuple[dict[str, str], str | None]:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        key = merchants.get((fields.get("merId", ""), fields.get("certId", "")))
        if key is None or not isinstance(key, rsa.RSAPublicKey) or not unionpay_acp.verified(fields, key):
            return fields, "11"
        if fields.get("version") != "5.1.0" or fields.get("signMethod") != "01" or not fields.get("orderId"):
            return fields, "13"
        return fields, None

    def settle(person: dataset.Person | None, elements_match: bool) -> str:
        if person is None:
            return "61"
        if not elements_match:
            return "66"
        return {"risk": "38", "pending": "03", "stuck": "05"}.get(person.behaviour, "00")

    async def back_trans(request: Request) -> Response:
        fields, refused = await read(request)
        if refused:
            return respond(fields, refused)
        if (fields.get("txnType"), fields.get("txnSubType"), fields.get("bizType")) != ("72", "01", "000401"):
            return respond(fields, "13")
        try:
            card = acp.decrypt_sensitive(fields["accNo"], encrypt_key) if "encryptCertId" in fields else fields["accNo"]
            if fields.get("encryptCertId", encrypt_cert_id) != encrypt_cert_id:
                raise ValueError("unknown encryption certificate")
            info = acp.parse_customer_info(fields["customerInfo"], encrypt_key)
        except (KeyError, ValueError):
            return respond(fields, "13")
        order_key = f"unionpay-order:{fields['merId']}:{fields['orderId']}:{fields['txnTime']}"
        if store.get(order_key) is not None:
            return respond(fields, "12")
        person = dataset.by_card(card)
        matches = person is not None and (
            info.get("certifTp") == "01"
            and info.get("certifId", "").upper() == person.id_number
            and info.get("customerNm") == person.name
            and "+86" + info.get("phoneNo", "").removeprefix("+86") == person.phone
        )
        code = settle(person, matches)
        store.put(order_key, {"code": code, "queries": 0, "behaviour": person.behaviour if person else ""}, ORDER_TTL_S)
        return respond(fields, code)

    async def query(request: Request) -> Response:
        fields, refused = await read(request)
        if refused:
            return respond(fields, refused)
        if (fields.get("txnType"), fields.get("txnSubType")) != ("00", "00"):
            return respond(fields, "13")
        order_key = f"unionpay-order:{fields['merId']}:{fields['orderId']}:{fields.get('txnTime', '')}"
        order = store.get(order_key)
        if order is None:
            return respond(fields, "34")
        order["queries"] += 1
        if order["behaviour"] == "pending" and order["code"] in ("03", "04", "05"):
            order["code"] = "05" if order["queries"] == 1 else "00"
        elif order["behaviour"] == "stuck":
            order["code"] = "05"
        store.put(order_key, order, ORDER_TTL_S)
        queried_at = datetime.fromtimestamp(clock(), UTC).strftime("%Y%m%d%H%M%S")
        return respond(
            fields,
            "00",
            origRespCode=order["code"],
            origRespMsg=MESSAGES.get(order["code"], ""),
            traceTime=queried_at[4:],
        )

    return Starlette(
        routes=[
            Route("/gateway/api/backTransReq.do", back_trans, methods=["POST"]),
            Route("/gateway/api/queryTrans.do", query, methods=["POST"]),
        ]
    )
