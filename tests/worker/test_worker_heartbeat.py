"""Heartbeat: jobs longer than the visibility timeout run once; the 12 h cap."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from sqs_workers import create_standard_queue
from sqs_workers.worker.heartbeat import RETRY_INTERVAL, Heartbeat, plan_extension
from sqs_workers.worker.options import HeartbeatOptions

from .helpers import CallCounter, queue_counts, running_worker, wait_until


def test_long_jobs_run_once_with_the_heartbeat(sqs: Any) -> None:
    # Visibility 1 s, jobs of 3 s: without extensions each message would be
    # received again (the worker has free slots) while its job still runs.
    create_standard_queue(sqs, "slow", visibility_timeout=1)
    queue = sqs.queue("slow")
    runs: list[int] = []

    @queue.processor("slow")
    def slow(n: int) -> None:
        runs.append(n)
        time.sleep(3)

    with queue.add_batch():
        for n in range(3):
            slow.delay(n=n)
    counter = CallCounter(queue.client)
    with running_worker(queue, concurrency=6):
        wait_until(lambda: len(runs) == 3, what="all started")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="all deleted")
    assert sorted(runs) == [0, 1, 2]  # each exactly once
    # Extensions went out batched, several messages per call.
    assert counter.calls["ChangeMessageVisibility"] == 0
    calls = counter.calls["ChangeMessageVisibilityBatch"]
    assert calls >= 2
    assert counter.entries["ChangeMessageVisibilityBatch"] > calls


def test_plan_extension_stops_at_the_cap() -> None:
    cap = 12 * 3600 - 60
    assert plan_extension(100.0, 0.0, 30, cap) == 30
    assert plan_extension(cap - 10, 0.0, 30, cap) == 10  # up to the cap only
    assert plan_extension(cap - 1, 0.0, 30, cap) is None  # nothing left


class FakeJob:
    def __init__(self, received_at: float) -> None:
        self.received_at = received_at
        self.deadline = received_at + 30
        self.capped = False
        self.message = type("M", (), {"receipt_handle": "r", "message_id": "m1"})()

    def all_messages(self) -> list[Any]:
        return [self.message]

    def log_extra(self) -> dict[str, Any]:
        return {"queue_name": "q", "message_id": "m1"}


class FakeRuntime:
    name = "q"
    url = "url"
    visibility_timeout = 30

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.client = self
        self.acker = self

    def guarded_due(self, before: float) -> list[Any]:
        return []

    def change_message_visibility_batch(self, QueueUrl: str, Entries: Any) -> Any:
        self.sent.extend(e["VisibilityTimeout"] for e in Entries)
        return {"Successful": []}


class FakeDispatcher:
    def __init__(self, job: FakeJob) -> None:
        self.job = job

    def due_for_extension(self, runtime: Any, before: float) -> list[Any]:
        job = self.job
        return [job] if job.deadline < before and not job.capped else []

    def is_held(self, job: Any) -> bool:
        return True


def test_heartbeat_logs_and_stops_at_the_twelve_hour_cap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    job = FakeJob(received_at=0.0)
    runtime = FakeRuntime()
    heartbeat = Heartbeat(
        [runtime],  # type: ignore[list-item]
        FakeDispatcher(job),  # type: ignore[arg-type]
        HeartbeatOptions(),
        None,
        clock=lambda: now[0],
    )
    with caplog.at_level(logging.WARNING):
        while not job.capped and now[0] < 13 * 3600:
            now[0] += heartbeat.interval
            heartbeat.beat()
    assert job.capped
    assert 12 * 3600 - 120 < now[0] <= 12 * 3600  # stopped just before 12 h
    assert max(runtime.sent) == 30
    capped = [r for r in caplog.records if "12 hours" in r.getMessage()]
    assert len(capped) == 1
    assert capped[0].message_id == "m1"  # type: ignore[attr-defined]


class SlowRuntime(FakeRuntime):
    """A queue whose extension calls each wait for a second one to overlap."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self.barrier = barrier

    def change_message_visibility_batch(self, QueueUrl: str, Entries: Any) -> Any:
        self.barrier.wait()  # breaks (raises) unless another call is in flight
        return super().change_message_visibility_batch(QueueUrl, Entries)


class FakeDispatcherOf:
    def __init__(self, jobs: dict[int, list[Any]]) -> None:
        self.jobs = jobs

    def due_for_extension(self, runtime: Any, before: float) -> list[Any]:
        return [j for j in self.jobs[id(runtime)] if j.deadline < before]

    def is_held(self, job: Any) -> bool:
        return True


def test_a_beat_sends_its_batches_in_parallel_without_retry_sleeps() -> None:
    # Two queues, one due message each: their extensions are in flight at
    # once (each call waits for the other), so a slow queue holds up no other.
    barrier = threading.Barrier(2, timeout=5)
    runtimes = [SlowRuntime(barrier), SlowRuntime(barrier)]
    jobs = {id(rt): [FakeJob(received_at=0.0)] for rt in runtimes}
    heartbeat = Heartbeat(
        runtimes,  # type: ignore[arg-type]
        FakeDispatcherOf(jobs),  # type: ignore[arg-type]
        HeartbeatOptions(),
        None,
        clock=lambda: 20.0,
    )
    assert heartbeat.beat() == 2
    assert [rt.sent for rt in runtimes] == [[30], [30]]


def test_a_failed_extension_is_tried_again_at_a_sooner_beat() -> None:
    class Failing(FakeRuntime):
        def change_message_visibility_batch(self, QueueUrl: str, Entries: Any) -> Any:
            raise ConnectionError("no route")

    runtime = Failing()
    job = FakeJob(received_at=0.0)
    heartbeat = Heartbeat(
        [runtime],  # type: ignore[list-item]
        FakeDispatcher(job),  # type: ignore[arg-type]
        HeartbeatOptions(interval=10),
        None,
        clock=lambda: 20.0,
    )
    began = time.monotonic()
    assert heartbeat.beat() == 0  # one attempt, no backoff sleeps
    assert time.monotonic() - began < 0.5
    assert heartbeat._next_wait() == RETRY_INTERVAL < 10
