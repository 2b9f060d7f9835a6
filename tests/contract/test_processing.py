"""Processing semantics: what a handler's outcome does to its message."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sqs_workers import (
    IMMEDIATE_RETURN,
    ConstantBackoff,
    ProcessingResult,
    RetryJob,
    SQSEnv,
)
from sqs_workers.backoff_policies import BackoffPolicy
from sqs_workers.batching import BatchMessages
from sqs_workers.core import BatchProcessingResult
from sqs_workers.processors import Processor
from sqs_workers.shutdown_policies import (
    ASAP_SHUTDOWN,
    IdleShutdown,
    MaxTasksShutdown,
    OrShutdown,
)

from .helpers import (
    make_queue,
    process_until,
    queued_count,
    receive_n,
    run_in_thread,
    visible_count,
    wait_until,
)

LONG = ConstantBackoff(600)


class RecordingBackoff(BackoffPolicy):
    def __init__(self, value: int) -> None:
        self.value = value
        self.messages: list[Any] = []

    def get_visibility_timeout(self, message: Any) -> int:
        self.messages.append(message)
        return self.value


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_success_deletes_the_message(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    seen: list[int] = []
    queue.connect_processor("job", lambda x: seen.append(x))
    queue.add_job("job", x=1)
    queue.add_job("job", x=2)
    result = queue.process_batch()
    assert isinstance(result, BatchProcessingResult)
    assert sorted(seen) == [1, 2]
    assert result.succeeded_count() == 2
    assert result.failed_count() == 0
    assert result.total_count() == 2
    assert len(result.succeeded) == 2
    assert queued_count(queue) == 0


def test_empty_queue_gives_an_empty_result(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    result = queue.process_batch()
    assert result.total_count() == 0


def test_failure_logs_and_hides_the_message_for_the_backoff(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    backoff = RecordingBackoff(600)
    queue = make_queue(sqs, "q", backoff_policy=backoff)

    @queue.processor("boom")
    def boom(x: int) -> None:
        raise ValueError("handler failed")

    queue.add_job("boom", x=1)
    with caplog.at_level(logging.INFO):
        result = queue.process_batch()
    assert result.failed_count() == 1
    assert result.succeeded_count() == 0
    assert _errors(caplog), "the handler's exception must be logged as an error"
    assert len(backoff.messages) == 1
    assert backoff.messages[0].attributes["ApproximateReceiveCount"] == "1"
    assert queued_count(queue) == 1
    assert visible_count(queue) == 0
    assert queue.get_raw_messages(0) == []


def test_failure_with_immediate_return_comes_back_at_once(sqs: SQSEnv) -> None:
    queue = make_queue(
        sqs, "q", backoff_policy=IMMEDIATE_RETURN, visibility_timeout=600
    )
    calls: list[int] = []

    @queue.processor("flaky")
    def flaky(x: int) -> None:
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first time fails")

    queue.add_job("flaky", x=1)
    queue.process_batch()
    process_until(queue, lambda: len(calls) == 2)
    wait_until(lambda: queued_count(queue) == 0, what="deleted after success")


def test_env_backoff_policy_is_the_queue_default(
    sqs_session: Any, random_string: str
) -> None:
    backoff = RecordingBackoff(0)
    env = SQSEnv(
        session=sqs_session, queue_prefix=f"b_{random_string}_", backoff_policy=backoff
    )
    queue = make_queue(env, "q")
    queue.connect_processor("job", _raise)
    queue.add_job("job")
    queue.process_batch()
    assert len(backoff.messages) == 1


def _raise(**kwargs: Any) -> None:
    raise RuntimeError("fail")


def test_handler_exception_never_stops_process_queue(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q", backoff_policy=LONG)
    seen: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        if n == 1:
            raise ValueError("one fails")
        seen.append(n)

    for n in range(3):
        queue.add_job("job", n=n)
    run_in_thread(
        lambda: queue.process_queue(shutdown_policy=MaxTasksShutdown(3), wait_second=1)
    )
    assert sorted(seen) == [0, 2]
    assert queued_count(queue) == 1


def test_process_queue_returns_when_idle(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    seen: list[int] = []
    queue.connect_processor("job", lambda n: seen.append(n))
    queue.add_job("job", n=1)
    run_in_thread(
        lambda: queue.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
    )
    run_in_thread(
        lambda: queue.process_queue(shutdown_policy=ASAP_SHUTDOWN, wait_second=0)
    )
    run_in_thread(
        lambda: queue.process_queue(
            OrShutdown(MaxTasksShutdown(100), IdleShutdown(0)), 0
        )
    )
    assert seen == [1]


def test_retry_job_is_logged_at_info_and_retried(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_queue(sqs, "q", backoff_policy=LONG, visibility_timeout=600)
    calls: list[int] = []

    @queue.processor("job")
    def job(x: int) -> None:
        calls.append(x)
        if len(calls) == 1:
            raise RetryJob(backoff_policy=IMMEDIATE_RETURN)

    queue.add_job("job", x=1)
    with caplog.at_level(logging.DEBUG):
        result = queue.process_batch()
    assert result.failed_count() == 1
    assert not _errors(caplog), "RetryJob is not an error"
    assert any(
        r.levelno == logging.INFO and r.name.startswith("sqs_workers")
        for r in caplog.records
    )
    # its own backoff (immediate) beats the queue's (10 minutes)
    process_until(queue, lambda: len(calls) == 2)
    wait_until(lambda: queued_count(queue) == 0, what="deleted after success")


def test_retry_job_without_policy_uses_the_queue_backoff(sqs: SQSEnv) -> None:
    backoff = RecordingBackoff(600)
    queue = make_queue(sqs, "q", backoff_policy=backoff)

    @queue.processor("job")
    def job() -> None:
        raise RetryJob()

    queue.add_job("job")
    queue.process_batch()
    assert len(backoff.messages) == 1
    assert visible_count(queue) == 0
    assert queued_count(queue) == 1


def test_processor_may_return_processing_result_or_bool(
    sqs_session: Any, random_string: str
) -> None:
    calls: list[str] = []

    class SteeringProcessor(Processor):
        """Decides the outcome itself, from the job's arguments."""

        def process_message(self, message: Any) -> Any:
            kind = self.deserialize_message(message)[1]["kind"]
            calls.append(kind)
            if kind == "retry_now" and calls.count(kind) == 1:
                return ProcessingResult(success=False, backoff_policy=IMMEDIATE_RETURN)
            if kind == "fail":
                return False
            if kind == "result_ok":
                return ProcessingResult(success=True)
            return True

    env = SQSEnv(
        session=sqs_session,
        queue_prefix=f"pr_{random_string}_",
        processor_maker=SteeringProcessor,
        backoff_policy=LONG,
    )
    queue = make_queue(env, "q", visibility_timeout=600)
    queue.connect_processor("job", lambda kind: None)
    for kind in ("ok", "result_ok", "fail", "retry_now"):
        queue.add_job("job", kind=kind)
    process_until(queue, lambda: calls.count("retry_now") == 2)
    # "fail" stays hidden for the queue's backoff; everything else is done
    wait_until(lambda: queued_count(queue) == 1, what="only the failed one left")
    assert visible_count(queue) == 0
    assert calls.count("ok") == calls.count("result_ok") == calls.count("fail") == 1


