"""How each job ends: success, error, RetryJob, DropJob, ProcessingResult, and
SQS errors on the worker's own calls."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sqs_workers import (
    IMMEDIATE_RETURN,
    ConstantBackoff,
    ProcessingResult,
    RawQueue,
    RetryJob,
    create_standard_queue,
)
from sqs_workers.processors import DropJob
from sqs_workers.queue import NOT_FOUND_CODES
from sqs_workers.worker import Worker

from .helpers import CallCounter, queue_counts, running_worker, wait_until


def make_queue(sqs: Any, name: str = "q", **kwargs: Any) -> Any:
    create_standard_queue(sqs, name, visibility_timeout=30)
    return sqs.queue(name, **kwargs)


def test_handler_error_retries_after_the_backoff(sqs: Any) -> None:
    queue = make_queue(sqs, backoff_policy=IMMEDIATE_RETURN)
    attempts: list[int] = []

    @queue.processor("flaky")
    def flaky(n: int) -> None:
        attempts.append(n)
        if len(attempts) == 1:
            raise ValueError("first try fails")

    flaky.delay(n=1)
    counter = CallCounter(queue.client)
    with running_worker(queue, concurrency=2):
        wait_until(lambda: len(attempts) >= 2, what="the retry")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="the delete")
    assert counter.calls["ChangeMessageVisibilityBatch"] >= 1


def test_retry_job_is_an_intended_retry(
    sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_queue(sqs)
    attempts: list[int] = []

    @queue.processor("again")
    def again() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RetryJob(backoff_policy=ConstantBackoff(0))

    again.delay()
    with caplog.at_level(logging.INFO), running_worker(queue, concurrency=2):
        wait_until(lambda: len(attempts) >= 2, what="the retry")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="the delete")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("Retrying" in r.getMessage() for r in caplog.records)


def test_drop_job_deletes_without_retry(sqs: Any) -> None:
    queue = make_queue(sqs, backoff_policy=IMMEDIATE_RETURN)
    attempts: list[int] = []

    @queue.processor("hopeless")
    def hopeless() -> None:
        attempts.append(1)
        raise DropJob("the record is gone")

    hopeless.delay()
    with running_worker(queue, concurrency=2):
        wait_until(lambda: attempts, what="the job")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="the delete")
    assert len(attempts) == 1


def test_processing_result_false_uses_its_backoff(sqs: Any) -> None:
    create_standard_queue(sqs, "raw", visibility_timeout=30)
    queue = sqs.queue("raw", RawQueue)
    attempts: list[str] = []

    @queue.raw_processor()
    def handle(message: Any) -> Any:
        attempts.append(message.body)
        if len(attempts) == 1:
            return ProcessingResult(success=False, backoff_policy=ConstantBackoff(0))
        return None

    queue.add_raw_job("x")
    with running_worker(queue, concurrency=2):
        wait_until(lambda: len(attempts) >= 2, what="the retry")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="the delete")


def throttle(client: Any, action: str, times: int) -> list[int]:
    """Make the next ``times`` calls of ``action`` fail with Throttling."""
    failed: list[int] = []

    def fail(**_: Any) -> None:
        if len(failed) < times:
            failed.append(1)
            raise ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "slow down"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                action,
            )

    client.meta.events.register(f"before-call.sqs.{action}", fail)
    return failed


def test_sqs_errors_are_retried_and_lose_nothing(sqs: Any) -> None:
    queue = make_queue(sqs)
    done: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        done.append(n)

    with queue.add_batch():
        for n in range(5):
            job.delay(n=n)
    receive_failures = throttle(queue.client, "ReceiveMessage", 3)
    delete_failures = throttle(queue.client, "DeleteMessageBatch", 2)
    with running_worker(queue, concurrency=2):
        wait_until(lambda: len(set(done)) == 5, what="all jobs")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="all deleted")
    assert len(receive_failures) == 3 and len(delete_failures) == 2


def test_missing_queue_is_a_clear_error(sqs: Any) -> None:
    queue = sqs.queue("never-created")
    with pytest.raises(ClientError) as raised:
        Worker(queue, wait_seconds=0).run()
    assert raised.value.response["Error"]["Code"] in NOT_FOUND_CODES
    assert "does not exist" in str(raised.value)


def test_queue_deleted_while_running_stops_the_worker(sqs: Any) -> None:
    from .helpers import WorkerThread

    queue = make_queue(sqs)
    runner = WorkerThread(Worker(queue, wait_seconds=1)).start()
    assert runner.worker.started.wait(10)
    queue.client.delete_queue(QueueUrl=queue.get_queue_url())
    with pytest.raises(ClientError) as raised:
        runner.join()
    assert raised.value.response["Error"]["Code"] in NOT_FOUND_CODES
