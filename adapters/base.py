"""The ports: one small protocol per kind of external provider, and the results they return.

Results are frozen dataclasses; a negative business answer is a result (`matched=False`), while "no usable
answer" is an exception (`ProviderUnavailable`, see `adapters.errors`). Every call is async except the face
matcher, which is CPU-bound: call it through `anyio.to_thread.run_sync` from a request handler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AuditHook",
    "CheckResult",
    "SendResult",
    "SmsGateway",
    "BankCardResult",
    "BankCardVerifier",
    "CarrierResult",
    "CarrierVerifier",
    "AlipayToken",
    "AlipayUserInfo",
    "AlipayClient",
    "RegistryResult",
    "PopulationRegistry",
    "FaceEncoding",
    "FaceLandmarks",
    "FaceMatch",
    "FaceMatcher",
    "Point",
]

AuditHook = Callable[[str, str, str, dict[str, Any]], None]
"""`on_call(provider, operation, outcome, detail)`, called once per provider call, personal data already masked.

outcome: `ok` (the provider said yes / did it), `refused` (a negative business answer: mismatch, not passed),
`unknown` (the provider could not decide yet), `error` (the provider refused the call: ProviderError),
`invalid_response` (signature or format wrong), `unavailable` (network, time-out, 5xx, circuit open).
detail always has `latency_ms` and `attempts`; the rest depends on the operation (masked identifiers, codes).
"""


@dataclass(frozen=True)
class CheckResult:
    """One line of `yiwang adapters check`."""

    name: str
    ok: bool
    target: str
    detail: str
    latency_ms: float = 0.0


@dataclass(frozen=True)
class SendResult:
    provider: str
    message_id: str
    request_id: str = ""


class SmsGateway(Protocol):
    provider: str

    async def send_code(self, phone_e164: str, code: str) -> SendResult:
        """Send a one-time code; raises ProviderError when the provider refuses, ProviderUnavailable when down."""
        ...

    async def send_link(self, phone_e164: str, link: str) -> SendResult:
        """Send a link to a page that asks the person something (CIBA approval), with its own approved template."""
        ...

    async def check(self) -> CheckResult: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class BankCardResult:
    """`matched`: True all four elements match, False they do not (or the card is invalid), None undecided."""

    matched: bool | None
    code: str
    message: str
    order_id: str = ""


class BankCardVerifier(Protocol):
    provider: str

    async def verify(self, name: str, id_number: str, card_number: str, phone: str) -> BankCardResult: ...

    async def check(self) -> CheckResult: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class CarrierResult:
    """Carrier three-element check: `matched` True when the phone is registered at its carrier to that name and
    ID number, False when it is not, None when the carrier holds no record (nothing proven either way)."""

    matched: bool | None
    code: str
    carrier: str = ""


class CarrierVerifier(Protocol):
    provider: str

    async def verify(self, name: str, id_number: str, phone_e164: str) -> CarrierResult: ...

    async def check(self) -> CheckResult: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class AlipayToken:
    """What `alipay.system.oauth.token` returns: the account (user_id and/or open_id) and its access token."""

    user_id: str | None
    open_id: str | None
    access_token: str
    expires_in: int
    refresh_token: str | None = None

    @property
    def account(self) -> str:
        """The stable account identifier to bind: open_id where the app uses open ids, else user_id."""
        return self.open_id or self.user_id or ""


@dataclass(frozen=True)
class AlipayUserInfo:
    user_id: str | None
    open_id: str | None
    nick_name: str | None = None
    avatar: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class AlipayClient(Protocol):
    provider: str

    def authorize_url(self, state: str, redirect_uri: str) -> str: ...

    async def exchange_code(self, auth_code: str) -> AlipayToken: ...

    async def user_info(self, access_token: str) -> AlipayUserInfo: ...

    async def certify_initialize(
        self, outer_order_no: str, name: str, id_number: str, return_url: str, biz_code: str = "FACE"
    ) -> str: ...

    def certify_url(self, certify_id: str) -> str: ...

    async def certify_query(self, certify_id: str) -> bool: ...

    async def check(self) -> CheckResult: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RegistryResult:
    """`matched`: name and ID number belong together in the registry. `photo`: the registered photo, if asked
    for and held. `code`: `match`, `mismatch` or `not_found`."""

    matched: bool
    photo: bytes | None
    code: str
    photo_media_type: str | None = None


class PopulationRegistry(Protocol):
    provider: str

    async def verify(self, name: str, id_number: str, include_photo: bool = True) -> RegistryResult: ...

    async def check(self) -> CheckResult: ...

    async def aclose(self) -> None: ...


Point = tuple[float, float]


@dataclass(frozen=True)
class FaceEncoding:
    """A 128-d face template (dlib ResNet). Store it encrypted and apart from identity data."""

    values: tuple[float, ...]

    def to_bytes(self) -> bytes:
        import struct

        return struct.pack(f"<{len(self.values)}d", *self.values)

    @classmethod
    def from_bytes(cls, data: bytes) -> FaceEncoding:
        import struct

        if len(data) % 8:
            raise ValueError("a face encoding is a whole number of float64 values")
        return cls(struct.unpack(f"<{len(data) // 8}d", data))


FaceLandmarks = dict[str, list[Point]]
"""face_recognition's 68-point groups: chin, left_eyebrow, right_eyebrow, nose_bridge, nose_tip, left_eye,
right_eye, top_lip, bottom_lip; (x, y) in image pixels."""


@dataclass(frozen=True)
class FaceMatch:
    distance: float
    threshold: float

    @property
    def same_person(self) -> bool:
        return self.distance <= self.threshold


@runtime_checkable
class FaceMatcher(Protocol):
    threshold: float

    def encode(self, image: bytes) -> FaceEncoding:
        """The encoding of the one face in `image`; UnusableImage for unreadable / no face / several faces."""
        ...

    def distance(self, a: FaceEncoding, b: FaceEncoding) -> float: ...

    def compare(self, probe: bytes, reference: FaceEncoding | bytes) -> FaceMatch: ...

    def landmarks(self, image: bytes) -> FaceLandmarks: ...

    def landmarks_all(self, frames: Sequence[bytes]) -> list[FaceLandmarks | None]: ...
