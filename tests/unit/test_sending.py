"""The sending seam: exact sizes, batches cut before the SQS limits."""

from __future__ import annotations

import pytest
from sqs_testing import CallCounter

from sqs_workers import SQSEnv, create_standard_queue
from sqs_workers.exceptions import MessageTooLarge
from sqs_workers.sqs.sending import MAX_MESSAGE_LENGTH, encode_job, entry_size


def test_entry_size_counts_body_and_attributes_in_utf8_bytes() -> None:
    entry = encode_job("jöb", "bödy", "ctx", "json")
    expected = (
        len("bödy".encode())
        + len("ContentType") + len("String") + len("json")
        + len("JobContext") + len("String") + len("ctx")
        + len("JobName") + len("String") + len("jöb".encode())
    )  # fmt: skip
    assert entry_size(entry) == expected


def test_oversize_job_is_refused_before_sending(sqs: SQSEnv) -> None:
    create_standard_queue(sqs, "big")
    queue = sqs.queue("big")
    calls = CallCounter(sqs.sqs_client).calls
    with pytest.raises(MessageTooLarge) as caught:
        queue.add_job("job", _content_type="json", data="x" * MAX_MESSAGE_LENGTH)
    assert caught.value.response["Error"]["Code"] == "MessageTooLong"
    assert str(MAX_MESSAGE_LENGTH) in str(caught.value)
    assert "SendMessage" not in calls and "SendMessageBatch" not in calls


def test_batch_is_cut_before_the_request_size_limit(sqs: SQSEnv) -> None:
    create_standard_queue(sqs, "cut")
    queue = sqs.queue("cut")
    calls = CallCounter(sqs.sqs_client).calls
    with queue.add_batch():
        for i in range(3):
            queue.add_job("job", _content_type="json", n=i, data="x" * 400_000)
    # 3 x 400 kB do not fit in one 1 MiB request: two requests, none rejected.
    assert calls["SendMessageBatch"] == 2
    received = queue.get_raw_messages(wait_seconds=0, max_messages=10)
    assert len(received) == 3


def test_batch_sends_ten_entries_per_call(sqs: SQSEnv) -> None:
    create_standard_queue(sqs, "ten")
    queue = sqs.queue("ten")
    calls = CallCounter(sqs.sqs_client).calls
    with queue.add_batch():
        for i in range(25):
            queue.add_job("job", n=i)
    assert calls["SendMessageBatch"] == 3
    assert queue.drain_queue() == 25
