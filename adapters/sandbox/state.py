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
    """One connection per process, kept open; WAL with `synchronous=NORMAL` (emulator state, not records),
    expired keys swept at most once a second — the emulator must not be what a load test measures."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self._path, timeout=5, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, exp REAL NOT NULL, v TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, ch TEXT NOT NULL, v TEXT NOT NULL)")
        self._swept = 0.0

    def _run(self, *statements: tuple[str, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Run the statements in one transaction; the rows of the last."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                now = time.time()
                if now - self._swept > 1.0:
                    db.execute("DELETE FROM kv WHERE exp < ?", (now,))
                    self._swept = now
                rows: list[tuple[Any, ...]] = []
                for statement in statements:
                    rows = db.execute(*statement).fetchall()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return rows

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        self._run(("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, time.time() + ttl_s, json.dumps(value))))

    def get(self, key: str) -> dict[str, Any] | None:
        rows = self._run(("SELECT v FROM kv WHERE k = ? AND exp >= ?", (key, time.time())))
        return json.loads(rows[0][0]) if rows else None

    def pop(self, key: str) -> dict[str, Any] | None:
        rows = self._run(("DELETE FROM kv WHERE k = ? RETURNING v, exp", (key,)))
        return json.loads(rows[0][0]) if rows and rows[0][1] >= time.time() else None

    def add_once(self, key: str, ttl_s: float) -> bool:
        now = time.time()
        rows = self._run(
            ("DELETE FROM kv WHERE k = ? AND exp < ?", (key, now)),
            ("INSERT OR IGNORE INTO kv VALUES (?, ?, '{}') RETURNING k", (key, now + ttl_s)),
        )
        return bool(rows)

    def append(self, channel: str, item: dict[str, Any], keep: int = 200) -> None:
        self._run(
            ("INSERT INTO log (ch, v) VALUES (?, ?)", (channel, json.dumps(item))),
            (
                "DELETE FROM log WHERE ch = ? AND id NOT IN (SELECT id FROM log WHERE ch = ? ORDER BY id DESC LIMIT ?)",
                (channel, channel, keep),
            ),
        )

    def items(self, channel: str) -> list[dict[str, Any]]:
        rows = self._run(("SELECT v FROM log WHERE ch = ? ORDER BY id DESC", (channel,)))
        return [json.loads(r[0]) for r in rows]
