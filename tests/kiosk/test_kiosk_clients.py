"""Only a registered, unrevoked kiosk of the hall it names, holding its own key, may use the kiosk API; each
refusal here comes before any card or face is looked at. Also the limits on what a request may carry."""

from __future__ import annotations

import io
import stat
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from idp.audit.events import AuditEvent
from idp.cli.main import app as cli
from idp.db import utcnow
from idp.kiosk import devices, identify, simulator
from idp.kiosk.models import KioskChallenge, KioskDevice
from idp.kiosk.simulator import Card
from idp.oauth import clients
from idp.oauth.models import OAuthClient
from tests.kiosk.conftest import Hall, card


def _pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 100, 90)).save(out, format="JPEG")
    return out.getvalue()


def test_registration_stores_only_the_public_key(hall: Hall) -> None:
    kiosk = hall.register("east")
    with hall.rt.transaction() as session:
        row = session.get(OAuthClient, kiosk.client_id)
        assert row is not None and row.auth_method == "private_key_jwt" and row.grant_types == [clients.KIOSK_GRANT]
        assert row.jwks is not None and all("d" not in k for k in row.jwks["keys"])
        device = session.get(KioskDevice, kiosk.client_id)
        assert device is not None and device.hall == "east"


def test_an_unknown_client_or_a_wrong_key_is_invalid_client(hall: Hall) -> None:
    kiosk = hall.register()
    for stranger in (
        simulator.Kiosk(hall.client, "yw_no_such_kiosk", _pem(), "city"),
        simulator.Kiosk(hall.client, kiosk.client_id, _pem(), "city"),  # the right id, someone else's key
    ):
        answer = stranger.challenge()
        assert answer.status == 401 and answer.body["error"] == "invalid_client", answer.body


def test_a_replayed_assertion_is_refused(hall: Hall) -> None:
    kiosk = hall.register()
    form = {
        "client_id": kiosk.client_id,
        "client_assertion_type": simulator.ASSERTION_TYPE,
        "client_assertion": kiosk.assertion(),
        "hall": "city",
    }
    assert hall.client.post("/kiosk/v1/challenge", data=form).status_code == 200
    again = hall.client.post("/kiosk/v1/challenge", data=form)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def _refusals(hall: Hall, client_id: str) -> list[str]:
    """The reasons of the audited kiosk refusals of this client, oldest first."""
    with hall.rt.transaction() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "kiosk.identify", AuditEvent.actor == client_id)
            .order_by(AuditEvent.at)
        )
        return [e.detail["reason"] for e in events if e.outcome == "refused"]


def test_a_revoked_kiosk_is_refused(hall: Hall) -> None:
    kiosk = hall.register()
    issued = kiosk.challenge()
    with hall.rt.transaction() as session:
        devices.revoke(session, kiosk.client_id)
    refused = kiosk.challenge()
    assert (refused.status, refused.body["reason"]) == (403, "kiosk_revoked")
    # A challenge handed out before the revocation is of no use after it.
    answer = kiosk.identify(issued.body["challenge_id"], card(chip="obama_240p.jpg"), [_jpeg((64, 64))])
    assert (answer.status, answer.body["reason"]) == (403, "kiosk_revoked")
    assert _refusals(hall, kiosk.client_id) == ["kiosk_revoked", "kiosk_revoked"]


def test_a_kiosk_of_another_hall_is_refused(hall: Hall) -> None:
    east = hall.register("east")
    moved = simulator.Kiosk(hall.client, east.client_id, east.key.as_pem(private=True), "city")
    answer = moved.challenge()
    assert (answer.status, answer.body["reason"]) == (403, "wrong_hall")
    assert _refusals(hall, east.client_id) == ["wrong_hall"]


def test_a_kiosk_whose_hall_is_no_longer_configured_is_refused(hall: Hall) -> None:
    kiosk = hall.register()
    with hall.rt.transaction() as session:
        device = session.get(KioskDevice, kiosk.client_id)
        assert device is not None
        device.hall = "closed-hall"
    moved = simulator.Kiosk(hall.client, kiosk.client_id, kiosk.key.as_pem(private=True), "closed-hall")
    assert moved.challenge().body["reason"] == "wrong_hall"


def test_a_client_that_is_not_a_kiosk_cannot_use_the_api(hall: Hall) -> None:
    """A private_key_jwt client in good standing, but no kiosk: it may not identify citizens."""
    pem = _pem()
    public = ECKey.import_key(pem).as_dict(private=False)
    with hall.rt.transaction() as session:
        made = clients.create_client(
            session, name="a service", grant_types=["client_credentials"], auth_method="private_key_jwt",
            jwks={"keys": [{**public, "kid": ECKey.import_key(pem).thumbprint()}]},
        )  # fmt: skip
    service = simulator.Kiosk(hall.client, made.client_id, pem, "city")
    answer = service.challenge()
    assert (answer.status, answer.body["reason"]) == (403, "not_a_kiosk")
    # Given the kiosk grant by hand but never registered as a kiosk in a hall: still not a kiosk.
    with hall.rt.transaction() as session:
        row = session.get(OAuthClient, made.client_id)
        assert row is not None
        row.grant_types = [clients.KIOSK_GRANT]
    hall.client.app.state.provider.clients.forget(made.client_id)  # type: ignore[attr-defined]
    assert service.challenge().body["reason"] == "not_a_kiosk"
    assert _refusals(hall, made.client_id) == ["not_a_kiosk", "not_a_kiosk"]


