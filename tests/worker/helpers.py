"""Helpers for the worker tests: run a worker in a thread, wait on conditions,
count SQS calls."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqs_workers.shutdown_policies import NEVER_SHUTDOWN, ShutdownPolicy
from sqs_workers.worker import Worker

DEADLINE = 15.0


def wait_until(
    condition: Callable[[], Any], timeout: float = DEADLINE, what: str = ""
) -> Any:
    """Poll ``condition`` until truthy; fail with ``what`` past the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


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


class CallCounter:
    """Counts SQS API calls (and their batch entries) made through a client.

    Calls are counted on ``before-call`` (emitted by boto3 and by the
    in-memory client alike). Entries too on the memory client, whose
    ``before-call`` params are the API's; boto3 passes the serialized HTTP
    request there, so its entries are counted on ``before-parameter-build``.
    """

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.entries: Counter[str] = Counter()
        self._lock = threading.Lock()
        client.meta.events.register("before-call.sqs.*", self._count)
        client.meta.events.register("before-parameter-build.sqs.*", self._entries)

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
            self.entries[model.name] += len(params.get("Entries", ()) or ())

    def _entries(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.entries[model.name] += len(params.get("Entries", ()) or ())

    def total(self) -> int:
        return sum(self.calls.values())


def queue_counts(queue: Any) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = queue.client.get_queue_attributes(
        QueueUrl=queue.get_queue_url(),
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )
