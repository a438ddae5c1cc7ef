"""UnionPay ACP 5.1.0 bank-card 4-element verification (txnType 72, txnSubType 01, bizType 000401).

`verify` sends one signed back-end request. When the answer is `03`/`04`/`05` (outcome unknown), or when the
request may have been sent but no answer came back, it asks `queryTrans.do` about the same orderId, a bounded
number of times with growing waits, all inside one deadline. Queries are idempotent; the verification itself
is never re-sent. Every response's `signPubKeyCert` is checked against the configured UnionPay root and middle
certificates, its signature verified, and its orderId compared with ours.

respCode → result: 00 matched; 60-79 (card or cardholder elements wrong) not matched; 03/04/05 query again;
06/37/38/39 (busy, too frequent, risk control, outside hours) undecided; anything else is a ProviderError.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters import acp
from adapters.base import AuditHook, BankCardResult, CheckResult
from adapters.config import UnionPayConfig
from adapters.errors import AdapterError, InvalidResponse, ProviderError, ProviderUnavailable
from adapters.masking import mask_card, mask_id_number, mask_name, mask_phone
from adapters.resilience import classify_status
from adapters.transport import HttpAdapter

__all__ = ["UnionPayVerifier", "BACK_TRANS_PATH", "QUERY_PATH", "PENDING", "UNDECIDED"]

BACK_TRANS_PATH = "/gateway/api/backTransReq.do"
QUERY_PATH = "/gateway/api/queryTrans.do"
PENDING = frozenset({"03", "04", "05"})
UNDECIDED = frozenset({"06", "37", "38", "39"})
CHINA = timezone(timedelta(hours=8))

MESSAGES = {
    "00": "the four elements match",
    "03": "timed out at UnionPay; outcome unknown",
    "04": "outcome unknown",
    "05": "accepted, not finished",
    "06": "system busy",
    "34": "no such transaction",
    "37": "too frequent",
    "38": "UnionPay risk control",
    "39": "outside service hours",
    "61": "invalid card number",
    "66": "cardholder identity or phone does not match",
}


def _not_matched(code: str) -> bool:
    return code.isdigit() and 60 <= int(code) <= 79


class UnionPayVerifier(HttpAdapter):
    provider = "unionpay"

    def __init__(
        self,
        config: UnionPayConfig,
        on_call: AuditHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        super().__init__(config.base_url, config.http, on_call, transport)
        self.config = config
        self._clock = clock
        self._sleep = sleep
        key = serialization.load_pem_private_key(config.sign_key_pem.get_secret_value().encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the UnionPay signing key must be RSA")
        self._key = key
        self._cert_id = acp.cert_id(x509.load_pem_x509_certificate(config.sign_cert_pem.encode()))
        self._encrypt_cert = x509.load_pem_x509_certificate(config.encrypt_cert_pem.encode())
        self._root = x509.load_pem_x509_certificate(config.root_cert_pem.encode())
        self._middle = x509.load_pem_x509_certificate(config.middle_cert_pem.encode())
        self._verified: dict[str, rsa.RSAPublicKey] = {}

    def _txn_time(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).astimezone(CHINA).strftime("%Y%m%d%H%M%S")

    def _common(self) -> dict[str, str]:
        return {
            "version": "5.1.0",
            "encoding": "UTF-8",
            "signMethod": "01",
            "accessType": "0",
            "merId": self.config.mer_id,
        }

    def verification_request(
        self, name: str, id_number: str, card_number: str, phone: str, order_id: str, txn_time: str
    ) -> dict[str, str]:
        fields = {
            **self._common(),
            "txnType": "72",
            "txnSubType": "01",
            "bizType": "000401",
            "channelType": "07",
            "accType": "01",
            "orderId": order_id,
            "txnTime": txn_time,
            "accNo": acp.encrypt_sensitive(card_number, self._encrypt_cert),
            "encryptCertId": acp.cert_id(self._encrypt_cert),
            "customerInfo": acp.customer_info(id_number, name, phone.removeprefix("+86"), self._encrypt_cert),
        }
        return acp.sign_fields(fields, self._key, self._cert_id)

    def query_request(self, order_id: str, txn_time: str) -> dict[str, str]:
        fields = {
            **self._common(),
            "txnType": "00",
            "txnSubType": "00",
            "bizType": "000000",
            "orderId": order_id,
            "txnTime": txn_time,
        }
        return acp.sign_fields(fields, self._key, self._cert_id)

    def _public_key(self, pem: str) -> rsa.RSAPublicKey:
        key = self._verified.get(pem)
        if key is None:
            try:
                key = acp.verify_sign_cert(pem, self._root, self._middle, self.config.strict_cn)
            except acp.CertificateRejected as exc:
                raise InvalidResponse(self.provider, str(exc)) from exc
            self._verified = {pem: key}  # UnionPay rotates rarely: keep the last one
        return key

    async def _post(self, path: str, fields: dict[str, str]) -> dict[str, str]:
        response = await self.client.post(self.url(path), data=fields)
        classify_status(self.provider, response)
        try:
            answer = acp.parse_kv(response.text)
        except ValueError as exc:
            raise InvalidResponse(self.provider, "unparseable response") from exc
        if "signature" not in answer:
            # UnionPay leaves the signature off only when it could not read the request at all.
            raise ProviderError(
                self.provider, answer.get("respCode", str(response.status_code)), answer.get("respMsg", "")
            )
        if not acp.verify_fields(answer, self._public_key(answer.get("signPubKeyCert", ""))):
            raise InvalidResponse(self.provider, "response signature does not verify")
        if answer.get("orderId") not in (None, fields["orderId"]):
            raise InvalidResponse(self.provider, "response is about another order")
        return answer

    def _result(self, code: str, message: str, order_id: str) -> BankCardResult | None:
        """The final result for `code`, or None when it means "ask again"."""
        text = MESSAGES.get(code, message)
        if code == "00":
            return BankCardResult(True, code, text, order_id)
        if _not_matched(code):
            return BankCardResult(False, code, text, order_id)
        if code in PENDING:
            return None
        if code in UNDECIDED:
            return BankCardResult(None, code, text, order_id)
        raise ProviderError(self.provider, code, message)

    async def _query_until_settled(self, order_id: str, txn_time: str, last_code: str) -> BankCardResult:
        answered = last_code != ""
        for attempt in range(self.config.query_attempts):
            await self._sleep(self.config.query_interval_s * 2**attempt)
            try:
                answer = await self._post(QUERY_PATH, self.query_request(order_id, txn_time))
            except (httpx.TransportError, ProviderUnavailable):
                continue
            answered = True
            if answer.get("respCode") == "34":  # not (yet) known there
                last_code = "34"
                continue
            if answer.get("respCode") != "00":
                raise ProviderError(self.provider, answer.get("respCode", ""), answer.get("respMsg", ""))
            last_code = answer.get("origRespCode", "")
            result = self._result(last_code, answer.get("origRespMsg", ""), order_id)
            if result is not None:
                return result
        if not answered:
            raise ProviderUnavailable(self.provider, "no answer to the verification or to any query")
        return BankCardResult(None, last_code, f"undecided after {self.config.query_attempts} queries", order_id)

    async def verify(self, name: str, id_number: str, card_number: str, phone: str) -> BankCardResult:
        order_id = "YW" + uuid.uuid4().hex[:30]
        txn_time = self._txn_time()

        async def call() -> BankCardResult:
            request = self.verification_request(name, id_number, card_number, phone, order_id, txn_time)
            try:
                answer = await self._post(BACK_TRANS_PATH, request)
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError):
                # The request may have reached UnionPay: find out instead of guessing (or re-sending).
                return await self._query_until_settled(order_id, txn_time, "")
            code = answer.get("respCode", "")
            result = self._result(code, answer.get("respMsg", ""), order_id)
            return result if result is not None else await self._query_until_settled(order_id, txn_time, code)

        def outcome(r: BankCardResult) -> tuple[str, dict[str, Any]]:
            kind = "ok" if r.matched else "refused" if r.matched is False else "unknown"
            return kind, {"code": r.code}

        detail = {
            "name": mask_name(name),
            "id_number": mask_id_number(id_number),
            "card": mask_card(card_number),
            "phone": mask_phone(phone),
            "order_id": order_id,
        }
        return await self.guard.run("verify_4_elements", call, detail=detail, outcome=outcome)

    async def check(self) -> CheckResult:
        """Query an order that does not exist: a signed `34` proves both directions of signing work."""
        started = time.perf_counter()
        order_id = "YWCHECK" + uuid.uuid4().hex[:20]
        try:
            answer = await self.guard.run(
                "check",
                lambda: self._post(QUERY_PATH, self.query_request(order_id, self._txn_time())),
                retry=self.retry,
            )
            ok = answer.get("respCode") in ("34", "00")
            detail = f"signed answer {answer.get('respCode')}, signer certificate verified"
        except AdapterError as exc:
            ok, detail = False, exc.message
        return CheckResult("unionpay", ok, self.base_url, detail, round((time.perf_counter() - started) * 1000, 1))