def test_too_many_frames_are_refused_before_any_is_decoded(hall: Hall) -> None:
    kiosk = hall.register()
    issued = kiosk.challenge()
    frames = [b"not even an image"] * (identify.MAX_FRAMES + 1)
    answer = kiosk.identify(issued.body["challenge_id"], card(chip="obama_240p.jpg"), frames)
    assert (answer.status, answer.body["reason"]) == (400, "bad_frames")


def test_frames_with_too_many_pixels_are_refused_from_their_header(hall: Hall) -> None:
    kiosk = hall.register()
    issued = kiosk.challenge()
    huge = _jpeg((2600, 1400))  # over 1920×1080 pixels, small in bytes
    answer = kiosk.identify(issued.body["challenge_id"], card(chip="obama_240p.jpg"), [huge] * 3)
    assert (answer.status, answer.body["reason"]) == (400, "bad_frames")


def test_an_oversized_body_is_refused_before_it_is_read(hall: Hall) -> None:
    limit = hall.settings.max_face_body_bytes
    answer = hall.client.post(
        "/kiosk/v1/identify",
        content=b"x" * 16,
        headers={"content-length": str(limit + 1), "content-type": "multipart/form-data; boundary=x"},
    )
    assert answer.status_code == 413 and answer.json()["error"] == "invalid_request"


def test_cli_register_writes_the_key_0600_and_prints_only_the_client_id(hall: Hall, tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    done = CliRunner().invoke(cli, ["kiosk", "register", "--hall", "east", "--name", "东区 1 号机", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "-----BEGIN" not in done.output and "client_id: yw_" in done.output  # no PEM block is printed
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    written = serialization.load_pem_private_key(out.read_bytes(), None)  # the file holds the kiosk's EC key
    assert isinstance(written, ec.EllipticCurvePrivateKey)
    listed = CliRunner().invoke(cli, ["kiosk", "list"])
    client_id = done.output.split("client_id: ")[1].split()[0]
    assert client_id in listed.output and "east" in listed.output and "active" in listed.output
    assert CliRunner().invoke(cli, ["kiosk", "revoke", client_id]).exit_code == 0
    assert "revoked" in CliRunner().invoke(cli, ["kiosk", "list"]).output
    unknown = CliRunner().invoke(
        cli, ["kiosk", "register", "--hall", "nowhere", "--name", "x", "--out", str(tmp_path / "x")]
    )
    assert unknown.exit_code != 0 and not (tmp_path / "x").exists()
    with hall.rt.transaction() as session:
        assert len(list(session.scalars(select(KioskDevice)))) == 1


def test_a_registered_kiosk_without_the_kiosk_grant_is_not_a_kiosk(hall: Hall) -> None:
    kiosk = hall.register()
    assert kiosk.challenge().status == 200
    with hall.rt.transaction() as session:
        row = session.get(OAuthClient, kiosk.client_id)
        assert row is not None
        row.grant_types = ["client_credentials"]
    hall.client.app.state.provider.clients.forget(kiosk.client_id)  # type: ignore[attr-defined]
    assert kiosk.challenge().body["reason"] == "not_a_kiosk"


def test_an_expired_challenge_is_refused(hall: Hall) -> None:
    kiosk = hall.register()
    issued = kiosk.challenge()
    with hall.rt.transaction() as session:
        for row in session.scalars(select(KioskChallenge)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    answer = kiosk.identify(issued.body["challenge_id"], card(chip="obama_240p.jpg"), [_jpeg((64, 64))])
    assert (answer.status, answer.body["reason"]) == (400, "no_challenge")


def test_a_chip_photo_with_too_many_pixels_is_refused_from_its_header(hall: Hall) -> None:
    kiosk = hall.register()
    issued = kiosk.challenge()
    chip = Card("赵磊", "32010219750111006X", "2020-01-01", "2040-01-01", _jpeg((2600, 1400)))
    answer = kiosk.identify(issued.body["challenge_id"], chip, [_jpeg((64, 64))])
    assert (answer.status, answer.body["reason"]) == (400, "bad_chip_photo")


def test_a_client_id_other_than_the_assertions_subject_is_refused(hall: Hall) -> None:
    kiosk, other = hall.register(), hall.register()
    form = {
        "client_id": other.client_id,
        "client_assertion_type": simulator.ASSERTION_TYPE,
        "client_assertion": kiosk.assertion(),
        "hall": "city",
    }
    answer = hall.client.post("/kiosk/v1/challenge", data=form)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
