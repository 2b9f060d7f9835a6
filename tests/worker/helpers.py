"""Helpers for the worker tests: run a worker in a thread, wait on conditions,
count SQS calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqs_testing import DEADLINE, CallCounter, queue_counts, wait_until

from sqs_workers.shutdown_policies import NEVER_SHUTDOWN, ShutdownPolicy
from sqs_workers.worker import Worker

__all__ = [
    "DEADLINE",
    "CallCounter",
    "WorkerThread",
    "queue_counts",
    "running_worker",
    "wait_until",
]


class WorkerThread:
    """A Worker running in a thread; ``error`` holds what ``run()`` raised."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as error:
            self.error = error

    def start(self) -> WorkerThread:
        self.thread.start()
        return self

    def stop(self, cold: bool = False, timeout: float = DEADLINE) -> None:
        assert self.worker.stop(cold=cold, wait=timeout), "worker did not stop"
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error

    def join(self, timeout: float = DEADLINE) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker did not stop by itself"
        if self.error is not None:
            raise self.error


@contextmanager
def running_worker(
    queues: Any,
    shutdown_policy: ShutdownPolicy = NEVER_SHUTDOWN,
    **options: Any,
) -> Iterator[Worker]:
    """A worker (short long-polls by default) stopped warm on exit."""
    options.setdefault("wait_seconds", 1)
    runner = WorkerThread(Worker(queues, shutdown_policy, **options)).start()
    try:
        yield runner.worker
    finally:
        runner.stop()
