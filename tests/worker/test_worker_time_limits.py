"""Job time limits (issue 13): past its limit a handler is interrupted and its
job retried; one that cannot be interrupted (blocked in C) is given up on at
the hard limit: its message is released for another worker, its slot
replaced, its late outcome discarded (never acked), and under the supervisor
its process recycled. Precedence: processor > queue > worker."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sqs_workers import IMMEDIATE_RETURN, SQSEnv, create_standard_queue
from sqs_workers.middleware import ERROR, SUCCESS, Middleware
from sqs_workers.shutdown_policies import IdleShutdown, MaxTasksShutdown, OrShutdown
from sqs_workers.time_limits import (
    JobHardTimeLimitExceeded,
    JobTimeLimitExceeded,
    checked,
)
from sqs_workers.worker import Supervisor, Worker
from sqs_workers.worker.options import supervisor_options_from

from .helpers import CallCounter, WorkerThread, queue_counts, running_worker, wait_until

LIMIT = 0.3
GRACE = 0.3


class Outcomes(Middleware):
    """What after_job saw, per job name: (kind, exception)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str, BaseException | None]] = []

    def after_job(self, job: Any, outcome: Any) -> None:
        self.seen.append((job.job_name, outcome.kind, outcome.exception))


def make_queue(sqs: Any, name: str = "q", visibility: int = 30, **kwargs: Any) -> Any:
    create_standard_queue(sqs, name, visibility_timeout=visibility)
    return sqs.queue(name, backoff_policy=IMMEDIATE_RETURN, **kwargs)


def test_async_handler_past_its_limit_is_cancelled_and_retried(
    sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    outcomes = Outcomes()
    sqs.add_middleware(outcomes)
    queue = make_queue(sqs)
    attempts: list[float] = []
    cleaned: list[bool] = []

    @queue.processor("slow", time_limit=LIMIT)
    async def slow() -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cleaned.append(True)  # the handler may clean up
                raise

    slow.delay()
    with caplog.at_level(logging.WARNING), running_worker(queue, concurrency=4):
        wait_until(lambda: len(attempts) >= 2, what="the retry")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="the delete")
    assert cleaned == [True]
    kinds = [(kind, type(error)) for _, kind, error in outcomes.seen]
    assert kinds == [(ERROR, JobTimeLimitExceeded), (SUCCESS, type(None))]
    assert outcomes.seen[0][2].time_limit == LIMIT  # type: ignore[union-attr]
    # Logged with the job's fields.
    soft = [r for r in caplog.records if "ran past its time limit" in r.getMessage()]
    assert soft and soft[0].job_name == "slow"  # type: ignore[attr-defined]
    assert soft[0].time_limit == LIMIT  # type: ignore[attr-defined]
    print(f"async: retried {attempts[1] - attempts[0] - LIMIT:.3f}s after the limit")


def test_sync_handler_in_a_python_loop_is_interrupted_in_a_thread(sqs: Any) -> None:
    outcomes = Outcomes()
    sqs.add_middleware(outcomes)
    queue = make_queue(sqs)
    attempts: list[float] = []
    seen: list[tuple[str, float]] = []

    @queue.processor("spin", time_limit=LIMIT)
    def spin() -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            try:
                while True:  # pure Python: interrupted between bytecodes
                    pass
            except JobTimeLimitExceeded:
                seen.append(
                    (threading.current_thread().name, time.monotonic() - attempts[0])
                )
                raise

    spin.delay()
    with running_worker(queue, concurrency=2):
        wait_until(lambda: len(attempts) >= 2, what="the retry")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="the delete")
    assert seen and seen[0][0].startswith("sqs-worker")
    assert [k for _, k, _ in outcomes.seen] == [ERROR, SUCCESS]
    assert isinstance(outcomes.seen[0][2], JobTimeLimitExceeded)
    assert not isinstance(outcomes.seen[0][2], JobHardTimeLimitExceeded)
    print(f"thread: interrupted {seen[0][1] - LIMIT:.3f}s after the limit")


