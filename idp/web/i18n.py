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
        "login_title": "登录",
        "login_for": "登录以继续使用：{client}",
        "phone_label": "手机号码",
        "phone_hint": "中国大陆手机号，11 位",
        "send_code": "获取验证码",
        "code_title": "输入验证码",
        "code_sent": "验证码已发送至 {phone}，5 分钟内有效。",
        "code_label": "6 位验证码",
        "verify": "登录",
        "resend": "重新获取验证码",
        "totp_title": "动态口令",
        "totp_label": "身份验证器中的 6 位动态口令",
        "bad_phone": "请输入正确的中国大陆手机号码。",
        "too_many_sms": "发送过于频繁，请稍后再试。",
        "locked": "尝试次数过多，该号码已暂时锁定，请于 {until} 后再试。",
        "wrong_code": "验证码不正确，请重新输入。",
        "code_expired": "验证码已失效，请重新获取。",
        "consent_title": "授权确认",
        "consent_intro": "「{client}」请求获取以下信息：",
        "consent_note": "你可以随时在“我的授权”中撤销。",
        "approve": "同意并继续",
        "deny": "拒绝",
        "logout_title": "退出登录",
        "logout_confirm": "确定要退出一网统一身份认证吗？所有已登录的应用将一并退出。",
        "logout_yes": "退出",
        "logged_out": "你已安全退出。",
        "consents_title": "我的授权",
        "revoke": "撤销授权",
        "no_consents": "你尚未授权任何应用。",
        "totp_enrol_title": "绑定身份验证器",
        "totp_enrol_intro": "在身份验证器应用中添加以下密钥，然后输入它显示的 6 位口令。",
        "confirm": "确认",
        "totp_enrolled": "身份验证器已绑定。",
        "please_sign_in": "请先登录。",
        "sms_down": "短信服务暂时不可用。请稍后再试，或使用其他方式登录。",
        "provider_down": "核验服务暂时不可用。请稍后再试，或选择其他方式。",
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
        "login_title": "Sign in",
        "login_for": "Sign in to continue to {client}",
        "phone_label": "Mobile number",
        "phone_hint": "Mainland China mobile, 11 digits",
        "send_code": "Send code",
        "code_title": "Enter the code",
        "code_sent": "We sent a code to {phone}. It is valid for 5 minutes.",
        "code_label": "6-digit code",
        "verify": "Sign in",
        "resend": "Send a new code",
        "totp_title": "Authenticator code",
        "totp_label": "6-digit code from your authenticator app",
        "bad_phone": "Please enter a valid mainland China mobile number.",
        "too_many_sms": "Too many codes requested. Please try again later.",
        "locked": "Too many attempts: this number is locked until {until}.",
        "wrong_code": "That code is not right. Please try again.",
        "code_expired": "That code has expired. Please request a new one.",
        "consent_title": "Allow access",
        "consent_intro": "{client} asks for:",
        "consent_note": "You can withdraw this at any time under “My authorisations”.",
        "approve": "Allow and continue",
        "deny": "Deny",
        "logout_title": "Sign out",
        "logout_confirm": "Sign out of Yiwang? You will be signed out of every application too.",
        "logout_yes": "Sign out",
        "logged_out": "You have signed out.",
        "consents_title": "My authorisations",
        "revoke": "Withdraw",
        "no_consents": "You have not authorised any application.",
        "totp_enrol_title": "Set up an authenticator",
        "totp_enrol_intro": "Add this key to your authenticator app, then enter the 6-digit code it shows.",
        "confirm": "Confirm",
        "totp_enrolled": "Your authenticator is set up.",
        "please_sign_in": "Please sign in first.",
        "sms_down": "The SMS service is unavailable right now. Try again later, or use another way to sign in.",
        "provider_down": "The verification service is unavailable right now. Try again later, or choose another method.",
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
