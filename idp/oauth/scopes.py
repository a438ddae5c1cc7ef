"""The scopes we offer, what each releases, and how a consent page describes it (zh-CN and English)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    name: str
    claims: tuple[str, ...]
    zh: str
    en: str
    restricted: bool = False  # only for clients an operator granted it


SCOPES: dict[str, Scope] = {
    s.name: s
    for s in (
        Scope(
            "openid",
            ("sub",),
            "确认你的身份（一个专属于该应用的标识）",
            "Confirm who you are (an identifier unique to this app)",
        ),
        Scope(
            "profile",
            ("nickname", "updated_at"),
            "你的昵称（遮蔽后的姓名，如 张**）",
            "Your nickname (your masked name, e.g. 张**)",
        ),
        Scope("phone", ("phone_number", "phone_number_verified"), "你的手机号码", "Your mobile phone number"),
        Scope(
            "real_name",
            ("name", "real_name_verified"),
            "你的真实姓名及实名核验状态",
            "Your real name and whether it has been verified",
        ),
        Scope(
            "id_card",
            ("id_card_number", "id_card_type"),
            "你的身份证件号码（仅限经运营方授权的部门）",
            "Your ID card number (only for departments an operator authorised)",
            restricted=True,
        ),
        Scope(
            "org", ("organisations",), "你所属的单位及你在其中的角色", "The organisations you belong to and your roles"
        ),
        Scope("sign", (), "请你确认并签署电子文件", "Ask you to confirm and sign documents"),
        Scope("seal", (), "使用本单位的电子印章（机构调用）", "Use your organisation's e-seals (machine clients)"),
        Scope(
            "offline_access",
            (),
            "在你离开后继续保持访问（刷新令牌）",
            "Keep access while you are away (refresh tokens)",
        ),
    )
}

SUPPORTED = tuple(SCOPES)
CLAIMS_SUPPORTED = tuple(sorted({c for s in SCOPES.values() for c in s.claims} | {"sid", "acr", "amr", "auth_time"}))


def parse(scope: str | None) -> list[str]:
    """Scopes in request order, without duplicates."""
    seen: list[str] = []
    for item in (scope or "").split():
        if item not in seen:
            seen.append(item)
    return seen


def describe(scope_names: list[str], lang: str) -> list[tuple[str, str]]:
    return [(n, SCOPES[n].zh if lang.startswith("zh") else SCOPES[n].en) for n in scope_names if n in SCOPES]