def test_sync_handler_on_the_main_thread_is_interrupted_by_a_signal(
    sqs: Any,
) -> None:
    """Concurrency 1 on the main thread: SIGALRM interrupts even time.sleep,
    which an asynchronous exception could not."""
    assert threading.current_thread() is threading.main_thread()
    outcomes = Outcomes()
    sqs.add_middleware(outcomes)
    queue = make_queue(sqs)
    attempts: list[float] = []
    seen: list[float] = []

    @queue.processor("nap")
    def nap() -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            try:
                time.sleep(30)
            except JobTimeLimitExceeded:
                seen.append(time.monotonic() - attempts[0])
                raise

    nap.delay()
    policy = OrShutdown(MaxTasksShutdown(2), IdleShutdown(5))
    # The worker's own limit (no processor or queue limit here).
    Worker(queue, policy, wait_seconds=1, time_limit=LIMIT).run()
    assert len(attempts) == 2
    assert [k for _, k, _ in outcomes.seen] == [ERROR, SUCCESS]
    assert isinstance(outcomes.seen[0][2], JobTimeLimitExceeded)
    assert seen and seen[0] < 30
    print(f"main thread: interrupted {seen[0] - LIMIT:.3f}s after the limit")


def test_a_handler_blocked_in_c_has_its_message_released_to_another_worker(
    sqs: Any, sqs_session: Any
) -> None:
    """Concurrency 1 off the main thread: the handler runs on the run() thread,
    blocked in C (an Event's lock), where the asynchronous exception cannot
    reach it. At the hard limit the worker releases the message (another
    worker runs it) and, its only slot gone, stops; its late outcome is
    discarded, never acked."""
    queue = make_queue(sqs, visibility=2)  # the heartbeat would keep it forever
    stuck = threading.Event()
    returned = threading.Event()
    started: list[float] = []

    @queue.processor("job")
    def job() -> None:
        started.append(time.monotonic())
        try:
            stuck.wait()  # blocked in C: the async exception waits for it
        finally:  # back in Python, the pending exception is raised at once
            returned.set()

    other_env = SQSEnv(session=sqs_session, queue_prefix=sqs.queue_prefix)
    other_queue = other_env.queue("q", backoff_policy=IMMEDIATE_RETURN)
    elsewhere: list[float] = []

    @other_queue.processor("job")
    def other_job() -> None:
        elsewhere.append(time.monotonic())

    counter = CallCounter(queue.client)
    worker = Worker(queue, wait_seconds=1, time_limit=LIMIT, time_limit_grace=GRACE)
    runner = WorkerThread(worker).start()
    try:
        job.delay()
        wait_until(lambda: started, what="the stuck job to start")
        with running_worker(other_queue, concurrency=1):
            wait_until(lambda: elsewhere, what="the other worker to run it")
        assert worker.lost_slots == 1
        stuck.set()
        wait_until(returned.is_set, what="the stuck handler to return")
        runner.join()  # it stopped: its only slot was lost
    finally:
        stuck.set()
    assert len(started) == 1
    assert counter.calls["DeleteMessageBatch"] + counter.calls["DeleteMessage"] == 0
    assert queue_counts(queue) == (0, 0)
    print(
        f"blocked in C (concurrency 1): run by another worker "
        f"{elsewhere[0] - started[0] - LIMIT:.3f}s after the limit (grace {GRACE}s)"
    )


