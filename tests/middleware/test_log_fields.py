"""Log records about jobs carry the original package's ``extra`` fields,
on its loggers, with its levels and messages, on every path."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sqs_workers import (
    IMMEDIATE_RETURN,
    ConstantBackoff,
    RawQueue,
    RetryJob,
    SQSEnv,
    create_standard_queue,
)
from sqs_workers.batching import BatchMessages
from sqs_workers.outcomes import DropJob
from sqs_workers.shutdown_policies import IdleShutdown
from sqs_workers.worker import Worker


def make_queue(sqs: SQSEnv, name: str = "q", **kwargs: Any) -> Any:
    create_standard_queue(sqs, name, visibility_timeout=30)
    kwargs.setdefault("backoff_policy", IMMEDIATE_RETURN)
    return sqs.queue(name, **kwargs)


def records(caplog: pytest.LogCaptureFixture, start: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(start)]


@pytest.mark.parametrize("how", ["process_batch", "worker"])
def test_job_records(sqs: SQSEnv, how: str, caplog: pytest.LogCaptureFixture) -> None:
    # Failed jobs stay hidden for a minute: the worker goes idle and stops.
    queue = make_queue(sqs, backoff_policy=ConstantBackoff(60))
    policy = ConstantBackoff(60)

    @queue.processor("fails")
    def fails() -> None:
        raise ValueError("boom")

    @queue.processor("retries")
    def retries() -> None:
        raise RetryJob(backoff_policy=policy)

    @queue.processor("drops")
    def drops() -> None:
        raise DropJob("gone")

    ids = {task.job_name: task.delay() for task in (fails, retries, drops)}
    with caplog.at_level(logging.DEBUG, logger="sqs_workers"):
        if how == "process_batch":
            queue.process_batch()
        else:
            Worker([queue], IdleShutdown(0.3), wait_seconds=0).run()

    (error,) = records(caplog, "Error while processing q.fails")[:1]
    assert error.name == "sqs_workers.processors"
    assert error.levelno == logging.ERROR and error.exc_info is not None
    assert error.message_id == ids["fails"]  # type: ignore[attr-defined]
    assert error.queue_name == "q"  # type: ignore[attr-defined]
    assert error.job_name == "fails"  # type: ignore[attr-defined]
    assert error.job_content_type == "pickle_compat"  # type: ignore[attr-defined]
    assert error.receive_count >= 1  # type: ignore[attr-defined]
    assert ids["fails"] in error.getMessage()  # findable in text logs too

    (retry,) = records(caplog, "Retrying q.retries")[:1]
    assert retry.levelno == logging.INFO
    assert retry.backoff_policy is policy  # type: ignore[attr-defined]
    assert retry.message_id == ids["retries"]  # type: ignore[attr-defined]

    (drop,) = records(caplog, "Dropping q.drops")[:1]
    assert drop.levelno == logging.WARNING
    assert drop.job_name == "drops"  # type: ignore[attr-defined]

    process = records(caplog, "Process q.fails")
    assert process and process[0].levelno == logging.DEBUG
    assert process[0].message_id == ids["fails"]  # type: ignore[attr-defined]


def test_batch_records_carry_message_ids(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_queue(sqs, batching_policy=BatchMessages(batch_size=3))

    @queue.processor("job")
    def job(messages: list[Any]) -> None:
        raise ValueError("boom")

    with queue.add_batch():
        for n in range(3):
            job.delay(n=n)
    queue.process_batch()
    failed = records(caplog, "Error while processing batch for q.job")
    assert failed
    assert not hasattr(failed[0], "message_id")
    assert len(failed[0].message_ids) >= 1  # type: ignore[attr-defined]


def test_raw_records(sqs: SQSEnv, caplog: pytest.LogCaptureFixture) -> None:
    create_standard_queue(sqs, "raw")
    queue = sqs.queue("raw", RawQueue, backoff_policy=IMMEDIATE_RETURN)

    def fails(message: Any) -> None:
        raise ValueError("boom")

    queue.connect_raw_processor(fails)
    message_id = queue.add_raw_job("body")
    queue.process_batch()
    (error,) = records(caplog, f"Error while processing raw.{message_id}")
    assert error.name == "sqs_workers.queue"
    assert error.message_id == message_id  # type: ignore[attr-defined]
    assert error.queue_name == "raw"  # type: ignore[attr-defined]


def test_unknown_job_names_the_message(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_queue(sqs)
    message_id = queue.add_job("nobody")
    queue.process_batch()
    (refused,) = records(caplog, "Refused q.nobody")
    assert message_id in refused.getMessage()
    assert "receive count 1" in refused.getMessage()
    assert refused.job_name == "nobody"  # type: ignore[attr-defined]


def test_engine_records_name_the_job(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed ack (the engine's own record) names queue and message ids."""
    from sqs_testing import wait_until

    from sqs_workers.sqs.acking import Acker

    queue = make_queue(sqs)
    queue.add_job("job", n=1)
    (message,) = queue.get_raw_messages(0)
    acker = Acker(queue.client, queue.get_queue_url(), queue.name)
    message.receipt_handle = "not-a-receipt-handle"
    acker.delete(message)
    acker.flush()
    wait_until(lambda: records(caplog, "DeleteMessageBatch"), what="the record")
    (record,) = records(caplog, "DeleteMessageBatch")
    assert record.queue_name == "q"  # type: ignore[attr-defined]
    assert record.message_ids == [message.message_id]  # type: ignore[attr-defined]
