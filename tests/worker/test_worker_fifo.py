"""FIFO queues: one job per group at a time, in order; groups in parallel."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqs_workers import ConstantBackoff, RetryJob, create_fifo_queue

from .helpers import first_seen, running_worker, wait_until


def test_groups_are_serialized_in_order_and_run_in_parallel(sqs: Any) -> None:
    create_fifo_queue(sqs, "f.fifo", content_based_deduplication=True)
    queue = sqs.queue("f.fifo")
    lock = threading.Lock()
    active: dict[str, int] = {}
    overlap_in_group: list[str] = []
    peak_groups = [0]
    events: list[tuple[str, int]] = []

    @queue.processor("step")
    def step(group: str, seq: int) -> None:
        with lock:
            if active.get(group):
                overlap_in_group.append(group)
            active[group] = active.get(group, 0) + 1
            peak_groups[0] = max(peak_groups[0], sum(1 for v in active.values() if v))
            events.append((group, seq))
        time.sleep(0.02)
        with lock:
            active[group] -= 1

    groups = ["a", "b", "c"]
    with queue.add_batch():
        for seq in range(6):
            for group in groups:
                step.delay(group=group, seq=seq, _group_id=group)
    # One receiver: moto's FIFO receive may hand a group to two receives in
    # flight at once (a server race); order with several receives in flight
    # is test_worker_receivers.py's, on the in-memory SQS.
    with running_worker(queue, concurrency=6, receivers=1):
        wait_until(
            lambda: (
                all(len(v) == 6 for v in first_seen(events).values())
                and len(first_seen(events)) == 3
            ),
            what="all jobs",
        )
    assert not overlap_in_group
    assert first_seen(events) == {g: list(range(6)) for g in groups}
    assert peak_groups[0] >= 2  # different groups did run at the same time


def test_a_failure_holds_back_the_rest_of_its_group(sqs: Any) -> None:
    create_fifo_queue(sqs, "g.fifo", content_based_deduplication=True)
    queue = sqs.queue("g.fifo")
    events: list[tuple[int, str]] = []

    @queue.processor("step")
    def step(seq: int) -> None:
        if seq == 0 and not any(e == (0, "failed") for e in events):
            events.append((0, "failed"))
            raise RetryJob(backoff_policy=ConstantBackoff(0))
        events.append((seq, "ok"))

    with queue.add_batch():
        for seq in range(4):
            step.delay(seq=seq, _group_id="g")
    with running_worker(queue, concurrency=4, receivers=1):  # see above
        wait_until(
            lambda: {s for s, r in events if r == "ok"} == {0, 1, 2, 3},
            what="all jobs",
        )
    oks = []
    for seq, result in events:
        if result == "ok" and seq not in oks:
            oks.append(seq)
    assert events[0] == (0, "failed")
    assert oks == [0, 1, 2, 3]  # nothing overtook the retried first job