def test_a_thread_blocked_in_c_is_replaced_and_its_outcome_discarded(
    sqs: Any,
) -> None:
    """Concurrency 2: the stuck thread is replaced (two jobs still run at
    once), the message released runs again, and when the stuck handler
    finally returns nothing is acked for it."""
    outcomes = Outcomes()
    sqs.add_middleware(outcomes)
    queue = make_queue(sqs, visibility=2)
    stuck = threading.Event()
    returned = threading.Event()
    started: list[float] = []

    @queue.processor("job")
    def job() -> None:
        started.append(time.monotonic())
        if len(started) == 1:
            try:
                stuck.wait()
            finally:
                returned.set()

    both = threading.Barrier(3)
    ran: list[int] = []

    @queue.processor("pair")
    def pair(n: int) -> None:
        both.wait(timeout=10)
        ran.append(n)

    counter = CallCounter(queue.client)
    worker = Worker(
        queue,
        concurrency=2,
        wait_seconds=1,
        time_limit=LIMIT,
        time_limit_grace=GRACE,
    )
    runner = WorkerThread(worker).start()
    try:
        job.delay()
        wait_until(lambda: len(started) >= 2, what="the released message to run")
        assert worker.lost_slots == 1
        pair.delay(n=1)
        pair.delay(n=2)
        both.wait(timeout=10)  # both pair jobs at once: concurrency kept
        wait_until(lambda: len(ran) == 2, what="the pair jobs")
        stuck.set()
        wait_until(returned.is_set, what="the stuck handler to return")
        assert worker.stop(wait=10)
        runner.join()
    finally:
        stuck.set()
    # Three successful runs, three deletes; nothing for the one given up on.
    deletes = counter.entries["DeleteMessageBatch"] + counter.calls["DeleteMessage"]
    assert deletes == 3
    assert queue_counts(queue) == (0, 0)
    job_outcomes = [(k, type(e)) for j, k, e in outcomes.seen if j == "job"]
    assert job_outcomes == [(ERROR, JobHardTimeLimitExceeded), (SUCCESS, type(None))]
    print(
        "blocked in C (concurrency 2): ran again "
        f"{started[1] - started[0] - LIMIT:.3f}s after the limit (grace {GRACE}s)"
    )


def test_a_warm_stop_waits_no_longer_than_the_hard_limit(sqs: Any) -> None:
    queue = make_queue(sqs, visibility=2)
    stuck = threading.Event()
    started = threading.Event()

    @queue.processor("job", time_limit=LIMIT)
    def job() -> None:
        started.set()
        stuck.wait()

    job.delay()
    worker = Worker(
        queue, concurrency=2, wait_seconds=1, time_limit_grace=GRACE, grace_period=60
    )
    runner = WorkerThread(worker).start()
    try:
        started.wait(10)
        begun = time.monotonic()
        assert worker.stop(wait=10), "the warm stop waited for the stuck job"
        print(f"warm stop took {time.monotonic() - begun:.3f}s (grace_period 60)")
        runner.join()
    finally:
        stuck.set()
    wait_until(lambda: queue_counts(queue)[0] == 1, what="the message released")


def test_precedence_processor_over_queue_over_worker(sqs: Any) -> None:
    outcomes = Outcomes()
    sqs.add_middleware(outcomes)
    queue = make_queue(sqs, time_limit=5)
    plain = make_queue(sqs, "plain")
    done: list[str] = []

    def sleeper(name: str) -> Any:
        async def handler() -> None:
            await asyncio.sleep(0.6)
            done.append(name)

        return handler

    # Processor 0.2 beats the queue's 5: times out.
    queue.connect_processor("own", sleeper("own"), time_limit=0.2)
    # Queue 5 beats the worker's 0.2: finishes.
    queue.connect_processor("queued", sleeper("queued"))
    # No processor or queue limit: the worker's 0.2: times out.
    plain.connect_processor("workers", sleeper("workers"))
    # Processor 5 beats the worker's 0.2: finishes.
    plain.connect_processor("long", sleeper("long"), time_limit=5)
    for name in ("own", "queued"):
        queue.add_job(name)
    for name in ("workers", "long"):
        plain.add_job(name)
    with running_worker([queue, plain], concurrency=8, time_limit=0.2):
        wait_until(
            lambda: (
                {j for j, k, _ in outcomes.seen if k == SUCCESS} >= {"queued", "long"}
                and {j for j, k, _ in outcomes.seen if k == ERROR} >= {"own", "workers"}
            ),
            what="each job's outcome",
        )
    limits = {
        j: e.time_limit
        for j, k, e in outcomes.seen
        if k == ERROR  # type: ignore[union-attr]
    }
    assert limits["own"] == 0.2 and limits["workers"] == 0.2
    assert {"queued", "long"} <= set(done)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="time_limit must be > 0"):
        checked(0)
    with pytest.raises(TypeError, match="number of seconds"):
        checked("10")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time_limit_grace"):
        Worker([object()], time_limit_grace=-1)


