"""When a worker stops on its own: never, when idle, after N jobs, or a mix.

A policy sees every batch result through ``update_state`` and is asked
``need_shutdown`` after it. ``now`` may be injected so tests pass timestamps
instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol


class ShutdownPolicy(Protocol):
    def update_state(self, batch_processing_result: Any) -> None: ...

    def need_shutdown(self) -> bool: ...


class NeverShutdown:
    def update_state(self, batch_processing_result: Any) -> None:
        pass

    def need_shutdown(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NeverShutdown()"


class IdleShutdown:
    """Stop once no job has been seen for ``idle_seconds``."""

    def __init__(
        self, idle_seconds: float, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_seconds = idle_seconds
        self._now = now
        self._is_idle = False
        self._last_seen = now()

    def update_state(self, batch_processing_result: Any) -> None:
        if batch_processing_result.total_count() == 0:
            self._is_idle = True
        else:
            self._is_idle = False
            self._last_seen = self._now()

    def need_shutdown(self) -> bool:
        return self._is_idle and self._now() - self._last_seen >= self.idle_seconds

    def __repr__(self) -> str:
        return f"IdleShutdown({self.idle_seconds})"


class MaxTasksShutdown:
    """Stop after at least ``max_tasks`` jobs, succeeded or failed."""

    def __init__(self, max_tasks: int) -> None:
        self.max_tasks = max_tasks
        self._tasks = 0

    def update_state(self, batch_processing_result: Any) -> None:
        self._tasks += batch_processing_result.total_count()

    def need_shutdown(self) -> bool:
        return self._tasks >= self.max_tasks

    def __repr__(self) -> str:
        return f"MaxTasksShutdown({self.max_tasks})"


class _Combined:
    def __init__(self, *policies: ShutdownPolicy) -> None:
        self.policies = policies

    def update_state(self, batch_processing_result: Any) -> None:
        for policy in self.policies:
            policy.update_state(batch_processing_result)

    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self.policies)
        return f"{type(self).__name__}({inner})"


class OrShutdown(_Combined):
    """Stop when any of the policies says so."""

    def need_shutdown(self) -> bool:
        return any(p.need_shutdown() for p in self.policies)


class AndShutdown(_Combined):
    """Stop when all of the policies say so."""

    def need_shutdown(self) -> bool:
        return all(p.need_shutdown() for p in self.policies)


NEVER_SHUTDOWN = NeverShutdown()
ASAP_SHUTDOWN = IdleShutdown(0)
