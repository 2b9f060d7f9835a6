"""Heartbeat: jobs longer than the visibility timeout run once; the 12 h cap."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from sqs_workers import create_standard_queue
from sqs_workers.worker.heartbeat import Heartbeat, plan_extension
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
    assert sum("12 hours" in r.getMessage() for r in caplog.records) == 1