@pytest.mark.parametrize("backend", ["moto"])
def test_under_the_supervisor_a_stuck_process_is_recycled(
    sqs: Any, tmp_path: Path
) -> None:
    """Processes cannot share the in-memory SQS: moto only."""
    create_standard_queue(sqs, "s", visibility_timeout=2)
    queue = sqs.queue("s", backoff_policy=IMMEDIATE_RETURN)
    marker = tmp_path / "stuck"
    done = tmp_path / "done"

    @queue.processor("job", time_limit=LIMIT)
    def job() -> None:
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            threading.Event().wait()  # blocked in C for good
        done.write_text(str(os.getpid()))

    job.delay()
    options = supervisor_options_from(
        wait_seconds=1, concurrency=2, time_limit_grace=GRACE, restart_delay=0.1
    )
    supervisor = Supervisor(sqs, ["s"], lambda: IdleShutdown(30), options)
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    try:
        wait_until(done.exists, what="the job to run again", timeout=30)
        wait_until(lambda: supervisor.recycles() >= 1, what="the recycle", timeout=30)
    finally:
        supervisor.stop()
        thread.join(30)
    assert not thread.is_alive()


def test_a_job_whose_outcome_is_being_recorded_is_never_given_up_on() -> None:
    """The hard limit and the job's end can race: whichever claims the job
    first wins, so it is either recorded (acked) or given up on (released),
    never both."""
    from sqs_workers.time_limits import JobAbandoned

    worker = Worker([object()])
    worker._limit_lock = threading.Lock()

    class FakeJob:
        limit_state = 0

    ended, given_up = FakeJob(), FakeJob()
    worker._claim_to_record(ended)  # type: ignore[arg-type]
    assert not worker._claim_for_give_up(ended)  # type: ignore[arg-type]
    assert worker._claim_for_give_up(given_up)  # type: ignore[arg-type]
    with pytest.raises(JobAbandoned):
        worker._claim_to_record(given_up)  # type: ignore[arg-type]


def test_a_coroutine_that_swallows_cancellation_is_given_up_on(sqs: Any) -> None:
    outcomes = Outcomes()
    sqs.add_middleware(outcomes)
    queue = make_queue(sqs, visibility=2)
    attempts: list[float] = []
    swallowed: list[int] = []
    let_go = threading.Event()
    returned = threading.Event()

    @queue.processor("stubborn", time_limit=LIMIT)
    async def stubborn() -> None:
        attempts.append(time.monotonic())
        if len(attempts) > 1:
            return
        while not let_go.is_set():
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                swallowed.append(1)  # hostile: keeps going
        returned.set()

    counter = CallCounter(queue.client)
    stubborn.delay()
    with running_worker(queue, concurrency=4, time_limit_grace=GRACE):
        wait_until(lambda: len(attempts) >= 2, what="the released message to run")
        let_go.set()
        wait_until(returned.is_set, what="the stubborn coroutine to return")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="the delete")
    assert len(swallowed) == 2  # the soft and the hard cancellation
    kinds = [(k, type(e)) for _, k, e in outcomes.seen]
    assert kinds == [(ERROR, JobHardTimeLimitExceeded), (SUCCESS, type(None))]
    # One delete: the retry's; the stubborn run's late return is discarded.
    assert counter.entries["DeleteMessageBatch"] + counter.calls["DeleteMessage"] == 1
    print(f"async, stubborn: ran again {attempts[1] - attempts[0] - LIMIT:.3f}s after")
