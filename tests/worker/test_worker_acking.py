"""Acks: each message deleted when its own job ends, in batches of up to 10."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqs_workers import create_standard_queue
from sqs_workers.sqs.acking import Acker

from .helpers import (
    CallCounter,
    queue_counts,
    running_worker,
    stop_mid_drain,
    wait_until,
)


def test_deletes_are_batched(sqs: Any) -> None:
    create_standard_queue(sqs, "q", visibility_timeout=30)
    queue = sqs.queue("q")
    done: list[int] = []

    @queue.processor("noop")
    def noop(n: int) -> None:
        done.append(n)

    with queue.add_batch():
        for n in range(30):
            noop.delay(n=n)
    counter = CallCounter(queue.client)
    with running_worker(queue, concurrency=4):
        wait_until(lambda: len(set(done)) == 30, what="all jobs")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="all deleted")
    assert counter.calls["DeleteMessage"] == 0
    assert counter.entries["DeleteMessageBatch"] >= 30
    # Full batches of 10 when jobs finish together (a few short ones at most).
    assert counter.calls["DeleteMessageBatch"] <= 6
    assert counter.calls["ReceiveMessage"] <= 10


def test_a_message_is_acked_without_waiting_for_its_batch(sqs: Any) -> None:
    create_standard_queue(sqs, "q", visibility_timeout=30)
    queue = sqs.queue("q")
    release = threading.Event()
    finished: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        if n == 0:
            assert release.wait(10)
        finished.append(n)

    with queue.add_batch():  # one receive brings all ten
        for n in range(10):
            job.delay(n=n)
    with running_worker(queue, concurrency=10):
        # Nine deleted while the slow one still runs.
        wait_until(lambda: queue_counts(queue) == (0, 1), what="nine deleted")
        assert 0 not in finished
        release.set()
        wait_until(lambda: queue_counts(queue) == (0, 0), what="the last deleted")


class FakeClient:
    def __init__(self) -> None:
        self.batches: list[tuple[str, int, float]] = []
        self.sent = threading.Event()

    def delete_message_batch(self, QueueUrl: str, Entries: list[Any]) -> Any:
        self.batches.append(("delete", len(Entries), time.monotonic()))
        self.sent.set()
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[Any]) -> Any:
        self.batches.append(("visibility", len(Entries), time.monotonic()))
        self.sent.set()
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


class FakeMessage:
    def __init__(self, n: int) -> None:
        self.receipt_handle = f"r{n}"


def test_timed_acker_sends_a_full_batch_at_once() -> None:
    client = FakeClient()
    acker = Acker(client, "url", "q", max_delay=60)
    for n in range(10):
        acker.delete(FakeMessage(n))  # type: ignore[arg-type]
    wait_until(lambda: client.batches, what="a batch")
    assert client.batches[0][:2] == ("delete", 10)
    acker.close()


def test_timed_acker_sends_a_partial_batch_after_its_delay() -> None:
    client = FakeClient()
    acker = Acker(client, "url", "q", max_delay=0.05)
    start = time.monotonic()
    acker.delete(FakeMessage(1))  # type: ignore[arg-type]
    acker.change_visibility(FakeMessage(2), 5)  # type: ignore[arg-type]
    wait_until(lambda: len(client.batches) == 2, what="both batches")
    kinds = sorted((kind, size) for kind, size, _ in client.batches)
    assert kinds == [("delete", 1), ("visibility", 1)]
    assert client.batches[0][2] - start >= 0.04
    acker.close()


def test_timed_acker_sends_a_later_partial_batch_on_time_while_idle() -> None:
    # After a full batch (handed to a sender by the thread that filled it)
    # the flusher lingers on a timer instead of being woken for each first
    # entry: the next entry must still go after max_delay, neither before
    # nor much later.
    client = FakeClient()
    acker = Acker(client, "url", "q", max_delay=0.2)
    for n in range(10):
        acker.delete(FakeMessage(n))  # type: ignore[arg-type]
    wait_until(lambda: client.batches, what="the full batch")
    start = time.monotonic()
    acker.delete(FakeMessage(10))  # type: ignore[arg-type]
    wait_until(lambda: len(client.batches) == 2, what="the partial batch")
    assert client.batches[1][:2] == ("delete", 1)
    assert 0.15 <= client.batches[1][2] - start < 1.0
    acker.close()


def test_timed_acker_close_sends_what_is_pending() -> None:
    client = FakeClient()
    acker = Acker(client, "url", "q", max_delay=60)
    for n in range(13):
        acker.delete(FakeMessage(n))  # type: ignore[arg-type]
    acker.close()
    assert sorted(size for _, size, _ in client.batches) == [3, 10]
    assert acker.pending() == 0


def test_timed_acker_loses_nothing_under_concurrent_adds() -> None:
    # The flusher swaps the pending lists while threads add to them: every
    # entry must still be sent, exactly once.
    sent: list[str] = []

    class Recording(FakeClient):
        def delete_message_batch(self, QueueUrl: str, Entries: list[Any]) -> Any:
            sent.extend(e["ReceiptHandle"] for e in Entries)
            return super().delete_message_batch(QueueUrl, Entries)

    acker = Acker(Recording(), "url", "q", max_delay=0.001)

    def add(start: int) -> None:
        for n in range(start, start + 2000):
            acker.delete(FakeMessage(n))  # type: ignore[arg-type]

    threads = [threading.Thread(target=add, args=(i * 2000,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    acker.close()
    assert sorted(sent) == sorted(f"r{n}" for n in range(8000))


def test_a_stop_mid_drain_acks_each_run_job_once_and_loses_nothing(
    sqs: Any, backend: str
) -> None:
    # Issue 9/14: acks in flight in parallel, a warm stop at full speed.
    # Every job that ran is deleted exactly once; every other message is
    # receivable again at once (released), none left invisible or deleted.
    count = 400 if backend == "memory" else 40
    create_standard_queue(sqs, "drain", visibility_timeout=30)
    queue = sqs.queue("drain")
    ran, deleted = stop_mid_drain(
        queue, backend, count, 0.002, concurrency=8, wait_seconds=0
    )
    assert len(ran) < count, "stopped too late to be a stop mid-drain"
    assert all(times == 1 for times in deleted.values())
    assert len(deleted) == len(ran) == len(set(ran))
    assert queue_counts(queue) == (count - len(ran), 0)
