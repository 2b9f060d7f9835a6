"""The worker on SQS's bad day (issue 14, items 4-6): acks retried and
guarded, an unreadable visibility timeout asked for rather than assumed,
and transient errors at start waited out."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_faults import client_error, run_degraded

from sqs_workers import SQSEnv, create_standard_queue
from sqs_workers.worker import Worker

from .helpers import queue_counts, running_worker, wait_until


def slow_jobs(sqs: Any, name: str, visibility: int, count: int, seconds: float) -> Any:
    """A queue of ``count`` jobs of ``seconds`` each; returns (queue, runs)."""
    create_standard_queue(sqs, name, visibility_timeout=visibility)
    queue = sqs.queue(name)
    runs: Counter[int] = Counter()

    @queue.processor("job")
    def job(n: int) -> None:
        runs[n] += 1
        time.sleep(seconds)

    with queue.add_batch():
        for n in range(count):
            job.delay(n=n)
    return queue, runs


def fail_calls(client: Any, action: str, code: str, status: int, while_: Any) -> None:
    """Refuse calls of ``action`` while ``while_()`` is true."""

    def refuse(**_: Any) -> None:
        if while_():
            raise client_error(code, status, action)

    client.meta.events.register(f"before-call.sqs.{action}", refuse)


def test_nothing_is_lost_and_few_jobs_run_twice_when_a_third_of_calls_fail() -> None:
    # Issue 14 (4), scaled down (benchmarks/degraded.py runs 3,000 jobs):
    # 30% of the worker's SQS calls fail, some after SQS did the work.
    figures = run_degraded(jobs=300, concurrency=8, visibility=2, timeout=60)
    print(figures.summary())
    assert figures.worker_error is None
    assert figures.lost == 0
    assert figures.duplicated <= 0.01 * figures.jobs


def test_a_finished_jobs_message_stays_hidden_until_its_delete_succeeds(
    sqs: Any,
) -> None:
    # Deletes refused for longer than the visibility timeout: the heartbeat
    # keeps the finished job's message invisible until one goes through, so
    # the job does not run again meanwhile.
    queue, runs = slow_jobs(sqs, "undeleted", visibility=1, count=1, seconds=0)
    first_delete: list[float] = []

    def refusing() -> bool:
        if not first_delete:
            first_delete.append(time.monotonic())
        return time.monotonic() - first_delete[0] < 3

    fail_calls(queue.client, "DeleteMessageBatch", "InternalError", 500, refusing)
    with running_worker(queue):
        wait_until(lambda: runs, what="the job")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="its delete")
    assert runs == Counter([0])
    assert time.monotonic() - first_delete[0] >= 3  # refused that long


def test_an_unreadable_visibility_timeout_is_asked_for_on_every_receive(
    sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Least-privilege IAM: GetQueueAttributes denied. The queue's timeout is
    # 1 s; the worker assumes 30 s and asks for it on each receive, so jobs
    # of 2 s are not handed out again while they run.
    queue, runs = slow_jobs(sqs, "unreadable", visibility=1, count=4, seconds=2)
    fail_calls(queue.client, "GetQueueAttributes", "AccessDenied", 403, lambda: True)
    asked: list[Any] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        asked.append(params.get("VisibilityTimeout"))

    # The API's own parameters: before-call on memory, before-parameter-build
    # on boto3 (whose before-call carries the serialized request).
    events = queue.client.meta.events
    if hasattr(queue.client, "aws"):
        events.register("before-call.sqs.ReceiveMessage", record)
    else:
        events.register("before-parameter-build.sqs.ReceiveMessage", record)
    # Counted through a client the denial does not touch.
    watcher = SQSEnv(session=sqs.session, queue_prefix=sqs.queue_prefix)
    watched = watcher.queue(queue.name)
    with caplog.at_level(logging.WARNING), running_worker(queue, concurrency=4):
        wait_until(lambda: len(runs) == 4, what="every job")
        wait_until(lambda: queue_counts(watched) == (0, 0), what="every delete")
    assert runs == Counter(range(4))  # none handed out again while it ran
    assert asked and set(asked) == {30}
    assert "asking for 30s on every receive" in caplog.text


def test_transient_errors_at_start_are_waited_out(sqs: Any) -> None:
    queue, runs = slow_jobs(sqs, "flaky_start", visibility=30, count=1, seconds=0)
    worker_env = SQSEnv(session=sqs.session, queue_prefix=sqs.queue_prefix)
    worker_queue = worker_env.queue("flaky_start")
    worker_queue.processors = queue.processors
    lookups: list[int] = []
    reads: list[int] = []

    def first_calls(calls: list[int], failing: int) -> Any:
        def failing_now() -> bool:
            calls.append(1)
            return len(calls) <= failing

        return failing_now

    client = worker_env.sqs_client
    fail_calls(
        client, "GetQueueUrl", "ThrottlingException", 400, first_calls(lookups, 3)
    )
    fail_calls(
        client, "GetQueueAttributes", "InternalError", 500, first_calls(reads, 2)
    )
    with running_worker(worker_queue):
        wait_until(lambda: runs, what="the job")
    assert runs == Counter([0])
    assert len(lookups) == 4 and len(reads) == 3


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 400), ("InternalError", 500)]
)
def test_start_gives_up_after_startup_timeout(sqs: Any, code: str, status: int) -> None:
    worker_env = SQSEnv(session=sqs.session, queue_prefix=sqs.queue_prefix)
    create_standard_queue(sqs, "down")
    queue = worker_env.queue("down")
    fail_calls(worker_env.sqs_client, "GetQueueUrl", code, status, lambda: True)
    began = time.monotonic()
    with pytest.raises(ClientError) as raised:
        Worker(queue, startup_timeout=0.5).run()
    assert raised.value.response["Error"]["Code"] == code
    assert 0.5 <= time.monotonic() - began < 5


def test_access_denied_at_start_fails_at_once(sqs: Any) -> None:
    worker_env = SQSEnv(session=sqs.session, queue_prefix=sqs.queue_prefix)
    create_standard_queue(sqs, "denied")
    queue = worker_env.queue("denied")
    calls: list[int] = []

    def denied() -> bool:
        calls.append(1)
        return True

    fail_calls(worker_env.sqs_client, "GetQueueUrl", "AccessDenied", 403, denied)
    with pytest.raises(ClientError) as raised:
        Worker(queue).run()
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert calls == [1]


def test_a_stop_during_start_up_retries_ends_them(sqs: Any) -> None:
    worker_env = SQSEnv(session=sqs.session, queue_prefix=sqs.queue_prefix)
    create_standard_queue(sqs, "stopped")
    queue = worker_env.queue("stopped")
    fail_calls(worker_env.sqs_client, "GetQueueUrl", "InternalError", 500, lambda: True)
    worker = Worker(queue)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.3)
    assert worker.stop(wait=5)
    assert errors and isinstance(errors[0], ClientError)
