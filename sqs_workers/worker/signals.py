"""SIGTERM/SIGINT for a worker (or supervisor) process.

The handlers only count signals: the loop that owns the worker reads the
count and acts (first signal: warm stop; second: cold stop, as rq does).
Doing anything more in a handler (taking a lock, logging) could deadlock,
because a handler runs in the main thread between any two bytecodes,
possibly while that thread holds the very lock it would need.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SignalCounter:
    """How many stop signals arrived (written by the handler, read by the loop)."""

    def __init__(self) -> None:
        self.count = 0
        self.last: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.last = signum


def may_install(requested: bool | None) -> bool:
    """Install handlers when asked to, or by default in the main thread only.

    ``signal.signal`` works only in the main thread, and a worker started
    from a thread (a test, a web app) must leave the host's handlers alone.
    """
    in_main = threading.current_thread() is threading.main_thread()
    if requested is None:
        return in_main
    if requested and not in_main:
        raise RuntimeError("signal handlers can only be installed in the main thread")
    return requested


@contextmanager
def stop_signals(counter: SignalCounter, install: bool) -> Iterator[None]:
    """Route SIGTERM/SIGINT to ``counter`` inside the block; restore after."""
    if not install:
        yield
        return
    previous: dict[signal.Signals, Any] = {}
    for signum in STOP_SIGNALS:
        previous[signum] = signal.signal(signum, counter.handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
