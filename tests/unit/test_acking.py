"""The acking seam: deletes and visibility changes go out 10 per call."""

from __future__ import annotations

from typing import Any

from sqs_testing import CallCounter

from sqs_workers import SQSEnv, create_standard_queue
from sqs_workers.sqs.acking import Acker


def fill(sqs: SQSEnv, name: str, count: int) -> Any:
    create_standard_queue(sqs, name, visibility_timeout=30)
    queue = sqs.queue(name)
    with queue.add_batch():
        for i in range(count):
            queue.add_job("job", n=i)
    return queue


def test_deletes_are_sent_in_batches_of_ten(sqs: SQSEnv) -> None:
    queue = fill(sqs, "acks", 25)
    messages = queue.get_raw_messages(wait_seconds=0, max_messages=25)
    assert len(messages) == 25
    calls = CallCounter(sqs.sqs_client).calls
    acker = Acker(sqs.sqs_client, queue.get_queue_url(), queue.name)
    for message in messages:
        acker.delete(message)
    assert acker.pending() == 5  # two full batches went out as they filled
    acker.flush()
    assert calls == {"DeleteMessageBatch": 3}
    assert queue.get_raw_messages(wait_seconds=0) == []


def test_visibility_zero_makes_messages_receivable_again(sqs: SQSEnv) -> None:
    queue = fill(sqs, "vis", 12)
    messages = queue.get_raw_messages(wait_seconds=0, max_messages=12)
    assert queue.get_raw_messages(wait_seconds=0) == []
    calls = CallCounter(sqs.sqs_client).calls
    acker = Acker(sqs.sqs_client, queue.get_queue_url(), queue.name)
    for message in messages:
        acker.change_visibility(message, 0)
    acker.flush()
    assert calls == {"ChangeMessageVisibilityBatch": 2}
    again = queue.get_raw_messages(wait_seconds=0, max_messages=12)
    assert sorted(m.message_id for m in again) == sorted(m.message_id for m in messages)


def test_on_deleted_runs_only_after_a_confirmed_delete(sqs: SQSEnv) -> None:
    # The seam large payloads use: a message's on_deleted is called once SQS
    # confirmed its delete, never for a failed entry or a visibility change.
    queue = fill(sqs, "confirm", 3)
    deleted, failed, hidden = queue.get_raw_messages(wait_seconds=0, max_messages=3)
    called: list[str] = []
    for message in (deleted, failed, hidden):
        message.on_deleted = lambda m=message: called.append(m.message_id)
    failed.receipt_handle = "not-a-receipt-handle"
    acker = Acker(sqs.sqs_client, queue.get_queue_url(), queue.name)
    acker.delete(deleted)
    acker.delete(failed)
    acker.change_visibility(hidden, 0)
    acker.flush()
    assert called == [deleted.message_id]
