"""The sandbox itself: persisted keys, shared state, mounting, photo loading, the public surface."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import time_machine
from fastapi import FastAPI

import adapters
from adapters.factory import build_adapters
from adapters.sandbox import Sandbox, dataset, load_photos
from adapters.sandbox.keys import load_or_create
from adapters.sandbox.state import MemoryStore, SqliteStore


def test_public_surface() -> None:
    assert sorted(adapters.__all__) == adapters.__all__
    for name in adapters.__all__:
        assert getattr(adapters, name) is not None


def test_dataset_is_well_formed() -> None:
    from idp.identity import check_identifier

    for person in dataset.PEOPLE:
        assert check_identifier(person.id_number).kind  # valid GB 11643 check characters
        assert person.card.startswith("62") and 16 <= len(person.card) <= 19
        assert person.phone.startswith("+86138001380")
    assert len({p.id_number for p in dataset.PEOPLE}) == len(dataset.PEOPLE)


def test_keys_are_created_once_and_shared(tmp_path: Path) -> None:
    first = load_or_create(tmp_path)
    again = load_or_create(tmp_path)
    assert first == again
    assert (tmp_path / "sandbox-keys.json").stat().st_mode & 0o777 == 0o600
    assert load_or_create(None) != first  # without a directory: fresh, in memory


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_store_semantics(kind: str, tmp_path: Path) -> None:
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "s.db")
    store.put("a", {"x": 1}, ttl_s=60)
    assert store.get("a") == {"x": 1}
    assert store.pop("a") == {"x": 1} and store.pop("a") is None
    store.put("short", {}, ttl_s=0.01)
    with time_machine.travel(time.time() + 1):
        assert store.get("short") is None
    assert store.add_once("n", 60) and not store.add_once("n", 60)
    for i in range(5):
        store.append("ch", {"i": i}, keep=3)
    assert [m["i"] for m in store.items("ch")] == [4, 3, 2]


def test_two_sandboxes_on_one_directory_share_state(tmp_path: Path) -> None:
    """What several workers (or the CLI and the server) see: one set of keys, one outbox."""
    a, b = Sandbox(state_dir=tmp_path), Sandbox(state_dir=tmp_path)
    assert a.keys == b.keys
    a.outbox.deliver("sandbox", "+8613800138009", "text", "424242")
    assert b.outbox.latest_code("+8613800138009") == "424242"


def test_photos_from_a_directory(tmp_path: Path, grace_hopper: bytes) -> None:
    (tmp_path / "zhang-wei.jpg").write_bytes(grace_hopper)
    (tmp_path / f"{dataset.PEOPLE[1].id_number}.png").write_bytes(b"\x89PNG...")
    photos = load_photos(tmp_path)
    assert photos == {dataset.PEOPLE[0].id_number: grace_hopper, dataset.PEOPLE[1].id_number: b"\x89PNG..."}
    assert load_photos(tmp_path / "absent") == {}


@pytest.mark.anyio
async def test_mounted_on_the_app_and_reached_in_process() -> None:
    """The lead's wiring: emulators mounted under /sandbox, adapters through the in-process transport."""
    sandbox = Sandbox()
    app = FastAPI()
    sandbox.mount(app, "/sandbox")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://yiwang") as browser:
        assert (await browser.get("/sandbox/outbox/health")).json() == {"status": "ok"}
        page = await browser.get("/sandbox/alipay/oauth2/publicAppAuthorize.htm",
                                 params={"app_id": sandbox.keys.alipay_app_id, "scope": "auth_user",
                                         "redirect_uri": "http://yiwang/cb", "state": "s"})  # fmt: skip
        assert page.status_code == 200 and "SANDBOX" in page.text
    config = sandbox.adapters_config(Sandbox.INTERNAL, browser_base_url="http://yiwang/sandbox")
    assert config.alipay is not None and config.alipay.authorize_url.startswith("http://yiwang/sandbox/alipay/")
    built = build_adapters(config, transport=sandbox.transport())
    try:
        person = dataset.PEOPLE[0]
        assert (await built.registry.verify(person.name, person.id_number)).matched  # type: ignore[union-attr]
        await built.sms.send_code(person.phone, "777777")
        assert sandbox.outbox.latest_code(person.phone) == "777777"
    finally:
        await built.aclose()


@pytest.mark.anyio
async def test_outbox_listing_masks_phones(sandbox: Sandbox, emulator_url: str) -> None:
    sandbox.outbox.deliver("sandbox", "+8613800138008", "text", "135790")
    async with httpx.AsyncClient() as client:
        listed = (await client.get(f"{emulator_url}/outbox/messages", params={"phone": "+8613800138008"})).json()
        page = (await client.get(f"{emulator_url}/outbox/")).text
    assert listed[0]["phone"] == "+86138****8008" and listed[0]["code"] == "135790"
    assert "13800138008" not in page
