"""Page language: Simplified Chinese by default, English by `?lang=en`, a cookie, or `Accept-Language`."""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"

MESSAGES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "app_name": "一网通办 统一身份认证",
        "sandbox_banner": "沙箱模式：短信、银联、支付宝、人口库和人脸比对均为模拟，数据仅供测试。",
        "welcome": "欢迎使用一网统一身份认证与电子签章服务",
        "intro": "一个号码申请，一个窗口受理，一网办结。",
        "status": "服务状态",
        "healthy": "运行中",
        "ready": "数据库就绪",
        "not_ready": "尚未就绪",
        "switch": "English",
        "error_title": "出错了",
        "back_home": "返回首页",
    },
    "en": {
        "app_name": "Yiwang Unified Identity",
        "sandbox_banner": "Sandbox mode: SMS, UnionPay, Alipay, the population registry and face matching are "
        "emulated; data is for testing only.",
        "welcome": "Welcome to Yiwang, unified identity and e-signature",
        "intro": "One number to apply, one window to accept, one network to finish.",
        "status": "Service status",
        "healthy": "running",
        "ready": "database ready",
        "not_ready": "not ready",
        "switch": "中文",
        "error_title": "Something went wrong",
        "back_home": "Back to the home page",
    },
}


def pick_language(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get("lang")
    if wanted in LANGUAGES:
        return wanted
    if wanted and wanted.lower().startswith("en"):
        return "en"
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


def messages(lang: str) -> dict[str, str]:
    return MESSAGES.get(lang, MESSAGES[DEFAULT])
