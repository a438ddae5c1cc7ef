"""Emulator state: short-lived codes and orders, used nonces, the SMS outbox.

`MemoryStore` for one process; `SqliteStore` (a file in the sandbox state directory) when several workers or
a CLI process must see the same emulator state — the browser may reach another worker than the adapter.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Store", "MemoryStore", "SqliteStore"]


class Store(Protocol):
    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None: ...

    def get(self, key: str) -> dict[str, Any] | None: ...

    def pop(self, key: str) -> dict[str, Any] | None:
        """Get and delete at once (single-use codes)."""
        ...

    def add_once(self, key: str, ttl_s: float) -> bool:
        """Remember `key`; False when it was already there (a replayed nonce)."""
        ...

    def append(self, channel: str, item: dict[str, Any], keep: int = 200) -> None: ...

    def items(self, channel: str) -> list[dict[str, Any]]:
        """Newest first."""
        ...


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lists: dict[str, list[dict[str, Any]]] = {}

    def _sweep(self, now: float) -> None:
        for k in [k for k, (exp, _) in self._values.items() if exp < now]:
            del self._values[k]

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        with self._lock:
            now = time.time()
            self._sweep(now)
            self._values[key] = (now + ttl_s, dict(value))

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._values.get(key)
            return dict(entry[1]) if entry and entry[0] >= time.time() else None

    def pop(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._values.pop(key, None)
            return dict(entry[1]) if entry and entry[0] >= time.time() else None

    def add_once(self, key: str, ttl_s: float) -> bool:
        with self._lock:
            now = time.time()
            entry = self._values.get(key)
            if entry and entry[0] >= now:
                return False
            self._values[key] = (now + ttl_s, {})
            return True

    def append(self, channel: str, item: dict[str, Any], keep: int = 200) -> None:
        with self._lock:
            items = self._lists.setdefault(channel, [])
            items.insert(0, dict(item))
            del items[keep:]

    def items(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._lists.get(channel, [])]


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, exp REAL NOT NULL, v TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, ch TEXT NOT NULL, v TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=5, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM kv WHERE exp < ?", (time.time(),))
                rows = db.execute(sql, args).fetchall()
                db.execute("COMMIT")
                return rows
            finally:
                db.close()

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        self._run("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, time.time() + ttl_s, json.dumps(value)))

    def get(self, key: str) -> dict[str, Any] | None:
        rows = self._run("SELECT v FROM kv WHERE k = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def pop(self, key: str) -> dict[str, Any] | None:
        rows = self._run("DELETE FROM kv WHERE k = ? RETURNING v", (key,))
        return json.loads(rows[0][0]) if rows else None

    def add_once(self, key: str, ttl_s: float) -> bool:
        rows = self._run("INSERT OR IGNORE INTO kv VALUES (?, ?, '{}') RETURNING k", (key, time.time() + ttl_s))
        return bool(rows)

    def append(self, channel: str, item: dict[str, Any], keep: int = 200) -> None:
        self._run("INSERT INTO log (ch, v) VALUES (?, ?)", (channel, json.dumps(item)))
        self._run(
            "DELETE FROM log WHERE ch = ? AND id NOT IN (SELECT id FROM log WHERE ch = ? ORDER BY id DESC LIMIT ?)",
            (channel, channel, keep),
        )

    def items(self, channel: str) -> list[dict[str, Any]]:
        rows = self._run("SELECT v FROM log WHERE ch = ? ORDER BY id DESC", (channel,))
        return [json.loads(r[0]) for r in rows]
