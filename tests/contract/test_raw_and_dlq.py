"""Raw queues, received message objects, draining, dead-letter queues."""

from __future__ import annotations

from typing import Any

import pytest

from sqs_workers import IMMEDIATE_RETURN, JobQueue, RawQueue, SQSEnv
from sqs_workers.batching import BatchMessages
from sqs_workers.deadletter_queue import DeadLetterQueue, PushBackSender
from sqs_workers.shutdown_policies import IdleShutdown

from .helpers import (
    make_queue,
    process_until,
    queued_count,
    receive_n,
    run_in_thread,
    wait_until,
)


def test_raw_queue_processor_gets_the_message(sqs: SQSEnv) -> None:
    cron = make_queue(sqs, "cron", RawQueue)
    seen: list[Any] = []

    @cron.raw_processor()
    def processor(message: Any) -> None:
        seen.append(message)

    message_id = cron.add_raw_job('{"message": "Hello world"}')
    assert isinstance(message_id, str)
    result = cron.process_batch()
    assert result.succeeded_count() == 1
    (message,) = seen
    assert message.body == '{"message": "Hello world"}'
    assert message.message_id == message_id
    assert isinstance(message.receipt_handle, str) and message.receipt_handle
    assert message.attributes["ApproximateReceiveCount"] == "1"
    assert int(message.attributes["SentTimestamp"]) > 0
    assert not message.message_attributes
    assert queued_count(cron) == 0


def test_connect_raw_processor_and_failure_keeps_the_message(sqs: SQSEnv) -> None:
    cron = make_queue(sqs, "cron", RawQueue, backoff_policy=IMMEDIATE_RETURN)
    calls: list[str] = []

    def processor(message: Any) -> None:
        calls.append(message.body)
        if len(calls) == 1:
            raise ValueError("first fails")

    cron.connect_raw_processor(processor)
    cron.add_raw_job("x")
    result = cron.process_batch()
    assert result.failed_count() == 1
    process_until(cron, lambda: len(calls) == 2)
    wait_until(lambda: queued_count(cron) == 0, what="deleted after success")


def test_raw_job_delay(sqs: SQSEnv) -> None:
    cron = make_queue(sqs, "cron", RawQueue)
    cron.add_raw_job("later", delay_seconds=2)
    assert cron.get_raw_messages(0) == []
    (message,) = receive_n(cron, 1)
    assert message.body == "later"


def test_raw_queue_with_batch_messages_gets_a_list(sqs: SQSEnv) -> None:
    cron = make_queue(sqs, "cron", RawQueue, batching_policy=BatchMessages(3))
    batches: list[list[Any]] = []

    @cron.raw_processor()
    def processor(messages: list[Any]) -> None:
        batches.append(messages)

    for n in range(3):
        cron.add_raw_job(f"m{n}")
    process_until(cron, lambda: sum(len(b) for b in batches) == 3)
    assert all(isinstance(b, list) for b in batches)
    assert sorted(m.body for b in batches for m in b) == ["m0", "m1", "m2"]
    wait_until(lambda: queued_count(cron) == 0, what="batch deleted")


def test_job_message_attributes(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "jobs")
    with sqs.context(request_id="r1"):
        queue.add_job("send_email", to="a")
    (message,) = receive_n(queue, 1)
    attrs = message.message_attributes
    assert attrs["JobName"] == {"StringValue": "send_email", "DataType": "String"}
    assert attrs["ContentType"] == {
        "StringValue": "pickle_compat",
        "DataType": "String",
    }
    assert attrs["JobContext"]["DataType"] == "String"
    assert isinstance(attrs["JobContext"]["StringValue"], str)


def test_get_raw_messages_above_ten(sqs: SQSEnv) -> None:
    cron = make_queue(sqs, "cron", RawQueue)
    for n in range(13):
        cron.add_raw_job(f"m{n}")
    messages = cron.get_raw_messages(0, max_messages=13)
    assert len(messages) == 13
    assert sorted(m.body for m in messages) == sorted(f"m{n}" for n in range(13))
    assert len({m.message_id for m in messages}) == 13


def test_get_raw_messages_limit(sqs: SQSEnv) -> None:
    cron = make_queue(sqs, "cron", RawQueue)
    for n in range(4):
        cron.add_raw_job(f"m{n}")
    got = cron.get_raw_messages(0, max_messages=2)
    assert 1 <= len(got) <= 2


def test_drain_queue_counts_what_it_deleted(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "jobs")
    with queue.add_batch():
        for n in range(12):
            queue.add_job("job", n=n)
    assert queue.drain_queue() == 12
    assert queued_count(queue) == 0
    assert queue.drain_queue() == 0


def test_copy_processors_runs_jobs_in_the_dead_letter_queue(sqs: SQSEnv) -> None:
    foo = make_queue(sqs, "foo")
    foo_dead = make_queue(sqs, "foo_dead")
    seen: list[Any] = []

    @foo.processor("job")
    def job(x: int) -> None:
        seen.append(x)

    foo.copy_processors(foo_dead)
    assert foo_dead.get_processor("job") is not None
    foo_dead.add_job("job", x=42)
    run_in_thread(
        lambda: foo_dead.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
    )
    assert seen == [42]
    assert queued_count(foo_dead) == 0


