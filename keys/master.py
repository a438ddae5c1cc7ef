"""The master key: the root of the key hierarchy (master key → versioned data keys → field values).

It never touches the database. Sources: a file in the data directory (created on first use, mode 0600),
or an environment variable holding the key in base64. PKCS#11 is a later source.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

KEY_BYTES = 32


class MasterKeyError(Exception):
    """The master key cannot be loaded (missing, malformed or an unsupported source)."""


def _decode(text: str, origin: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"master key in {origin} is not base64") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"master key in {origin} must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def _load_or_create_file(path: Path, create: bool) -> bytes:
    if path.exists():
        return _decode(path.read_text(encoding="ascii"), str(path))
    if not create:
        raise MasterKeyError(f"master key file {path} does not exist (run `yiwang init`)")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode(path.read_text(encoding="ascii"), str(path))
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(key).decode("ascii") + "\n")
    return key


def load_master_key(source: str, *, path: Path, env_value: str | None = None, create: bool = False) -> bytes:
    """Load the master key from `source` (`file` or `env`)."""
    if source == "file":
        return _load_or_create_file(path, create)
    if source == "env":
        if not env_value:
            raise MasterKeyError("master key source is env but YIWANG_MASTER_KEY is empty")
        return _decode(env_value, "YIWANG_MASTER_KEY")
    raise MasterKeyError(f"unknown master key source {source!r} (use file or env)")
