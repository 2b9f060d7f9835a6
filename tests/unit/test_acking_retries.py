"""Acks under a degraded SQS (issue 14, item 4; issue 9): failed deletes and
visibility changes are retried promptly and independently, several batches
are in flight at once, nothing is acked twice, nothing is lost on close."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from sqs_faults import Concurrent, FailEntries, client_error
from sqs_testing import CallCounter

from sqs_workers import SQSEnv, create_standard_queue
from sqs_workers.sqs.acking import Acker
from sqs_workers.sqs.message import Message


def received(sqs: SQSEnv, name: str, count: int) -> tuple[Any, list[Message]]:
    create_standard_queue(sqs, name, visibility_timeout=30)
    queue = sqs.queue(name)
    with queue.add_batch():
        for i in range(count):
            queue.add_job("job", n=i)
    messages = queue.get_raw_messages(wait_seconds=0, max_messages=count)
    assert len(messages) == count
    return queue, messages


class Deleted:
    """Entries SQS reported deleted, per receipt handle (after-call)."""

    def __init__(self, client: Any) -> None:
        self.ids: list[str] = []
        self._lock = threading.Lock()
        client.meta.events.register("after-call.sqs.DeleteMessageBatch", self._count)

    def _count(self, parsed: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.ids.extend(e["Id"] for e in parsed.get("Successful", ()))


def test_several_delete_batches_are_in_flight_at_once(sqs: SQSEnv) -> None:
    queue, messages = received(sqs, "parallel", 30)
    overlap = Concurrent(sqs.sqs_client, "DeleteMessageBatch")
    counter = CallCounter(sqs.sqs_client)
    acker = Acker(sqs.sqs_client, queue.get_queue_url(), queue.name, max_delay=0.05)
    for message in messages:
        acker.delete(message)
    acker.close()
    assert overlap.most >= 2
    # Still whole batches of 10, each entry sent once.
    assert counter.calls["DeleteMessageBatch"] == 3
    assert counter.entries["DeleteMessageBatch"] == 30
    assert queue.get_raw_messages(wait_seconds=0) == []


def test_a_failing_delete_call_holds_up_no_other_and_is_retried(
    sqs: SQSEnv,
) -> None:
    queue, messages = received(sqs, "retried", 30)
    client = sqs.sqs_client
    deleted = Deleted(client)
    lock = threading.Lock()
    calls: list[int] = []
    others_went_through: list[bool] = []

    def first_call_hangs_then_fails(**_: Any) -> None:
        with lock:
            first = not calls
            calls.append(1)
        if first:
            # A call stuck in a slow, failing SQS: the other two batches
            # must not wait for it.
            others_went_through.append(
                wait_until(lambda: len(deleted.ids) >= 20, timeout=5)
            )
            raise client_error("ThrottlingException", 400, "DeleteMessageBatch")

    client.meta.events.register(
        "before-call.sqs.DeleteMessageBatch", first_call_hangs_then_fails
    )
    acker = Acker(client, queue.get_queue_url(), queue.name, max_delay=0.05)
    for message in messages:
        acker.delete(message)
    acker.close()
    assert others_went_through == [True]
    assert len(calls) == 4  # three batches and the failed one's retry
    assert len(deleted.ids) == 30  # each entry deleted once
    assert queue.get_raw_messages(wait_seconds=0) == []


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("timed", [True, False])
def test_retryable_failed_entries_are_sent_again(sqs: SQSEnv, timed: bool) -> None:
    queue, messages = received(sqs, "partial", 10)
    client = sqs.sqs_client
    partial = FailEntries(client, "DeleteMessageBatch", "InternalError")
    counter = CallCounter(client)
    acker = Acker(
        client, queue.get_queue_url(), queue.name, max_delay=0.05 if timed else None
    )
    for message in messages:
        acker.delete(message)
    acker.close()
    assert partial.failed_ids == ["0"]
    assert counter.calls["DeleteMessageBatch"] == 2  # the batch, then its one entry
    assert queue.get_raw_messages(wait_seconds=0) == []


def test_an_invalid_receipt_handle_is_not_retried(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    queue, messages = received(sqs, "invalid", 2)
    stale = Message(
        sqs.sqs_client,
        queue.get_queue_url(),
        {"MessageId": "gone", "ReceiptHandle": "not-a-receipt-handle", "Body": "x"},
    )
    counter = CallCounter(sqs.sqs_client)
    acker = Acker(sqs.sqs_client, queue.get_queue_url(), queue.name, max_delay=0.05)
    with caplog.at_level(logging.WARNING):
        for message in [stale, *messages]:
            acker.delete(message)
        acker.close()
    assert counter.calls["DeleteMessageBatch"] == 1
    assert "ReceiptHandleIsInvalid" in caplog.text
    assert queue.get_raw_messages(wait_seconds=0) == []


def test_guarded_jobs_are_released_once_their_delete_is_confirmed(
    sqs: SQSEnv,
) -> None:
    queue, messages = received(sqs, "guarded", 3)
    client = sqs.sqs_client
    release = threading.Event()

    def hold(**_: Any) -> None:
        release.wait(5)

    client.meta.events.register("before-call.sqs.DeleteMessageBatch", hold)
    acker = Acker(client, queue.get_queue_url(), queue.name, max_delay=0.01)

    class Job:
        deadline = 0.0
        capped = False

        def __init__(self, message: Message) -> None:
            self.message = message

        def all_messages(self) -> list[Message]:
            return [self.message]

    jobs = [Job(m) for m in messages]
    for job in jobs:
        acker.delete(job.message)
        acker.guard(job)
    assert acker.guarded() == 3
    assert set(map(id, acker.guarded_due(1.0))) == set(map(id, jobs))
    release.set()
    acker.close()
    assert acker.guarded() == 0
