"""The emulators' seeded population: fictitious people, valid in format only.

ID numbers carry correct GB 11643 check characters, phones are in the 138-0013-800x test range, bank cards
start with 62 and pass Luhn. None belongs to a real person. `behaviour` tells the UnionPay emulator how a
card's verification unfolds, so tests (and demo users) can reach every path.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Person", "PEOPLE", "by_id_number", "by_card", "by_alipay_user_id"]


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    id_number: str
    phone: str  # E.164
    card: str
    alipay_user_id: str
    alipay_open_id: str
    nick_name: str
    in_registry: bool = True
    behaviour: str = "normal"
    """UnionPay: `normal` (answer at once); `pending` (03, then a query says 05, then 00); `stuck` (05 for
    ever); `risk` (38, risk control)."""


PEOPLE: tuple[Person, ...] = (
    Person(
        "zhang-wei",
        "张伟",
        "110105198503120012",
        "+8613800138001",
        "6217000000000000012",
        "2088000000000001",
        "074aSandboxOpenId0000000000000000000000000000001",
        "伟",
    ),
    Person(
        "li-na",
        "李娜",
        "31010419900718002X",
        "+8613800138002",
        "6222020000000000026",
        "2088000000000002",
        "074aSandboxOpenId0000000000000000000000000000002",
        "娜娜",
    ),
    Person(
        "wang-fang",
        "王芳",
        "440305197809300035",
        "+8613800138003",
        "6214830000000000031",
        "2088000000000003",
        "074aSandboxOpenId0000000000000000000000000000003",
        "芳",
        behaviour="pending",
    ),
    Person(
        "liu-yang",
        "刘洋",
        "350203199202150041",
        "+8613800138004",
        "6228480000000000042",
        "2088000000000004",
        "074aSandboxOpenId0000000000000000000000000000004",
        "洋",
        behaviour="stuck",
    ),
    Person(
        "chen-jing",
        "陈静",
        "510107198806060050",
        "+8613800138005",
        "6230580000000000054",
        "2088000000000005",
        "074aSandboxOpenId0000000000000000000000000000005",
        "静",
        in_registry=False,
        behaviour="risk",
    ),
    Person(
        "zhao-lei",
        "赵磊",
        "32010219750111006X",
        "+8613800138006",
        "6225880000000000069",
        "2088000000000006",
        "074aSandboxOpenId0000000000000000000000000000006",
        "磊",
    ),
)


def by_id_number(id_number: str) -> Person | None:
    return next((p for p in PEOPLE if p.id_number == id_number.upper()), None)


def by_card(card: str) -> Person | None:
    return next((p for p in PEOPLE if p.card == card), None)


def by_alipay_user_id(user_id: str) -> Person | None:
    return next((p for p in PEOPLE if p.alipay_user_id == user_id), None)
