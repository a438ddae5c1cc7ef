"""No plaintext ID number, phone, name, card number, face template, Alipay account or signed document anywhere
in the database: raw bytes and raw rows, after every path that stores them has run."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from sqlalchemy import Engine, MetaData, inspect, select, text

from idp import audit
from idp.authn import passkeys
from idp.oauth import otp
from idp.proofing import binding, service
from idp.records import organisations, people
from idp.runtime import Runtime
from idp.signing_wiring import open_signing
from idp.staff import roles
from signing import citizen, pades
from signing.sample import one_page_pdf
from tests.kit.authenticator import Authenticator

PERSONS = [
    ("11010519491231002X", "张三丰", "13800138000", "A12345678"),
    ("440524198001010013", "欧阳娜娜", "13912345678", "B23456789"),
]


def _populate(rt: Runtime) -> list[str]:
    """Exercise every path that stores personal data; return the plaintexts that must never be stored."""
    secrets: list[str] = []
    for id_number, name, phone, card in PERSONS:
        person = rt.run(
            lambda s, i=id_number, n=name, p=phone: people.add(s, rt.protector, id_number=i, name=n, phone=p)
        )
        rt.run(lambda s, pid=person.id, c=card: people.bind_ss_card(s, rt.protector, pid, c, actor="op"))
        secrets += [id_number, name, phone, "+86" + phone, card]
    later = rt.run(lambda s: people.register_by_phone(s, rt.protector, "13700001111"))
    rt.run(
        lambda s: people.bind_id_number(
            s,
            rt.protector,
            later.id,
            id_number="310104650712123",
            name="李小龙",
            actor=later.id,
            channel="web",
        )
    )
    secrets += ["13700001111", "+8613700001111", "310104650712123", "310104196507121233", "李小龙"]
    rules = rt.uscc_rules
    rt.run(
        lambda s: organisations.add(
            s,
            rt.protector,
            rules,
            uscc="91110000600037341L",
            name="示例科技有限公司",
            kind="enterprise",
            legal_rep_id_number=PERSONS[0][0],
        )
    )
    rt.run(
        lambda s: organisations.add_member(
            s, rt.protector, rules, uscc="91110000600037341L", id_number=PERSONS[1][0], role="seal_keeper"
        )
    )
    # Login codes: the phone of a one-time-password challenge.
    rt.run(lambda s: otp.issue(s, rt.protector, "+8613500001234", ttl=300, device="d"))
    secrets += ["13500001234", "+8613500001234"]
    # A registry-matched claim, then an ownership proof that takes a number over (a conflict is recorded).
    claimant = rt.run(lambda s: people.register_by_phone(s, rt.protector, "13600002222"))
    rt.run(lambda s: binding.record_claim(s, rt.protector, claimant.id, name="王小明", id_number="110105198001010016"))
    rt.run(
        lambda s: binding.prove(s, rt.protector, claimant.id, id_number=PERSONS[1][0], name=PERSONS[1][1],
                                source="carrier", channel="web", deny_until=0)
    )  # fmt: skip
    secrets += ["13600002222", "+8613600002222", "王小明", "110105198001010016"]
    # Face data: a template (kept encrypted, apart) and the Alipay account bound to the same person.
    template = bytes(range(256)) * 4
    rt.run(lambda s: service.store_face_template(s, rt.protector, claimant.id, template))
    rt.run(lambda s: service.link_alipay(s, rt.protector, claimant.id, "2088000012345678"))
    secrets += ["2088000012345678", template.hex()[:64]]
    # A citizen's pending signature: the document shown to them names them, so it is kept encrypted.
    document = one_page_pdf(("Signed by 11010519491231002X", "Zhang Sanfeng"))
    grant = citizen.Grant(person_id=claimant.id, client_id="rp-demo")
    citizen.start(open_signing(rt), grant, document, pades.Placement())
    secrets += ["Zhang Sanfeng", "Signed by"]
    # A console role granted to an ID number (kept as its blind index).
    rt.run(
        lambda s: roles.grant(s, rt.protector, id_number="110105198001010024", role="counter", hall="city",
                              halls={"city"}, actor="op", channel="cli")
    )  # fmt: skip
    secrets += ["110105198001010024"]
    # A passkey named by its owner with their name and number: the name is stored encrypted.
    rp = passkeys.RelyingParty.of("https://id.example.gov.cn")
    options = rt.run(lambda s: passkeys.registration_options(s, rt.protector, rp, claimant.id, "x", "b" * 24, "sid"))
    answer = Authenticator(rp.id, rp.origin).create(options)
    rt.run(
        lambda s: passkeys.register(s, rt.protector, rp, claimant.id, "b" * 24, "sid", "赵六的手机 13600003333", answer)
    )
    secrets += ["赵六的手机", "13600003333"]
    # A refused attempt names the number in its message: the audit trail must still hold it masked.
    with contextlib.suppress(people.Conflict):
        rt.run(
            lambda s: people.add(s, rt.protector, id_number=PERSONS[0][0], name="冒名者"),
            refusal=audit.Event(action="person.add", subject=PERSONS[0][0], actor="op"),
        )
    return secrets


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, raw.hex().encode(), secret.encode("utf-16-le")]


def _cell(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def every_row(engine: Engine) -> bytes:
    """Every value of every row of every table (reflected, so tables no model declares count too), as bytes:
    what the database holds now, whatever the dialect (a deleted row's leftovers in free pages are the file
    system's matter: the raw-file scan below covers data never deleted)."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return b"\n".join(
            _cell(value) for table in metadata.tables.values() for row in conn.execute(select(table)) for value in row
        )


def found_in(haystack: bytes, secrets: list[str]) -> list[str]:
    return [s for s in secrets for form in forms(s) if form in haystack]


def test_database_holds_no_plaintext_personal_data(rt: Runtime) -> None:
    secrets = _populate(rt)
    if rt.engine.dialect.name == "sqlite":
        db_path = Path(rt.engine.url.database or "")
        rt.close()  # let SQLite checkpoint; scan the WAL and shared memory files too, whatever is left
        blobs = [p.read_bytes() for p in db_path.parent.glob(db_path.name + "*")]
        assert blobs and sum(map(len, blobs)) > 0
    else:
        blobs = []
        with rt.engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                rows = conn.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()
                blobs.append("\n".join(rows).encode())
    haystack = b"\n".join(blobs)
    assert "示例科技有限公司".encode() in haystack  # the scan sees stored text at all
    assert found_in(haystack, secrets) == []
    assert bytes(range(256)) not in haystack  # the raw face template
