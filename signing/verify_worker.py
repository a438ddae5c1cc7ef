"""PDF verification in a killable process with a deadline, a few at a time.

Anyone may ask us to verify a PDF, and pyHanko's work on a hostile one is only partly bounded by
`signing.VerifyLimits`. A thread cannot be stopped once it runs, so a thread pool with a timeout would answer
the client but keep burning a core; a process can be killed. So: a small pool of worker processes (started
from multiprocessing's fork server, so they inherit none of the app's threads, locks or connections, and pay
the imports once), and for each document the worker forks a child that verifies it while the worker waits
with the deadline and kills the child when it passes (the answer is then a 422: too costly to verify). The
worker itself runs no document code, so the pool survives any document; a fork of a warm single-threaded
worker costs milliseconds.

At most `Limits.workers` verifications run at once per app process; one more is refused at once (503, retry
later) rather than queued, so a burst of hostile uploads cannot build a backlog that starves honest ones.
The child also gets a CPU-time limit, in case nobody is left to kill it.

The child's log records (pyHanko logs certificate subjects) come back with the result and are re-emitted
here, so the app's masking sees them like any other record.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import resource
import select
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509 as asn1_x509

from signing import verify
from signing.errors import NotReady, SigningError, UnprocessablePdf
from signing.ports import VerifyLimits

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
    limits: VerifyLimits


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < MAX_RELAYED_RECORDS:
            # The message only: exception texts and tracebacks are library internals, and may hold names.
            self.records.append((record.name, record.levelno, record.getMessage()))


def _verify_here(job: _Job) -> tuple[tuple[str, Any], list[tuple[str, int, str]]]:
    """The verification itself, with its log records collected (runs in the throw-away grandchild)."""
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
        outcome = ("refused", exc.detail)
    except Exception as exc:  # noqa: BLE001 - never a library's message to the client, only that it failed
        outcome = ("failed", type(exc).__name__)
    return outcome, collector.records


def run_isolated(job: _Job) -> tuple[tuple[str, Any], list[tuple[str, int, str]]]:
    """In a pool worker: fork, verify in the child, kill it at the deadline. The worker itself only waits, so
    it survives every document and the pool stays whole."""
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: verify, write the pickled outcome, and leave without running any cleanup
        os.close(receive)
        code = 0
        try:
            payload = pickle.dumps(_verify_here(job))
            with os.fdopen(send, "wb") as out:
                out.write(payload)
        except BaseException:  # noqa: BLE001 - whatever happens, the child ends here
            code = 1
        os._exit(code)
    os.close(send)
    chunks: list[bytes] = []
    deadline = time.monotonic() + job.limits.timeout_s
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([receive], [], [], left)[0]:
                return ("timeout", None), []
            chunk = os.read(receive, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(receive)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    try:
        return pickle.loads(b"".join(chunks))  # type: ignore[no-any-return]  # our own child's bytes
    except (pickle.UnpicklingError, EOFError, ValueError):
        return ("failed", "the verifier stopped"), []


class Verifier:
    """Runs `verify.verify_pdf` in killable processes; one per signing context."""

    def __init__(self, limits: VerifyLimits) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(max(limits.workers, 1))
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the verification slots, or refuse at once when none is free."""
        if not self._slots.acquire(blocking=False):
            raise VerifierBusy("验证请求过多，请稍后重试。Too many verifications are running; try again in a moment.")
        try:
            yield
        finally:
            self._slots.release()

    def _workers(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["signing.verify_worker"])
                self._pool = ProcessPoolExecutor(max_workers=max(self.limits.workers, 1), mp_context=context)
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

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
            pool = self._workers()
            try:
                # The worker enforces the deadline; the margin covers handing the bytes over and back.
                outcome, records = pool.submit(run_isolated, job).result(timeout=self.limits.timeout_s + 30)
            except (BrokenProcessPool, FutureTimeout):
                self._discard(pool)
                raise UnprocessablePdf("the PDF cannot be verified (the verifier stopped)") from None
        for name, level, message in records:
            logging.getLogger(name).log(level, message)
        kind, value = outcome
        if kind == "report":
            return value  # type: ignore[no-any-return]
        if kind == "timeout":
            raise VerificationTimeout(
                f"the PDF took longer than {self.limits.timeout_s:g} s to verify; it is refused as too costly"
            )
        if kind == "refused":
            raise UnprocessablePdf(value)
        logging.getLogger(__name__).warning("verification failed: %s", value)
        raise UnprocessablePdf("the PDF cannot be verified")
