"""The running service's wiring: settings, engine, sessions, master key and field protector.

Built once per process (CLI command or app start-up) and passed down explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import keys
from idp import audit, metrics, migrate
from idp.db import make_engine, read_only, session_factory, transaction
from idp.errors import NotReady, YiwangError
from idp.identity import UsccRules
from idp.settings import Settings
from keys import store as keystore
from keys.protector import Protector
from keys.rotation import Rotation

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    master: bytes
    protector: Protector

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session on a read-only connection: it never takes SQLite's write lock nor waits for a writer."""
        with (
            self.engine.connect().execution_options(read_only=True) as conn,
            conn.begin(),
            Session(bind=conn, expire_on_commit=False) as session,
        ):
            yield session

    def run(self, work: Callable[[Session], T], *, refusal: audit.Event | None = None) -> T:
        """Do `work` in one transaction. If it is refused, nothing of it is kept; the refusal is audited apart."""
        try:
            with self.transaction() as session:
                return work(session)
        except YiwangError as exc:
            if refusal is not None:
                with self.transaction() as session:
                    audit.record(
                        session,
                        audit.Event(
                            action=refusal.action,
                            subject=refusal.subject,
                            outcome="refused",
                            actor=refusal.actor,
                            channel=refusal.channel,
                            client=refusal.client,
                            detail={**refusal.detail, "reason": exc.detail},
                        ),
                    )
            raise

    def key_rotation(self) -> Rotation:
        """What `keys.rotation` needs to re-encrypt every protected field under a new data key."""
        from idp.models import ENCRYPTED_COLUMNS

        def record(session: Session, action: str, subject: str, detail: dict[str, Any]) -> None:
            audit.record(session, audit.Event(action=action, subject=subject, detail=detail))

        return Rotation(self.transaction, self.protector, self.master, ENCRYPTED_COLUMNS, record)

    @property
    def uscc_rules(self) -> UsccRules:
        return UsccRules(allowed=self.settings.uscc_allow_list)

    def close(self) -> None:
        self.engine.dispose()


def master_key(settings: Settings, create: bool) -> bytes:
    secret = settings.master_key.get_secret_value() if settings.master_key else None
    try:
        return keys.load_master_key(
            settings.master_key_source, path=settings.master_key_path, env_value=secret, create=create
        )
    except keys.MasterKeyError as exc:
        raise NotReady(str(exc)) from None


def check_database(engine: Engine) -> str:
    """Reachable and migrated, or NotReady with one line saying which."""
    try:
        with read_only(engine) as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.current_revision(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise NotReady(f"database unreachable: {reason}") from None
    head = migrate.head_revision()
    if current != head:
        raise NotReady(f"database schema is at {current or 'nothing'}, expected {head}: run `yiwang init`")
    return current or ""


def initialise(settings: Settings) -> list[str]:
    """First run and every start: data directory, schema, master key, data and signing keys.

    Idempotent; returns what it created so the caller can say so.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        created = [] if before == migrate.head_revision() else ["database schema"]
        master = master_key(settings, create=True)
        with transaction(session_factory(engine)) as session:
            made = keystore.ensure_keys(session, master, settings.token_alg)
            from signing import pki  # the one place idp calls into signing: its CAs are made with the keys

            made += pki.ensure_pki(session, master, settings.issuer)
            from signing import sm_pki  # the SM2 hierarchy for national-format (GB/T 38540) seals

            made += sm_pki.ensure(session, master, settings.issuer)
            if made:
                audit.record(session, audit.Event(action="keys.create", subject="keystore", detail={"keys": made}))
        return created + made
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise NotReady(f"database unreachable: {reason}") from None
    finally:
        engine.dispose()


def open_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.db_url)
    try:
        check_database(engine)
        master = master_key(settings, create=False)
        sessions = session_factory(engine)
        protector = Protector.from_database(lambda: read_only(engine), master)
    except keys.MasterKeyError as exc:
        engine.dispose()
        raise NotReady(str(exc)) from None
    except keys.DecryptionError:
        engine.dispose()
        raise NotReady("the master key does not open this database's data keys") from None
    except BaseException:
        engine.dispose()
        raise
    metrics.watch_pool(engine)
    return Runtime(settings, engine, sessions, master, protector)
