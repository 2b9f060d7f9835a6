"""What the worker holds costs no receive (issue 14, items 2 and 3).

A message the worker holds is run, kept invisible by the heartbeat, or
released at once: it never comes back from SQS because it waited in our own
prefetch, so under a redrive policy nothing is dead-lettered unrun.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from sqs_workers import create_standard_queue

from .helpers import queue_counts, running_worker, wait_until


class HandedOut:
    """Counts, per message id, how often SQS handed a message to ``client``
    (an after-call hook: the same on both backends)."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        client.meta.events.register("after-call.sqs.ReceiveMessage", self._count)

    def _count(self, parsed: dict[str, Any], **_: Any) -> None:
        with self._lock:
            for message in parsed.get("Messages", ()):
                self.counts[message["MessageId"]] += 1


def jobs_queue(sqs: Any, name: str, visibility: int, dlq: bool = False) -> Any:
    policy = None
    if dlq:
        create_standard_queue(sqs, f"{name}_dead")
        policy = sqs.redrive_policy(f"{name}_dead", 2)
    create_standard_queue(
        sqs, name, visibility_timeout=visibility, redrive_policy=policy
    )
    return sqs.queue(name)


@pytest.mark.parametrize("heartbeat", [True, False])
def test_a_message_handed_out_late_in_a_long_poll_runs(
    sqs: Any, heartbeat: bool
) -> None:
    # Issue 14 (2): visibility shorter than the long poll, the message held
    # briefly by another consumer, so SQS hands it to the worker near the end
    # of a poll. Its visibility is reckoned from then, not from the poll's
    # start: it runs, on its first hand-out to the worker.
    queue = jobs_queue(sqs, "late", visibility=2)
    runs: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        runs.append(n)

    job.delay(n=1)
    assert len(queue.get_raw_messages(wait_seconds=0)) == 1  # the other consumer
    handed = HandedOut(queue.client)
    with running_worker(queue, wait_seconds=5, heartbeat=heartbeat):
        wait_until(lambda: runs, timeout=10, what="the job to run")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="its delete")
    assert runs == [1]
    assert list(handed.counts.values()) == [1]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_prefetched_jobs_all_run_and_none_is_dead_lettered(
    sqs: Any, concurrency: int
) -> None:
    # Issue 14 (3): visibility 2 s, maxReceiveCount 2, more jobs than run
    # within one visibility timeout, all prefetched at once. Each runs once;
    # nothing reaches the dead-letter queue.
    queue = jobs_queue(sqs, "prefetched", visibility=2, dlq=True)
    dead = sqs.queue("prefetched_dead")
    count = 6 * concurrency
    runs: Counter[int] = Counter()

    @queue.processor("job")
    def job(n: int) -> None:
        runs[n] += 1
        time.sleep(0.5)

    with queue.add_batch():
        for n in range(count):
            job.delay(n=n)
    with running_worker(queue, concurrency=concurrency):
        wait_until(lambda: len(runs) == count, timeout=30, what="every job")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="every delete")
    assert runs == Counter(range(count))  # each exactly once
    assert queue_counts(dead) == (0, 0)


def test_a_job_longer_than_the_visibility_runs_once_with_defaults(sqs: Any) -> None:
    # Issue 14 (3): one job at a time, default options, jobs outlasting the
    # visibility timeout: our own receiver must not take them again.
    queue = jobs_queue(sqs, "long", visibility=1)
    runs: Counter[int] = Counter()

    @queue.processor("job")
    def job(n: int) -> None:
        runs[n] += 1
        time.sleep(2.5)

    with queue.add_batch():
        for n in range(2):
            job.delay(n=n)
    with running_worker(queue):
        wait_until(lambda: len(runs) == 2, timeout=20, what="both jobs")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="both deletes")
    assert runs == Counter(range(2))
