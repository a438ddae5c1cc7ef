"""PDF verification in a child process with a deadline, a few at a time.

Anyone may ask us to verify a PDF, and pyHanko's work on a hostile one is only partly bounded by
`signing.verify.Limits`. A thread cannot be stopped once it runs, so a thread pool with a timeout would answer
the client but keep burning a core; a process can be killed. Each verification therefore runs in a process
forked from multiprocessing's fork server (a clean single-threaded parent with pyHanko already imported, so a
fork costs milliseconds and inherits none of the app's threads, locks or connections), and is killed at the
deadline. At most `Limits.workers` run at once per app process; one more is refused at once (503, retry
later) rather than queued, so a burst of hostile uploads cannot build a backlog that starves honest ones.
The child also gets a CPU-time limit, in case we die before we can kill it.

The child's log records (pyHanko logs certificate subjects) come back with the result and are re-emitted
here, so the app's masking filter sees them like any other record.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import resource
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from asn1crypto import x509 as asn1_x509

from signing import verify
from signing.errors import NotReady, SigningError, UnprocessablePdf

MAX_RELAYED_RECORDS = 200  # a document cannot flood our logs through the child either


class VerifierBusy(NotReady):
    """All verification slots are taken: retry in a moment (503 with Retry-After)."""

    retry_after = 2


class VerificationTimeout(UnprocessablePdf):
    """The document took longer than the deadline to verify: refused as too costly (422)."""

    slug, title = "verification-timeout", "Verification took too long"


@dataclass(frozen=True)
class _Job:
    data: bytes
    root: bytes
    intermediates: list[bytes]
    crls: list[bytes]
    limits: verify.Limits


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < MAX_RELAYED_RECORDS:
            # The message only: exception texts and tracebacks are library internals, and may hold names.
            self.records.append((record.name, record.levelno, record.getMessage()))


def _child(conn: Connection, job: _Job) -> None:
    cpu = int(job.limits.timeout_s) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    collector = _Collector()
    root = logging.getLogger()
    root.handlers[:] = [collector]
    root.setLevel(logging.INFO)
    outcome: tuple[str, Any]
    try:
        trust = verify.Trust(
            root=asn1_x509.Certificate.load(job.root),
            intermediates=[asn1_x509.Certificate.load(c) for c in job.intermediates],
            crls=job.crls,
        )
        outcome = ("report", verify.verify_pdf(job.data, trust, job.limits))
    except SigningError as exc:
        outcome = ("refused", (type(exc).__name__, exc.detail))
    except Exception as exc:  # noqa: BLE001 - never a library's message to the client, only that it failed
        outcome = ("failed", type(exc).__name__)
    conn.send((outcome, collector.records))
    conn.close()


class Verifier:
    """Runs `verify.verify_pdf` in a killable child process; one per signing context."""

    def __init__(self, limits: verify.Limits) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(max(limits.workers, 1))
        self._mp = multiprocessing.get_context("forkserver")
        self._mp.set_forkserver_preload(["signing.verify", "signing.verify_worker"])

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the verification slots, or refuse at once when none is free."""
        if not self._slots.acquire(blocking=False):
            raise VerifierBusy("验证请求过多，请稍后重试。Too many verifications are running; try again in a moment.")
        try:
            yield
        finally:
            self._slots.release()

    def verify(self, data: bytes, trust: verify.Trust) -> verify.Report:
        """The report, or: VerifierBusy (no slot), VerificationTimeout (deadline), UnprocessablePdf."""
        job = _Job(
            data=data,
            root=trust.root.dump(),
            intermediates=[c.dump() for c in trust.intermediates],
            crls=list(trust.crls),
            limits=self.limits,
        )
        with self.slot():
            return self._run(job)

    def _run(self, job: _Job) -> verify.Report:
        receiver, sender = self._mp.Pipe(duplex=False)
        process = self._mp.Process(target=_child, args=(sender, job), daemon=True)
        process.start()
        sender.close()
        try:
            if not receiver.poll(self.limits.timeout_s):
                raise VerificationTimeout(
                    f"the PDF took longer than {self.limits.timeout_s:g} s to verify; it is refused as too costly"
                )
            outcome, records = receiver.recv()
        except EOFError:
            raise UnprocessablePdf("the PDF cannot be verified (the verifier stopped)") from None
        finally:
            receiver.close()
            if process.is_alive():
                process.kill()
            process.join()
        for name, level, message in records:
            logging.getLogger(name).log(level, message)
        kind, value = outcome
        if kind == "report":
            return value  # type: ignore[no-any-return]
        if kind == "refused":
            raise UnprocessablePdf(value[1])
        logging.getLogger(__name__).warning("verification failed: %s", value)
        raise UnprocessablePdf("the PDF cannot be verified")
