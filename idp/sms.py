"""Sending SMS one-time codes. In sandbox mode the gateway is an outbox in the database (so every worker
sees it), readable at `/sandbox/sms/outbox`; otherwise a provider adapter from `adapters/`."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.masking import mask
from idp.oauth.models import SandboxSms
from idp.protect import Protector

TEXT = {
    "zh-CN": "【一网通办】您的验证码为 {code}，5 分钟内有效。请勿告诉他人。",
    "en": "[Yiwang] Your verification code is {code}. It expires in 5 minutes. Never share it.",
}


def message(code: str, lang: str) -> str:
    return TEXT.get(lang, TEXT["zh-CN"]).format(code=code)


class SmsGateway(Protocol):
    def send(self, session: Session, phone_e164: str, text: str) -> None: ...


class SandboxOutbox:
    """Keeps what it 'sends'; the phone only as a blind index and a mask."""

    def __init__(self, protector: Protector) -> None:
        self._protector = protector

    def send(self, session: Session, phone_e164: str, text: str) -> None:
        session.add(
            SandboxSms(
                phone_bidx=self._protector.index("phone", phone_e164),
                phone_masked=mask(phone_e164, "phone"),
                text=text,
            )
        )

    def read(self, session: Session, phone_e164: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(SandboxSms)
            .where(SandboxSms.phone_bidx == self._protector.index("phone", phone_e164))
            .order_by(SandboxSms.id.desc())
            .limit(limit)
        )
        return [{"phone": r.phone_masked, "text": r.text, "sent_at": r.sent_at.isoformat()} for r in rows]
