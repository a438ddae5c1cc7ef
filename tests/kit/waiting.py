"""Waiting for another thread or process (a server starting, a delivery arriving): not for the clock.

Tests that need time to pass move the clock with time-machine instead; this only yields to real work done
elsewhere, polling `ready` until it holds or `timeout` seconds pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_pause = threading.Event()  # never set: `wait` is an interruptible pause between polls


def wait_until(ready: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        _pause.wait(interval)
