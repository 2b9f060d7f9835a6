"""Helpers for the worker tests: run a worker in a thread, wait on conditions,
count SQS calls."""

from __future__ import annotations

import threading
import time
from collections import Counter
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


def first_seen(events: list[tuple[str, int]]) -> dict[str, list[int]]:
    """Per group, the order in which each job first ran.

    moto may hand a just-deleted message out again when a delete races a
    receive (a moto bug, not SQS behaviour); a repeat is not a reordering.
    """
    order: dict[str, list[int]] = {}
    for group, seq in events:
        runs = order.setdefault(group, [])
        if seq not in runs:
            runs.append(seq)
    return order


def stop_mid_drain(
    queue: Any, backend: str, count: int, job_seconds: float, **options: Any
) -> tuple[list[str], Counter[str]]:
    """Enqueue ``count`` jobs, run a worker, stop it warm halfway through.

    Returns the jobs that ran and how many times each message id was
    deleted (counted on the client, whatever the backend).
    """
    ran: list[str] = []
    lock = threading.Lock()

    @queue.processor("job")
    def job(n: int) -> None:
        with lock:
            ran.append(str(n))
        time.sleep(job_seconds)

    with queue.add_batch():
        for n in range(count):
            job.delay(n=n)
    deleted: Counter[str] = Counter()
    handles: dict[str, str] = {}

    def remember(parsed: dict[str, Any], **_: Any) -> None:
        for message in parsed.get("Messages", ()):
            handles[message["ReceiptHandle"]] = message["MessageId"]

    def count_deletes(params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("Entries", ()):
            deleted[handles[entry["ReceiptHandle"]]] += 1

    events = queue.client.meta.events
    events.register("after-call.sqs.ReceiveMessage", remember)
    # The API's own parameters (see CallCounter): boto3 emits this event,
    # the in-memory client only before-call.
    events.register("before-parameter-build.sqs.DeleteMessageBatch", count_deletes)
    if backend == "memory":
        events.register("before-call.sqs.DeleteMessageBatch", count_deletes)
    with running_worker(queue, **options):
        wait_until(lambda: len(ran) >= count // 2, what="half the jobs")
    return ran, deleted
