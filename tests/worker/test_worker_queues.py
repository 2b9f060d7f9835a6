"""Several queues in one worker share it fairly; BatchMessages keeps working."""

from __future__ import annotations

from typing import Any

from sqs_workers import create_standard_queue
from sqs_workers.batching import BatchMessages
from sqs_workers.worker import Worker

from .helpers import WorkerThread, queue_counts, running_worker, wait_until


def test_queues_take_turns(sqs: Any) -> None:
    create_standard_queue(sqs, "busy", visibility_timeout=30)
    create_standard_queue(sqs, "quiet", visibility_timeout=30)
    busy, quiet = sqs.queue("busy"), sqs.queue("quiet")
    order: list[str] = []

    @busy.processor("job")
    def busy_job(n: int) -> None:
        order.append("busy")

    @quiet.processor("job")
    def quiet_job(n: int) -> None:
        order.append("quiet")

    with busy.add_batch():
        for n in range(40):
            busy_job.delay(n=n)
    for n in range(5):
        quiet_job.delay(n=n)
    with running_worker([busy, quiet], concurrency=1):
        wait_until(lambda: order.count("quiet") >= 5, what="the quiet queue")
    # Taking turns, the quiet queue is done early, not after the busy one.
    last_quiet = max(i for i, q in enumerate(order) if q == "quiet")
    assert last_quiet < 20


def test_batch_messages_queue_gets_lists(sqs: Any) -> None:
    create_standard_queue(sqs, "b", visibility_timeout=30)
    queue = sqs.queue("b", batching_policy=BatchMessages(batch_size=5))
    batches: list[list[int]] = []

    @queue.processor("many")
    def many(jobs: list[dict[str, Any]]) -> None:
        batches.append([job["n"] for job in jobs])

    with queue.add_batch():
        for n in range(12):
            many.delay(n=n)
    with running_worker(queue, concurrency=2):
        wait_until(lambda: sum(len(b) for b in batches) >= 12, what="all jobs")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="all deleted")
    assert sorted(n for b in batches for n in b) == list(range(12))
    assert all(1 <= len(b) <= 5 for b in batches)


def test_worker_accepts_a_single_queue_and_stops_on_request(sqs: Any) -> None:
    create_standard_queue(sqs, "s", visibility_timeout=30)
    worker = Worker(sqs.queue("s"), wait_seconds=1)
    runner = WorkerThread(worker).start()
    assert worker.started.wait(10)
    runner.stop()
    assert worker.finished.is_set()
