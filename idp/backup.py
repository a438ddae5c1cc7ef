"""Backup and restore: every table, as rows, in one file sealed under the master key.

The database already keeps every key sealed under the master key (data keys, token signing keys, the CAs'
keys), so a dump of the rows carries the key material too; the whole file is then sealed again, so that blind
indexes, hashes and metadata are unreadable without the master key as well. Restoring needs that same master
key (kept apart from backups, as it is from the database).

The format is logical (rows by column, not one database's dump), so a backup of SQLite restores into
PostgreSQL and back. The file: a magic line, then frames `length (4 bytes) | AES-256-GCM(zlib(JSON lines))`,
each sealed with its index as associated data and the last one marked as last: frames can't be reordered,
dropped or cut off unnoticed. The first JSON line says the schema revision; restore refuses a different one.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Column, Engine, Table, TypeDecorator, func, insert, select

from idp import migrate
from idp.db import Base
from idp.errors import InvalidInput
from idp.models import load_all
from keys.envelope import DecryptionError, unwrap_key, wrap_key

MAGIC = b"YIWANG-BACKUP 1\n"
_FRAME = struct.Struct(">I")
_ROWS_PER_FRAME = 500
_MAX_FRAME = 64 * 1024 * 1024

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Summary:
    revision: str
    tables: int
    rows: int


def tables() -> list[Table]:
    """Every table of the schema, parents before children (foreign keys)."""
    load_all()
    return list(Base.metadata.sorted_tables)


def _kind(column: Column[Any]) -> str:
    sql_type = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    try:
        python_type = sql_type.python_type
    except NotImplementedError:
        return "plain"
    if python_type is datetime:
        return "datetime"
    if python_type is date:
        return "date"
    if python_type is bytes:
        return "bytes"
    return "plain"


def _encode(kind: str, value: Any) -> Any:
    if value is None or kind == "plain":
        return value
    if kind == "bytes":
        return base64.b64encode(value).decode()
    return value.isoformat()


def _decode(kind: str, value: Any) -> Any:
    if value is None or kind == "plain":
        return value
    if kind == "bytes":
        return base64.b64decode(value)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    return date.fromisoformat(value)


def count_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in tables())


def _lines(engine: Engine, progress: Progress) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn, conn.begin():  # one snapshot on PostgreSQL (SQLite: one read transaction)
        revision = migrate.current_revision(engine)
        yield {"backup": 1, "revision": revision}
        for table in tables():
            kinds = {c.name: _kind(c) for c in table.columns}
            yield {"table": table.name}
            order = list(table.primary_key.columns) or list(table.columns)
            for row in conn.execute(select(table).order_by(*order)).mappings():
                yield {"row": {name: _encode(kinds[name], row[name]) for name in kinds}}
                progress(1)


def write(engine: Engine, master: bytes, out: IO[bytes], progress: Progress = lambda n: None) -> Summary:
    """Dump every table into `out`, sealed under `master`."""
    out.write(MAGIC)
    batch: list[bytes] = []
    index, rows, tables_seen, revision = 0, 0, 0, ""

    def flush(last: bool) -> None:
        nonlocal index, batch
        sealed = wrap_key(master, zlib.compress(b"".join(batch)), _label(index, last))
        out.write(_FRAME.pack(len(sealed)) + sealed)
        index, batch = index + 1, []

    for line in _lines(engine, progress):
        if "revision" in line:
            revision = str(line["revision"])
        tables_seen += "table" in line
        rows += "row" in line
        batch.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        if len(batch) >= _ROWS_PER_FRAME:
            flush(last=False)
    flush(last=True)
    return Summary(revision, tables_seen, rows)


def _label(index: int, last: bool) -> str:
    return f"backup/1/{index}" + ("/last" if last else "")


def _read_lines(master: bytes, source: IO[bytes]) -> Iterator[dict[str, Any]]:
    if source.read(len(MAGIC)) != MAGIC:
        raise InvalidInput("not a Yiwang backup file")
    index = 0
    while True:
        head = source.read(_FRAME.size)
        if len(head) < _FRAME.size:
            raise InvalidInput("the backup file is cut short")
        (size,) = _FRAME.unpack(head)
        sealed = source.read(size) if size <= _MAX_FRAME else b""
        if len(sealed) != size or not sealed:
            raise InvalidInput("the backup file is cut short or damaged")
        try:
            plain, was_last = _open_frame(master, sealed, index)
        except DecryptionError:
            raise InvalidInput(
                "the backup file does not open with this master key (another key, or the file was altered)"
            ) from None
        for raw in zlib.decompress(plain).splitlines():
            yield dict(json.loads(raw))
        if was_last:
            if source.read(1):
                raise InvalidInput("the backup file has data after its last frame")
            return
        index += 1


def _open_frame(master: bytes, sealed: bytes, index: int) -> tuple[bytes, bool]:
    """A frame opens under its own index, as a middle frame or as the last one (never both)."""
    try:
        return unwrap_key(master, sealed, _label(index, False)), False
    except DecryptionError:
        return unwrap_key(master, sealed, _label(index, True)), True


def _is_empty(engine: Engine) -> bool:
    if migrate.current_revision(engine) is None:
        return True
    with engine.connect() as conn:
        return all(conn.scalar(select(func.count()).select_from(t)) == 0 for t in tables())


def restore(engine: Engine, master: bytes, source: IO[bytes], progress: Progress = lambda n: None) -> Summary:
    """Load a backup into an empty database (migrated here to the backup's revision): all of it, or nothing."""
    if not _is_empty(engine):
        raise InvalidInput("the database is not empty: restore only into a new, empty database")
    lines = _read_lines(master, source)
    header = next(lines)
    revision = header.get("revision")
    if header.get("backup") != 1 or revision != migrate.head_revision():
        raise InvalidInput(
            f"the backup is of schema {revision}, this version of Yiwang needs {migrate.head_revision()}: "
            "restore it with the version that made it, then upgrade"
        )
    migrate.upgrade(engine)
    by_name = {t.name: t for t in tables()}
    table: Table | None = None
    kinds: dict[str, str] = {}
    rows = tables_seen = 0
    pending: list[dict[str, Any]] = []
    with engine.begin() as conn:

        def flush() -> None:
            if table is not None and pending:
                conn.execute(insert(table), pending)
                pending.clear()

        for line in lines:
            if "table" in line:
                flush()
                table = by_name.get(line["table"])
                if table is None:
                    raise InvalidInput(f"the backup has a table this schema does not: {line['table']}")
                kinds = {c.name: _kind(c) for c in table.columns}
                tables_seen += 1
            elif "row" in line and table is not None:
                pending.append({k: _decode(kinds[k], v) for k, v in line["row"].items() if k in kinds})
                rows += 1
                progress(1)
                if len(pending) >= _ROWS_PER_FRAME:
                    flush()
        flush()
    return Summary(str(revision), tables_seen, rows)


def write_file(engine: Engine, master: bytes, path: Path, progress: Progress = lambda n: None) -> Summary:
    """Write to `path` through a temporary file, so a failed backup never leaves a file that looks whole."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            summary = write(engine, master, out, progress)
        partial.chmod(0o600)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return summary