def test_dead_letter_queue_pushes_back_upstream(sqs: SQSEnv) -> None:
    foo = make_queue(sqs, "foo")
    foo_dead = make_queue(sqs, "foo_dead", DeadLetterQueue.maker(foo))
    assert isinstance(foo_dead, DeadLetterQueue)
    assert isinstance(foo_dead, RawQueue)
    seen: list[Any] = []
    foo.connect_processor("job", lambda x, context=None: seen.append(x))

    # a job message lands in the dead-letter queue (as SQS would move it)
    dead_jobs = JobQueue(env=sqs, name="foo_dead")
    dead_jobs.add_job("job", x=7)
    run_in_thread(
        lambda: foo_dead.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
    )
    assert queued_count(foo_dead) == 0
    # pushed back with a short delay: it arrives upstream, attributes intact
    process_until(foo, lambda: seen == [7])
    wait_until(lambda: queued_count(foo) == 0, what="processed upstream")


def test_dead_letter_queue_on_fifo_keeps_group_and_dedup_ids(sqs: SQSEnv) -> None:
    foo = make_queue(sqs, "foo.fifo")
    foo_dead = make_queue(sqs, "foo_dead.fifo", DeadLetterQueue.maker(foo))
    dead_jobs = JobQueue(env=sqs, name="foo_dead.fifo")
    dead_jobs.add_job("job", _deduplication_id="dd", _group_id="gg", x=1)
    foo_dead.process_batch()
    assert queued_count(foo_dead) == 0
    (message,) = receive_n(foo, 1)
    assert message.attributes["MessageGroupId"] == "gg"
    assert message.attributes["MessageDeduplicationId"] == "dd"
    assert message.message_attributes["JobName"]["StringValue"] == "job"


def test_push_back_sender_direct(sqs: SQSEnv) -> None:
    foo = make_queue(sqs, "foo", RawQueue)
    dead = make_queue(sqs, "dead", RawQueue)
    dead.add_raw_job("payload")
    (message,) = receive_n(dead, 1)
    PushBackSender(foo)(message)
    (pushed,) = receive_n(foo, 1)
    assert pushed.body == "payload"


@pytest.mark.parametrize("max_receive_count", [1, 3])
def test_redrive_to_the_dead_letter_queue(sqs: SQSEnv, max_receive_count: int) -> None:
    make_queue(sqs, "emails_dead")
    emails = make_queue(
        sqs,
        "emails",
        redrive_policy=sqs.redrive_policy("emails_dead", max_receive_count),
        backoff_policy=IMMEDIATE_RETURN,
    )
    dead = sqs.queue("emails_dead")
    calls: list[int] = []

    @emails.processor("send_email")
    def send_email(x: int) -> None:
        calls.append(x)
        raise ValueError("always fails")

    send_email.delay(x=1)
    # received max_receive_count times; the next receive moves it to the DLQ
    wait_until(
        lambda: emails.process_batch() is not None and queued_count(dead) == 1,
        what="message moved to the dead-letter queue",
    )
    assert calls == [1] * max_receive_count
    assert queued_count(emails) == 0
    (message,) = receive_n(dead, 1)
    assert message.message_attributes["JobName"]["StringValue"] == "send_email"


def test_redrive_policy_repr_and_values(sqs: SQSEnv) -> None:
    make_queue(sqs, "dlq")
    policy = sqs.redrive_policy("dlq", 3)
    assert policy.dead_letter_queue_name == "dlq"
    assert policy.max_receive_count == 3
    import json

    document = json.loads(policy.__json__())
    assert document["deadLetterTargetArn"].endswith(sqs.get_sqs_queue_name("dlq"))
    assert int(document["maxReceiveCount"]) == 3


def test_dead_letter_queue_push_back_is_delayed_on_standard_queues(
    sqs: SQSEnv,
) -> None:
    foo = make_queue(sqs, "foo", RawQueue)
    foo_dead = make_queue(sqs, "foo_dead", DeadLetterQueue.maker(foo))
    RawQueue(env=sqs, name="foo_dead").add_raw_job("again")
    result = foo_dead.process_batch()
    assert result.succeeded_count() == 1
    assert foo.get_raw_messages(0) == []  # held back for about a second
    (message,) = receive_n(foo, 1)
    assert message.body == "again"


def test_async_raw_processor_runs_before_its_message_is_deleted(sqs: SQSEnv) -> None:
    # An ``async def`` raw processor must be awaited by process_batch, not
    # reported as a success while its coroutine never ran.
    queue = make_queue(sqs, "araw", RawQueue)
    seen: list[str] = []

    @queue.raw_processor()
    async def handle(message: Any) -> None:
        seen.append(message.body)

    queue.add_raw_job("hello")
    process_until(queue, lambda: queued_count(queue) == 0)
    assert seen == ["hello"]
