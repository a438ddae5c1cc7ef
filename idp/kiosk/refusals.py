"""Why a kiosk request is refused: one reason slug, one clear message (Chinese, then English), an RFC 6749
error code and an HTTP status. No message repeats what the card or the camera gave (no personal data)."""

from __future__ import annotations

from dataclasses import dataclass

# reason → (RFC 6749 §5.2 error code, HTTP status, message)
REASONS: dict[str, tuple[str, int, str]] = {
    "not_a_kiosk": ("unauthorized_client", 403, "该客户端不是已登记的自助终端。This client is not a registered kiosk."),
    "kiosk_revoked": ("unauthorized_client", 403, "该自助终端已停用。This kiosk has been revoked."),
    "wrong_hall": (
        "unauthorized_client",
        403,
        "该自助终端未登记在此大厅。This kiosk is not registered to this service hall.",
    ),
    "bad_request": ("invalid_request", 400, "请求格式不正确。The request is malformed."),
    "bad_frames": (
        "invalid_request",
        400,
        "摄像头画面数量、大小或尺寸超出限制。Too many, too large or too big camera frames.",
    ),
    "bad_chip_photo": ("invalid_request", 400, "芯片照片缺失或过大。The chip photo is missing or too large."),
    "no_challenge": (
        "invalid_grant",
        400,
        "活体检测挑战无效、已使用或已过期，请重新开始。The liveness challenge is unknown, used or expired: start again.",
    ),
    "card_name": ("invalid_grant", 400, "证件姓名无法识别。The name read from the card is not usable."),
    "card_format": ("invalid_grant", 400, "证件数据无法识别。The card data is not usable."),
    "card_number_format": ("invalid_grant", 400, "证件号码格式不正确。The card's ID number is malformed."),
    "card_number_checksum": (
        "invalid_grant",
        400,
        "证件号码校验位不正确。The card's ID number fails its check character.",
    ),
    "card_validity_format": ("invalid_grant", 400, "证件有效期无法识别。The card's validity period is not usable."),
    "card_expired": ("invalid_grant", 400, "证件已过有效期。The ID card has expired."),
    "card_not_yet_valid": ("invalid_grant", 400, "证件尚未生效。The ID card is not valid yet."),
    "registry_mismatch": (
        "invalid_grant",
        400,
        "人口库中没有与该证件相符的记录。The population registry holds no match for this card.",
    ),
    "liveness_failed": (
        "invalid_grant",
        400,
        "活体检测未通过，请按提示完成动作。Liveness check failed: follow the actions shown.",
    ),
    "face_mismatch": ("invalid_grant", 400, "人脸与证件照片不符。The face does not match the card's photo."),
    "face_unusable": (
        "invalid_grant",
        400,
        "无法识别人脸，请正对摄像头重试。No usable face: face the camera and try again.",
    ),
    "chip_photo_unusable": ("invalid_grant", 400, "芯片照片无法识别。The chip photo shows no single usable face."),
    "binding_refused": (
        "invalid_grant",
        409,
        "该证件号码已由他人以同等或更强的方式绑定，请到服务窗口处理。The ID number is bound to another account by an "
        "equal or stronger proof: a service counter can resolve this.",
    ),
    "too_many_attempts": (
        "invalid_request",
        429,
        "核验尝试次数过多，请稍后再试。Too many verification attempts: try again later.",
    ),
    "provider_down": (
        "temporarily_unavailable",
        503,
        "核验服务暂时不可用，请稍后再试。The verification service is unavailable: try again later.",
    ),
}


@dataclass(frozen=True)
class Refusal:
    reason: str
    retry_after: int | None = None

    @property
    def error(self) -> str:
        return REASONS[self.reason][0]

    @property
    def status(self) -> int:
        return REASONS[self.reason][1]

    @property
    def message(self) -> str:
        return REASONS[self.reason][2]

    def body(self) -> dict[str, str]:
        """RFC 6749 §5.2 error JSON, with the reason as a machine-readable extra member."""
        return {"error": self.error, "error_description": self.message, "reason": self.reason}


def refuse(reason: str, retry_after: int | None = None) -> Refusal:
    if reason not in REASONS:
        raise ValueError(f"unknown refusal {reason}")
    return Refusal(reason, retry_after)
