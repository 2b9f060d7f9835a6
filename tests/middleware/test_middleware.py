"""Middleware: every hook fires once per job on every path, in order, and a
broken middleware never loses or double-acks a message. Both backends."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqs_testing import queue_total as visible
from sqs_testing import wait_until

from sqs_workers import (
    IMMEDIATE_RETURN,
    JobQueue,
    RawQueue,
    RetryJob,
    SQSEnv,
    create_standard_queue,
)
from sqs_workers.batching import BatchMessages
from sqs_workers.middleware import (
    JobOutcome,
    JobRun,
    MessageRefused,
    Middleware,
    OutgoingMessage,
)
from sqs_workers.outcomes import DropJob
from sqs_workers.shutdown_policies import IdleShutdown
from sqs_workers.worker import Worker

CURRENT = contextvars.ContextVar("CURRENT", default="unset")


class Recorder(Middleware):
    """Counts every hook; remembers outcomes and what the handler saw."""

    def __init__(self, name: str = "rec", log: list[str] | None = None) -> None:
        self.name = name
        self.log = log if log is not None else []
        self.calls: Counter[str] = Counter()
        self.outcomes: list[tuple[str | None, str, Any]] = []
        self.threads: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def _note(self, hook: str) -> None:
        with self._lock:
            self.calls[hook] += 1
            self.log.append(f"{self.name}.{hook}")
            self.threads.setdefault(hook, set()).add(threading.current_thread().name)

    def before_send(self, message: OutgoingMessage) -> None:
        self._note("before_send")

    def after_receive(self, queue_name: str, message: Any) -> None:
        self._note("after_receive")

    def before_decode(self, job: JobRun) -> None:
        self._note("before_decode")

    def before_job(self, job: JobRun) -> None:
        self._note("before_job")

    @contextlib.contextmanager
    def _around(self, job: JobRun) -> Iterator[None]:
        self._note("around_job")
        token = CURRENT.set(f"{self.name}:{job.message_id}")
        try:
            yield
        finally:
            CURRENT.reset(token)

    def around_job(self, job: JobRun) -> Any:
        return self._around(job)

    def after_job(self, job: JobRun, outcome: JobOutcome) -> None:
        self._note("after_job")
        with self._lock:
            self.outcomes.append((job.job_name, outcome.kind, outcome.exception))

    def worker_started(self, worker: Any) -> None:
        self._note("worker_started")

    def worker_stopped(self, worker: Any) -> None:
        self._note("worker_stopped")


def make_queue(sqs: SQSEnv, name: str = "q", **kwargs: Any) -> Any:
    create_standard_queue(sqs, name, visibility_timeout=30)
    return sqs.queue(name, backoff_policy=IMMEDIATE_RETURN, **kwargs)


def drain_with_worker(queue: Any, **options: Any) -> None:
    options.setdefault("wait_seconds", 0)
    Worker([queue], IdleShutdown(0.3), **options).run()


PER_JOB = ("before_decode", "before_job", "around_job", "after_job")


@pytest.mark.parametrize("how", ["process_batch", "worker_c1", "worker_c4"], ids=str)
def test_each_hook_fires_once_per_sync_job(sqs: SQSEnv, how: str) -> None:
    recorder = Recorder()
    sqs.add_middleware(recorder)
    queue = make_queue(sqs)
    seen: list[str] = []

    @queue.processor("job")
    def job(n: int) -> None:
        seen.append(CURRENT.get())

    for n in range(3):
        job.delay(n=n)
    if how == "process_batch":
        assert queue.process_batch().succeeded_count() == 3
    else:
        drain_with_worker(queue, concurrency=1 if how == "worker_c1" else 4)
    assert all(s.startswith("rec:") for s in seen) and len(seen) == 3
    assert recorder.calls["before_send"] == 3
    assert recorder.calls["after_receive"] == 3
    for hook in PER_JOB:
        assert recorder.calls[hook] == 3, hook
    assert [o[1] for o in recorder.outcomes] == ["success"] * 3
    if how != "process_batch":
        assert recorder.calls["worker_started"] == 1
        assert recorder.calls["worker_stopped"] == 1
    assert visible(queue) == 0


def test_async_handler_hooks_run_on_the_event_loop(sqs: SQSEnv) -> None:
    recorder = Recorder()
    sqs.add_middleware(recorder)
    queue = make_queue(sqs)
    seen: list[str] = []

    @queue.processor("job")
    async def job(n: int) -> None:
        seen.append(CURRENT.get())

    for n in range(4):
        job.delay(n=n)
    drain_with_worker(queue, concurrency=4)
    assert len(seen) == 4 and all(s.startswith("rec:") for s in seen)
    for hook in PER_JOB:
        assert recorder.calls[hook] == 4, hook
    # around_job and the handler share the loop's thread (and the task's
    # contextvars, as `seen` shows).
    assert recorder.threads["around_job"] == {"sqs-worker-loop"}
    assert visible(queue) == 0


def test_batch_messages_fire_job_hooks_per_list_and_decode_per_message(
    sqs: SQSEnv,
) -> None:
    recorder = Recorder()
    sqs.add_middleware(recorder)
    queue = make_queue(sqs, batching_policy=BatchMessages(batch_size=5))
    lists: list[int] = []

    @queue.processor("job")
    def job(messages: list[dict[str, Any]]) -> None:
        lists.append(len(messages))

    with queue.add_batch():
        for n in range(5):
            job.delay(n=n)
    while visible(queue):
        queue.process_batch()
    assert sum(lists) == 5
    assert recorder.calls["after_receive"] == 5
    assert recorder.calls["before_decode"] == 5
    assert recorder.calls["before_job"] == len(lists)
    assert recorder.calls["after_job"] == len(lists)


@pytest.mark.parametrize("how", ["process_batch", "worker"], ids=str)
def test_raw_queue_hooks(sqs: SQSEnv, how: str) -> None:
    recorder = Recorder()
    sqs.add_middleware(recorder)
    create_standard_queue(sqs, "raw", visibility_timeout=30)
    queue = sqs.queue("raw", RawQueue, backoff_policy=IMMEDIATE_RETURN)
    bodies: list[str] = []
    queue.connect_raw_processor(lambda message: bodies.append(message.body))
    queue.add_raw_job("one")
    queue.add_raw_job("two")
    if how == "process_batch":
        queue.process_batch()
    else:
        drain_with_worker(queue)
    assert sorted(bodies) == ["one", "two"]
    assert recorder.calls["before_send"] == 2
    for hook in PER_JOB:
        assert recorder.calls[hook] == 2, hook
    assert {o[0] for o in recorder.outcomes} == {None}


def test_order_first_added_is_outermost(sqs: SQSEnv) -> None:
    log: list[str] = []
    sqs.add_middleware(Recorder("a", log))
    sqs.add_middleware(Recorder("b", log))
    queue = make_queue(sqs)

    @queue.processor("job")
    def job() -> None:
        log.append("handler")

    job.delay()
    queue.process_batch()
    assert log == [
        "a.before_send",
        "b.before_send",
        "a.after_receive",
        "b.after_receive",
        "a.before_decode",
        "b.before_decode",
        "a.before_job",
        "b.before_job",
        "a.around_job",
        "b.around_job",
        "handler",
        "b.after_job",
        "a.after_job",
    ]


def test_outcomes_reported(sqs: SQSEnv) -> None:
    recorder = Recorder()
    sqs.add_middleware(recorder)
    queue = make_queue(sqs)

    @queue.processor("ok")
    def ok() -> None:
        pass

    @queue.processor("retry")
    def retry() -> None:
        raise RetryJob()

    @queue.processor("drop")
    def drop() -> None:
        raise DropJob("gone")

    @queue.processor("error")
    def error() -> None:
        raise ValueError("boom")

    for task in (ok, retry, drop, error):
        task.delay()
    queue.env.add_job  # noqa: B018 - the deprecated name still exists
    queue.add_job("nobody")  # no processor: refused, not deleted
    while len(recorder.outcomes) < 5:
        queue.process_batch()
    kinds = {name: kind for name, kind, _ in recorder.outcomes}
    assert kinds == {
        "ok": "success",
        "retry": "retry",
        "drop": "drop",
        "error": "error",
        "nobody": "refused",
    }
    errors = {name: exc for name, _, exc in recorder.outcomes}
    assert isinstance(errors["error"], ValueError)


class Broken(Middleware):
    def before_send(self, message: OutgoingMessage) -> None:
        pass

    def after_receive(self, queue_name: str, message: Any) -> None:
        raise RuntimeError("after_receive broke")

    def before_decode(self, job: JobRun) -> None:
        raise RuntimeError("before_decode broke")

    def before_job(self, job: JobRun) -> None:
        raise RuntimeError("before_job broke")

    @contextlib.contextmanager
    def _around(self) -> Iterator[None]:
        yield
        raise RuntimeError("around_job broke on exit")

    def around_job(self, job: JobRun) -> Any:
        return self._around()

    def after_job(self, job: JobRun, outcome: JobOutcome) -> None:
        raise RuntimeError("after_job broke")


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_raising_middleware_loses_nothing(
    sqs: SQSEnv, concurrency: int, caplog: pytest.LogCaptureFixture
) -> None:
    sqs.add_middleware(Broken())
    queue = make_queue(sqs)
    ran: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        ran.append(n)

    for n in range(5):
        job.delay(n=n)
    with caplog.at_level(logging.ERROR, logger="sqs_workers.middleware"):
        drain_with_worker(queue, concurrency=concurrency)
    assert sorted(ran) == list(range(5))  # each ran once: nothing retried
    assert visible(queue) == 0  # each deleted
    broke = [r for r in caplog.records if r.name == "sqs_workers.middleware"]
    assert any("Broken" in r.getMessage() for r in broke)
    hooks = {r.getMessage().split(" in ")[1].split(" ")[0] for r in broke}
    assert {"after_receive", "before_decode", "before_job", "around_job"} <= hooks
    assert "after_job" in hooks


class RefuseOdd(Middleware):
    def before_decode(self, job: JobRun) -> None:
        if job.message.message_attributes["JobName"]["StringValue"] == "odd":
            raise MessageRefused("odd jobs are not allowed here")


def test_a_refusing_decode_hook_sends_the_message_down_the_failure_path(
    sqs: SQSEnv,
) -> None:
    sqs.add_middleware(RefuseOdd())
    queue = make_queue(sqs)
    ran: list[str] = []

    @queue.processor("odd")
    def odd() -> None:
        ran.append("odd")

    @queue.processor("even")
    def even() -> None:
        ran.append("even")

    odd.delay()
    even.delay()
    result = queue.process_batch()
    assert ran == ["even"]
    assert result.succeeded_count() == 1 and result.failed_count() == 1
    # Not deleted: it comes back (IMMEDIATE_RETURN) and is refused again.
    wait_until(lambda: queue.process_batch().failed_count() == 1, what="refused")
    assert ran == ["even"]


def test_a_failing_before_send_stops_the_send(sqs: SQSEnv) -> None:
    class NoSend(Middleware):
        def before_send(self, message: OutgoingMessage) -> None:
            raise RuntimeError("signing service down")

    sqs.add_middleware(NoSend())
    queue = make_queue(sqs)

    @queue.processor("job")
    def job() -> None:
        pass

    with pytest.raises(RuntimeError, match="signing service down"):
        job.delay()
    assert visible(queue) == 0


def test_middleware_from_the_constructor_and_type_check() -> None:
    from sqs_workers import MemorySession

    recorder = Recorder()
    env = SQSEnv(MemorySession(), middleware=[recorder])
    assert list(env.middleware_stack) == [recorder]
    with pytest.raises(TypeError, match="Middleware instance"):
        env.add_middleware(object())  # type: ignore[arg-type]


def test_job_queue_type_is_kept(sqs: SQSEnv) -> None:
    assert isinstance(make_queue(sqs), JobQueue)


def test_a_process_batch_override_keeps_its_signature(sqs: SQSEnv) -> None:
    from sqs_workers.processors import Processor

    calls: list[int] = []

    class Counting(Processor):
        def process_batch(self, messages: list[Any]) -> Any:  # the original's
            calls.append(len(messages))
            return super().process_batch(messages)

    env = SQSEnv(sqs.session, queue_prefix=sqs.queue_prefix, processor_maker=Counting)
    queue = make_queue(env, "bq", batching_policy=BatchMessages(batch_size=3))
    seen: list[int] = []
    queue.connect_processor("job", lambda jobs: seen.extend(j["n"] for j in jobs))
    with queue.add_batch():
        for n in range(3):
            queue.add_job("job", n=n)
    while visible(queue):
        queue.process_batch()
    assert sorted(seen) == [0, 1, 2] and sum(calls) == 3
