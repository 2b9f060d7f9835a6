"""Clocks for the in-memory SQS.

Every time-dependent rule (visibility timeouts, delays, retention, the
deduplication window, long polling) reads time through one clock object, so a
test can swap the real clock for a :class:`FakeClock` and move time forward
without sleeping.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """What the in-memory SQS needs from a clock."""

    def now(self) -> float:
        """Seconds since the epoch (SQS timestamps are wall-clock)."""
        ...

    def wait_timeout(self, seconds: float) -> float | None:
        """How long a long-poller may block on its condition for `seconds`.

        A real clock answers `seconds`; a fake clock answers None (block until
        notified) because its time only moves when someone calls advance(),
        and advance() wakes every waiter.
        """
        ...

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call the bound method `callback` whenever time jumps (fake clocks)."""
        ...


class RealClock:
    """The wall clock; the default."""

    def now(self) -> float:
        return time.time()

    def wait_timeout(self, seconds: float) -> float | None:
        return max(seconds, 0.0)

    def subscribe(self, callback: Callable[[], None]) -> None:
        # Real time never jumps under us, so nobody needs waking.
        return None


class FakeClock:
    """A clock that only moves when told to.

    ``advance(seconds)`` moves time forward and wakes every long-poller of
    every MemoryAWS using this clock, so they re-check for messages whose
    delay, visibility timeout or retention just ran out.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        # Weak: a clock shared by many short-lived MemoryAWS objects (one per
        # test) must not keep them all alive.
        self._subscribers: list[weakref.WeakMethod[Callable[[], None]]] = []

    def now(self) -> float:
        return self._now

    def wait_timeout(self, seconds: float) -> float | None:
        return None

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Register a bound method to call after every advance()."""
        with self._lock:
            self._subscribers.append(weakref.WeakMethod(callback))

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` and wake all waiters."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            self._subscribers = [r for r in self._subscribers if r() is not None]
            subscribers = [r() for r in self._subscribers]
        for callback in subscribers:
            if callback is not None:
                callback()

    def set(self, timestamp: float) -> None:
        """Jump to an absolute time (never backwards)."""
        self.advance(max(0.0, timestamp - self._now))
