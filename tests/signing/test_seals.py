"""Seals and their policies at the database layer, on SQLite and PostgreSQL; the `yiwang seal` commands.

Certificates are checked with `cryptography`, revocation through the CRL and OCSP code paths, images with
Pillow, and every refusal must leave nothing behind.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import NameOID
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from idp.audit import AuditEvent
from idp.cli.main import app as cli_app
from idp.db import utcnow
from idp.records import organisations, people
from idp.runtime import Runtime
from idp.signing_wiring import open_signing
from signing import crl, ocsp, pki, seal_image, seals
from signing.context import SigningContext
from signing.errors import Conflict, Forbidden, InvalidInput, NotFound, NotReady
from signing.models import IssuedCertificate, Seal, SealUsage
from signing.policy import Policy, Request, Requester, authorise

USCC = "91110000600037341L"
ORG_NAME = "北京某某科技有限公司"
KEEPER = "11010519491231002X"
OUTSIDER = "110105198001010016"


@pytest.fixture
def ctx(rt: Runtime) -> SigningContext:
    with rt.transaction() as session:
        organisations.add(session, rt.protector, rt.uscc_rules, uscc=USCC, name=ORG_NAME, kind="enterprise")
        people.add(session, rt.protector, id_number=KEEPER, name="张三")
        people.add(session, rt.protector, id_number=OUTSIDER, name="李四")
        organisations.add_member(session, rt.protector, rt.uscc_rules, uscc=USCC, id_number=KEEPER, role="seal_keeper")
    return open_signing(rt)


def _create(rt: Runtime, ctx: SigningContext, policy: Policy | None = None, **kw: object) -> Seal:
    with rt.transaction() as session:
        return seals.create(
            session,
            ctx,
            uscc=USCC,
            seal_type="official",
            policy=policy or Policy(),
            **kw,  # type: ignore[arg-type]
        )


def _count(rt: Runtime, model: type, *where: object) -> int:
    with rt.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_a_seal_has_a_certificate_naming_the_organisation_and_its_uscc(rt: Runtime, ctx: SigningContext) -> None:
    seal = _create(rt, ctx)
    cert = x509.load_der_x509_certificate(seal.cert_der)
    cert.verify_directly_issued_by(ctx.authority.issuing.cert)
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORG_NAME
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == f"NTRCN-{USCC}"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"{ORG_NAME}公章"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert seal.status == "active" and seal.valid_from < utcnow() < seal.valid_to
    # The key is stored sealed, never in clear.
    assert seal.sealed_key is not None and b"PRIVATE" not in seal.sealed_key
    with rt.transaction() as session:
        issued = session.get(IssuedCertificate, seal.cert_serial)
        assert issued is not None and issued.kind == "seal" and issued.status == "good"
        assert session.scalar(
            select(AuditEvent).where(AuditEvent.action == "seal.create", AuditEvent.subject == seal.id)
        )


def test_drawn_seal_is_a_red_round_png(rt: Runtime, ctx: SigningContext) -> None:
    seal = _create(rt, ctx)
    assert seal.image_source == "drawn"
    with Image.open(io.BytesIO(seal.image_png)) as img:
        assert img.format == "PNG" and img.mode == "RGBA"
        rgba = img.convert("RGBA")
    w, h = rgba.size
    r, g, b, a = rgba.getpixel((w // 2, int(h * 0.02) + 6))  # the ring at the top
    assert a > 0 and r > 150 and g < 80 and b < 80
    assert rgba.getpixel((2, 2))[3] == 0  # transparent outside the circle
    r, g, b, a = rgba.getpixel((w // 2, h // 2))  # the star in the middle
    assert a > 0 and r > 150


def test_uploaded_image_is_checked_and_reencoded(rt: Runtime, ctx: SigningContext) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (200, 0, 0, 255)).save(out, format="PNG", pnginfo=None)
    seal = _create(rt, ctx, image_png=out.getvalue())
    assert seal.image_source == "uploaded" and seal.image_png.startswith(b"\x89PNG")
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64)).save(jpeg, format="JPEG")
    for bad in (jpeg.getvalue(), b"\x89PNG\r\n\x1a\nbroken", b"x" * 2_000_000):
        before = _count(rt, Seal)
        with pytest.raises(InvalidInput):
            _create(rt, ctx, image_png=bad)
        assert _count(rt, Seal) == before


def test_no_cjk_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    seal_image.find_cjk_font.cache_clear()
    monkeypatch.setattr(seal_image, "KNOWN_FONTS", ())
    monkeypatch.setattr(seal_image, "_fontconfig_candidates", lambda: [])
    try:
        with pytest.raises(NotReady, match="fonts-noto-cjk"):
            seal_image.draw_seal(ORG_NAME, "公章")
    finally:
        seal_image.find_cjk_font.cache_clear()


def test_bad_seal_requests_change_nothing(rt: Runtime, ctx: SigningContext) -> None:
    before = (_count(rt, Seal), _count(rt, IssuedCertificate))
    with rt.transaction() as session, pytest.raises(InvalidInput):
        seals.create(session, ctx, uscc=USCC, seal_type="bogus", policy=Policy())
    with rt.transaction() as session, pytest.raises(NotFound):
        seals.create(
            session,
            ctx,
            uscc="91350100M000100Y43",
            seal_type="official",
            policy=Policy(),
        )
    with rt.transaction() as session, pytest.raises(InvalidInput):
        seals.create(
            session,
            ctx,
            uscc=USCC,
            seal_type="official",
            policy=Policy(daily_cap=0),
        )
    assert (_count(rt, Seal), _count(rt, IssuedCertificate)) == before


def test_revocation_reaches_crl_and_ocsp_at_once(rt: Runtime, ctx: SigningContext) -> None:
    seal = _create(rt, ctx)
    serial = int(seal.cert_serial, 16)
    with rt.transaction() as session:
        seals.revoke(session, ctx, seal.id, "key_compromise")
    with rt.transaction() as session:
        assert seals.get(session, seal.id).status == "revoked"
        current = x509.load_der_x509_crl(crl.current(session, ctx.authority))
        assert current.get_revoked_certificate_by_serial_number(serial) is not None
        answer = ocsp.respond_for(session, ctx.authority, issuer=ctx.authority.issuing, serial=serial)
        assert answer.certificate_status == x509_ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    with rt.transaction() as session, pytest.raises(Conflict):
        seals.revoke(session, ctx, seal.id)
    with rt.transaction() as session, pytest.raises(NotFound):
        seals.revoke(session, ctx, "no-such-seal")


# --- policy ------------------------------------------------------------------------------------------------


def _authorise(
    ctx: SigningContext, session: Session, seal: Seal, requester: Requester, kind: str | None = None
) -> None:
    authorise(
        session,
        Request(
            seal=session.get(Seal, seal.id) or seal,
            policy=Policy.from_dict(seal.policy),
            requester=requester,
            document_kind=kind,
            now=utcnow(),
            directory=ctx.services.directory,
        ),
    )


def test_policy_allows_named_clients_and_members_only(rt: Runtime, ctx: SigningContext) -> None:
    with rt.transaction() as session:
        directory = ctx.services.directory
        org = directory.organisation(session, USCC)
        keeper = seals.member_ids(session, directory, org, [KEEPER])
        with pytest.raises(InvalidInput):  # not holding a seal role: cannot even be named in a policy
            seals.member_ids(session, directory, org, [OUTSIDER])
        outsider = people.find_by_id_number(session, rt.protector, OUTSIDER)
        assert outsider is not None
        outsider_id = outsider.id
    seal = _create(rt, ctx, Policy(clients=frozenset({"dept-portal"}), members=keeper))
    keeper_id = next(iter(keeper))
    with rt.transaction() as session:
        _authorise(ctx, session, seal, Requester(kind="client", name="dept-portal", client_id="dept-portal"))
        _authorise(ctx, session, seal, Requester(kind="member", name=keeper_id, person_id=keeper_id))
        _authorise(ctx, session, seal, Requester(kind="operator", name="operator"))
    refused = [
        Requester(kind="client", name="other", client_id="other"),
        Requester(kind="member", name=outsider_id, person_id=outsider_id),
    ]
    for requester in refused:
        with rt.transaction() as session, pytest.raises(Forbidden):
            _authorise(ctx, session, seal, requester)


def test_policy_limits_document_kinds(rt: Runtime, ctx: SigningContext) -> None:
    seal = _create(rt, ctx, Policy(document_kinds=frozenset({"contract"})))
    operator = Requester(kind="operator", name="operator")
    with rt.transaction() as session:
        _authorise(ctx, session, seal, operator, "contract")
    for kind in ("invoice", None):
        with rt.transaction() as session, pytest.raises(Forbidden, match="kind"):
            _authorise(ctx, session, seal, operator, kind)


def test_daily_cap_is_exact_and_refusals_do_not_count(rt: Runtime, ctx: SigningContext) -> None:
    seal = _create(rt, ctx, Policy(daily_cap=2, clients=frozenset({"portal"})))
    client = Requester(kind="client", name="portal", client_id="portal")
    with rt.transaction() as session, pytest.raises(Forbidden):  # refused before the cap: uses nothing
        _authorise(ctx, session, seal, Requester(kind="client", name="x", client_id="x"))
    for _ in range(2):
        with rt.transaction() as session:
            _authorise(ctx, session, seal, client)
    with pytest.raises(Forbidden, match="daily cap"), rt.transaction() as session:
        _authorise(ctx, session, seal, client)
    assert _count(rt, SealUsage) == 1
    with rt.transaction() as session:
        assert session.scalar(select(SealUsage.count).where(SealUsage.seal_id == seal.id)) == 2


def test_revoked_or_expired_seal_is_refused(rt: Runtime, ctx: SigningContext) -> None:
    expired = _create(rt, ctx, validity=timedelta(seconds=1))
    revoked = _create(rt, ctx)
    with rt.transaction() as session:
        seals.revoke(session, ctx, revoked.id)
        row = session.get(Seal, expired.id)
        assert row is not None
        row.valid_to = utcnow() - timedelta(seconds=1)
    operator = Requester(kind="operator", name="operator")
    for seal_id in (expired.id, revoked.id):
        with rt.transaction() as session, pytest.raises(Forbidden):
            seal = session.get(Seal, seal_id)
            assert seal is not None
            _authorise(ctx, session, seal, operator)


# --- CLI ------------------------------------------------------------------------------------------------------


def test_seal_commands(rt: Runtime, ctx: SigningContext) -> None:
    cli = CliRunner()
    made = cli.invoke(
        cli_app,
        [
            "seal",
            "create",
            "--org",
            USCC,
            "--type",
            "contract",
            "--client",
            "portal",
            "--member-id-number",
            KEEPER,
            "--kind",
            "contract",
            "--daily-cap",
            "10",
            "--json",
        ],
    )
    assert made.exit_code == 0, made.stderr
    seal_id = json.loads(made.stdout)["id"]
    shown = cli.invoke(cli_app, ["seal", "show", seal_id, "--json"])
    assert shown.exit_code == 0
    data = json.loads(shown.stdout)
    assert data["type"] == "contract" and data["status"] == "active"
    assert data["policy"]["clients"] == ["portal"] and data["policy"]["daily_cap"] == 10
    assert KEEPER not in shown.stdout  # members are person ids, never ID numbers
    cert = x509.load_pem_x509_certificate(data["certificate"].encode())
    assert cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    listed = cli.invoke(cli_app, ["seal", "list", "--org", USCC])
    assert seal_id in listed.stdout and "contract" in listed.stdout
    revoked = cli.invoke(cli_app, ["seal", "revoke", seal_id, "--reason", "superseded", "--json"])
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    again = cli.invoke(cli_app, ["seal", "revoke", seal_id])
    assert again.exit_code == 1 and again.stderr.startswith("error: ") and again.stdout == ""
    with rt.transaction() as session:
        refusal = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "seal.revoke", AuditEvent.outcome == "refused")
        )
        assert refusal is not None
    bad = cli.invoke(cli_app, ["seal", "create", "--org", USCC, "--type", "nonsense"])
    assert bad.exit_code == 1 and "seal type" in bad.stderr
    missing = cli.invoke(cli_app, ["seal", "show", "00000000-0000-0000-0000-000000000000"])
    assert missing.exit_code == 1 and "no seal" in missing.stderr


def test_pki_serials_are_unique_hex(rt: Runtime, ctx: SigningContext) -> None:
    a, b = _create(rt, ctx), _create(rt, ctx)
    assert a.cert_serial != b.cert_serial
    assert pki.serial_hex(int(a.cert_serial, 16)) == a.cert_serial