def test_a_handlers_return_value_does_not_decide_the_outcome(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q", backoff_policy=LONG)
    seen: list[Any] = []

    @queue.processor("job")
    def job(value: Any) -> Any:
        seen.append(value)
        return value

    for value in (False, None, 0, "text"):
        job.delay(value=value)
    process_until(queue, lambda: len(seen) == 4)
    wait_until(lambda: queued_count(queue) == 0, what="all four deleted")


def test_processing_result_fields() -> None:
    result = ProcessingResult(True)
    assert result.success is True
    assert result.backoff_policy is None
    failed = ProcessingResult(success=False, backoff_policy=IMMEDIATE_RETURN)
    assert failed.success is False
    assert failed.backoff_policy is IMMEDIATE_RETURN


def test_unknown_job_name_is_logged_and_not_deleted(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_queue(sqs, "q", backoff_policy=LONG)
    queue.connect_processor("known", lambda: None)
    queue.add_job("unknown", x=1)
    with caplog.at_level(logging.INFO):
        result = queue.process_batch()
    assert result.failed_count() == 1
    assert _errors(caplog)
    assert "unknown" in caplog.text
    assert queued_count(queue) == 1
    assert queue.get_processor("unknown") is None
    assert queue.get_processor("known") is not None
    assert queue.process_message_fallback("unknown") is False


def test_extra_kwargs_are_dropped_and_defaults_fill_missing(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    seen: list[tuple[Any, Any]] = []

    @queue.processor("job")
    def job(x: int, y: int = 5) -> None:
        seen.append((x, y))

    queue.add_job("job", x=1, extra="dropped")
    queue.process_batch()
    assert seen == [(1, 5)]
    assert queued_count(queue) == 0


def test_var_keyword_handler_gets_everything(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    seen: list[dict[str, Any]] = []
    queue.connect_processor("job", lambda **kw: seen.append(kw))
    queue.add_job("job", a=1, b="two")
    queue.process_batch()
    assert seen == [{"a": 1, "b": "two"}]


def test_job_arguments_round_trip_python_objects(sqs: SQSEnv) -> None:
    import datetime

    queue = make_queue(sqs, "q")
    seen: list[Any] = []
    queue.connect_processor("job", lambda when, data: seen.append((when, data)))
    when = datetime.datetime(2020, 1, 2, 3, 4, 5)
    data = {"set": {1, 2}, "tuple": (1, "a"), "bytes": b"\x00\xff", "text": "é✓"}
    queue.add_job("job", when=when, data=data)
    queue.process_batch()
    assert seen == [(when, data)]


def test_pass_context(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    seen: list[Any] = []

    @queue.processor("hello", pass_context=True)
    def hello(username: str, context: Any = None) -> None:
        seen.append((username, context["remote_addr"], context.get("missing", "d")))

    @queue.processor("custom_var", pass_context=True, context_var="ctx")
    def custom_var(ctx: Any = None) -> None:
        seen.append(("ctx", ctx["remote_addr"]))

    @queue.processor("no_context")
    def no_context(a: int, context: Any = "not passed") -> None:
        seen.append(("no", a, context))

    with sqs.context(remote_addr="127.0.0.1"):
        hello.delay(username="Foo")
        custom_var.delay()
        no_context.delay(a=1)
    process_until(queue, lambda: len(seen) == 3)
    assert sorted(seen, key=str) == sorted(
        [("Foo", "127.0.0.1", "d"), ("ctx", "127.0.0.1"), ("no", 1, "not passed")],
        key=str,
    )


def test_env_processor_with_pass_context(sqs: SQSEnv) -> None:
    make_queue(sqs, "q1")
    seen: list[Any] = []

    @sqs.processor("q1", "hello_world", pass_context=True)
    def hello_world(username: Any = None, context: Any = None) -> None:
        seen.append((username, context["remote_addr"]))

    sqs.context["remote_addr"] = "10.0.0.1"
    hello_world.delay(username="Foo")
    sqs.context.clear()
    sqs.queue("q1").process_batch()
    assert seen == [("Foo", "10.0.0.1")]


def test_processor_maker_overriding_process_without_context(
    sqs_session: Any, random_string: str
) -> None:
    seen: list[Any] = []

    class CustomProcessor(Processor):
        def process(self, job_kwargs):  # type: ignore[no-untyped-def,override]
            seen.append(("before", self.queue_name_seen(), self.job_name, job_kwargs))
            return super().process(job_kwargs)

        def queue_name_seen(self) -> str:
            return self.queue.name

    env = SQSEnv(
        session=sqs_session,
        queue_prefix=f"p_{random_string}_",
        processor_maker=CustomProcessor,
    )
    queue = make_queue(env, "q")
    queue.connect_processor("job", lambda x: seen.append(("handler", x)))
    queue.add_job("job", x=1)
    result = queue.process_batch()
    assert result.succeeded_count() == 1
    assert seen == [("before", "q", "job", {"x": 1}), ("handler", 1)]


def test_processor_maker_overriding_process_with_context(
    sqs_session: Any, random_string: str
) -> None:
    seen: list[Any] = []

    class CustomProcessor(Processor):
        def process(self, job_kwargs, job_context):  # type: ignore[no-untyped-def,override]
            seen.append(("before", job_context["remote_addr"]))
            return super().process(job_kwargs, job_context)

    env = SQSEnv(
        session=sqs_session,
        queue_prefix=f"p_{random_string}_",
        processor_maker=CustomProcessor,
    )
    queue = make_queue(env, "q")

    @queue.processor("job", pass_context=True)
    def job(x: int, context: Any = None) -> None:
        seen.append(("handler", x, context["remote_addr"]))

    with env.context(remote_addr="1.2.3.4"):
        job.delay(x=1)
    result = queue.process_batch()
    assert result.succeeded_count() == 1
    assert seen == [("before", "1.2.3.4"), ("handler", 1, "1.2.3.4")]


def test_batch_messages_handler_gets_a_list_of_kwargs(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q", batching_policy=BatchMessages(3))
    batches: list[list[dict[str, Any]]] = []

    @queue.processor("job")
    def job(messages: list[dict[str, Any]]) -> None:
        batches.append(messages)

    for n in range(3):
        job.delay(n=n)
    process_until(queue, lambda: sum(len(b) for b in batches) == 3)
    assert all(isinstance(b, list) for b in batches)
    assert sorted(kw["n"] for b in batches for kw in b) == [0, 1, 2]
    assert all(isinstance(kw, dict) for b in batches for kw in b)
    wait_until(lambda: queued_count(queue) == 0, what="batch deleted")


def test_batch_messages_delay_and_run_take_keywords_only(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q", batching_policy=BatchMessages(2))
    received: list[Any] = []

    @queue.processor("job")
    def job(messages: list[dict[str, Any]]) -> None:
        received.append(messages)

    with pytest.raises(TypeError):
        job.delay(1)
    with pytest.raises(TypeError):
        job.run(1)
    job.run(n=1)
    assert received == [[{"n": 1}]]
    assert queued_count(queue) == 0


def test_batch_messages_failure_retries_the_whole_batch(sqs: SQSEnv) -> None:
    queue = make_queue(
        sqs,
        "q",
        batching_policy=BatchMessages(2),
        backoff_policy=LONG,
        visibility_timeout=600,
    )

    @queue.processor("job")
    def job(messages: list[dict[str, Any]]) -> None:
        raise ValueError("whole batch fails")

    job.delay(n=1)
    job.delay(n=2)
    process_until(queue, lambda: queued_count(queue) == 2 and visible_count(queue) == 0)
    assert queue.get_raw_messages(0) == []


def batch_queue_retrying_its_first_batch(
    sqs: SQSEnv,
) -> tuple[Any, Any, list[list[int]]]:
    """A BatchMessages(3) queue whose handler raises RetryJob on its first batch.

    Returns the queue, its task and the batches the handler saw (sorted ``n``s).
    """
    queue = make_queue(
        sqs,
        "q",
        batching_policy=BatchMessages(3),
        backoff_policy=LONG,
        visibility_timeout=600,
    )
    batches: list[list[int]] = []

    @queue.processor("job")
    def job(messages: list[dict[str, Any]]) -> None:
        batches.append(sorted(m["n"] for m in messages))
        if len(batches) == 1:
            raise RetryJob(backoff_policy=IMMEDIATE_RETURN)

    return queue, job, batches


def test_retry_job_in_a_batch_messages_handler_retries_the_batch(
    sqs: SQSEnv,
) -> None:
    # The original package deleted the batch on RetryJob; we retry it.
    queue, job, batches = batch_queue_retrying_its_first_batch(sqs)

    for n in range(3):
        job.delay(n=n)
    process_until(queue, lambda: sum(len(b) for b in batches) >= 6)
    seen = [n for b in batches for n in b]
    assert sorted(set(seen)) == [0, 1, 2]
    assert all(seen.count(n) == 2 for n in range(3))
    wait_until(lambda: queued_count(queue) == 0, what="deleted after the retry")


def test_retry_job_in_a_batch_without_policy_hides_it(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q", batching_policy=BatchMessages(2), backoff_policy=LONG)

    @queue.processor("job")
    def job(messages: list[dict[str, Any]]) -> None:
        raise RetryJob()

    job.delay(n=1)
    job.delay(n=2)
    process_until(queue, lambda: queued_count(queue) == 2 and visible_count(queue) == 0)


def test_batching_configurations() -> None:
    from sqs_workers.batching import BatchingConfiguration, NoBatching

    with pytest.raises(TypeError):
        BatchingConfiguration()  # type: ignore[abstract]
    assert NoBatching().batching_enabled is False
    assert BatchMessages(5).batching_enabled is True
    assert BatchMessages(5).batch_size == 5
    assert BatchMessages(batch_size=7).batch_size == 7


def test_get_job_name_and_job_queue_add_raw_job(sqs: SQSEnv) -> None:
    from sqs_workers.core import get_job_name

    queue = make_queue(sqs, "q")
    seen: list[Any] = []

    @queue.processor("job", pass_context=True)
    def job(x: int, context: Any = None) -> None:
        seen.append((x, context["k"]))

    message_id = queue.add_raw_job(
        "job", '{"x": 4}', '{"k": "v"}', "json", None, None, None
    )
    assert isinstance(message_id, str)
    process_until(queue, lambda: seen)
    assert seen == [(4, "v")]
    queue.add_job("other_job", x=1)
    (message,) = receive_n(queue, 1)
    assert get_job_name(message) == "other_job"


def test_queue_makers(sqs: SQSEnv) -> None:
    from sqs_workers import JobQueue

    make_queue(sqs, "made", JobQueue.maker(backoff_policy=LONG))
    queue = sqs.queue("made")
    assert isinstance(queue, JobQueue)
    queue.connect_processor("job", lambda: None)
    queue.add_job("job")
    assert queue.process_batch().succeeded_count() == 1


def test_process_queue_with_batch_messages(sqs: SQSEnv) -> None:
    queue, job, batches = batch_queue_retrying_its_first_batch(sqs)

    with job.batch():
        for n in range(3):
            job.delay(n=n)
    run_in_thread(
        lambda: queue.process_queue(
            shutdown_policy=OrShutdown(MaxTasksShutdown(6), IdleShutdown(3)),
            wait_second=1,
        )
    )
    seen = [n for b in batches for n in b]
    assert all(isinstance(b, list) for b in batches)
    assert sorted(seen) == [0, 0, 1, 1, 2, 2]
    assert queued_count(queue) == 0
