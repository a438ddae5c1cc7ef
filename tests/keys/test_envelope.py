"""Field encryption binds each value to its place; blind indexes are domain-separated."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import keys
from keys.envelope import key_version


def _cipher() -> keys.FieldCipher:
    return keys.FieldCipher({1: keys.new_data_key()}, active=1)


@given(st.text(max_size=200))
def test_round_trip_any_text(value: str) -> None:
    cipher = _cipher()
    blob = cipher.encrypt(value, "persons/name_ct/abc")
    assert cipher.decrypt(blob, "persons/name_ct/abc") == value
    if len(value.encode()) >= 6:  # shorter strings can occur in random bytes by chance
        assert value.encode() not in blob


@pytest.mark.parametrize("other", ["persons/name_ct/other-row", "persons/phone_ct/abc", "orgs/name_ct/abc"])
def test_ciphertext_moved_to_another_row_or_column_fails(other: str) -> None:
    cipher = _cipher()
    blob = cipher.encrypt("11010519491231002X", "persons/name_ct/abc")
    with pytest.raises(keys.DecryptionError):
        cipher.decrypt(blob, other)


def test_any_flipped_byte_fails() -> None:
    cipher = _cipher()
    blob = cipher.encrypt("张三", "t/c/1")
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(keys.DecryptionError):
            cipher.decrypt(bytes(tampered), "t/c/1")


def test_old_versions_still_decrypt_after_rotation() -> None:
    k1, k2 = keys.new_data_key(), keys.new_data_key()
    old = keys.FieldCipher({1: k1}, active=1).encrypt("13800138000", "t/c/1")
    rotated = keys.FieldCipher({1: k1, 2: k2}, active=2)
    assert rotated.decrypt(old, "t/c/1") == "13800138000"
    assert key_version(rotated.encrypt("x", "t/c/1")) == 2
    with pytest.raises(keys.DecryptionError, match="no data key version 1"):
        keys.FieldCipher({2: k2}, active=2).decrypt(old, "t/c/1")


def test_wrapped_key_is_bound_to_its_label() -> None:
    master, data = keys.new_data_key(), keys.new_data_key()
    wrapped = keys.wrap_key(master, data, "data-key/1")
    assert keys.unwrap_key(master, wrapped, "data-key/1") == data
    with pytest.raises(keys.DecryptionError):
        keys.unwrap_key(master, wrapped, "data-key/2")
    with pytest.raises(keys.DecryptionError):
        keys.unwrap_key(keys.new_data_key(), wrapped, "data-key/1")


def test_blind_index_is_stable_keyed_and_domain_separated() -> None:
    k = keys.new_data_key()
    a = keys.blind_index(k, "phone", "+8613800138000")
    assert a == keys.blind_index(k, "phone", "+8613800138000")
    assert a != keys.blind_index(k, "id_number", "+8613800138000")
    assert a != keys.blind_index(keys.new_data_key(), "phone", "+8613800138000")
    assert "13800138000" not in a


def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    with pytest.raises(keys.MasterKeyError, match="does not exist"):
        keys.load_master_key("file", path=path)
    first = keys.load_master_key("file", path=path, create=True)
    assert len(first) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert keys.load_master_key("file", path=path) == first


@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "empty"), ("not base64!", "not base64"), ("c2hvcnQ=", "must be 32 bytes")],
)
def test_master_key_from_env_is_checked(tmp_path: Path, value: str | None, message: str) -> None:
    with pytest.raises(keys.MasterKeyError, match=message):
        keys.load_master_key("env", path=tmp_path / "unused", env_value=value)


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(keys.MasterKeyError, match="unknown master key source"):
        keys.load_master_key("vault", path=tmp_path / "unused")
