"""Concurrency 1: sync handlers run on the thread that called ``process_queue``
(as in the original package), and everything else still works there: the
policy, ``stop()``, signals, the heartbeat, async handlers, FIFO order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from sqs_workers import create_fifo_queue, create_standard_queue
from sqs_workers.shutdown_policies import IdleShutdown, MaxTasksShutdown, OrShutdown
from sqs_workers.worker import Worker

from .helpers import DEADLINE, WorkerThread, queue_counts, running_worker, wait_until

REPO = Path(__file__).resolve().parents[2]


def make_queue(sqs: Any, name: str = "q", visibility_timeout: int = 30) -> Any:
    create_standard_queue(sqs, name, visibility_timeout=visibility_timeout)
    return sqs.queue(name)


def in_thread(target: Any) -> None:
    """Run ``target`` in a fresh thread; fail if it raises or hangs."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "process_queue did not return"
    if errors:
        raise errors[0]


def safety(jobs: int) -> Any:
    """Stop after ``jobs`` jobs, or once idle (so a failing test cannot hang)."""
    return OrShutdown(MaxTasksShutdown(jobs), IdleShutdown(5))


def test_handler_runs_on_the_thread_that_called_process_queue(sqs: Any) -> None:
    queue = make_queue(sqs)
    callers: list[int] = []
    handlers: list[int] = []

    @queue.processor("where")
    def where(n: int) -> None:
        handlers.append(threading.get_ident())

    with queue.add_batch():
        for n in range(3):
            where.delay(n=n)

    def serve() -> None:
        callers.append(threading.get_ident())
        queue.process_queue(safety(3), wait_second=1)

    in_thread(serve)
    assert handlers == callers * 3


def test_thread_local_context_is_sent_by_jobs_a_handler_delays(sqs: Any) -> None:
    queue = make_queue(sqs)
    received: list[Any] = []

    @queue.processor("second", pass_context=True)
    def second(context: Any = None) -> None:
        received.append(context.get("request_id"))

    @queue.processor("first")
    def first() -> None:
        second.delay()  # sends the context of the thread it runs on

    first.delay()

    def serve() -> None:
        sqs.context["request_id"] = "r-42"  # thread-local: this thread only
        queue.process_queue(safety(2), wait_second=1)

    in_thread(serve)
    assert received == ["r-42"]


def test_handlers_use_the_pool_above_concurrency_1(sqs: Any) -> None:
    queue = make_queue(sqs)
    handlers: set[int] = set()

    @queue.processor("where")
    def where(n: int) -> None:
        handlers.add(threading.get_ident())

    with queue.add_batch():
        for n in range(4):
            where.delay(n=n)
    runner = WorkerThread(Worker(queue, safety(4), wait_seconds=1, concurrency=2))
    runner.start().join()
    assert handlers and runner.thread.ident not in handlers


def test_max_tasks_stops_after_exactly_that_many(sqs: Any) -> None:
    queue = make_queue(sqs)
    ran: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        ran.append(n)

    with queue.add_batch():
        for n in range(20):
            job.delay(n=n)
    in_thread(lambda: queue.process_queue(MaxTasksShutdown(3), wait_second=1))
    assert len(ran) == 3
    assert queue_counts(queue) == (17, 0)  # the prefetched rest released at once


def test_stop_lets_the_running_job_finish_and_releases_the_rest(sqs: Any) -> None:
    queue = make_queue(sqs)
    started = threading.Event()
    finish = threading.Event()
    ran: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        started.set()
        finish.wait(10)
        ran.append(n)

    with queue.add_batch():
        for n in range(5):
            job.delay(n=n)
    worker = Worker(queue, wait_seconds=1)
    runner = WorkerThread(worker).start()
    assert started.wait(DEADLINE)
    worker.stop()  # asked while the job runs
    assert not worker.finished.wait(0.3)  # it waits for the job...
    finish.set()
    runner.join()  # ...then stops
    assert len(ran) == 1
    assert queue_counts(queue) == (4, 0)


def test_async_handlers_still_run_on_the_event_loop(sqs: Any) -> None:
    queue = make_queue(sqs)
    threads: list[int] = []

    @queue.processor("later")
    async def later() -> None:
        threads.append(threading.get_ident())

    @queue.processor("now")
    def now() -> None:
        threads.append(threading.get_ident())

    later.delay()
    now.delay()
    runner = WorkerThread(Worker(queue, safety(2), wait_seconds=1)).start()
    runner.join()
    assert len(threads) == 2
    assert len(set(threads)) == 2 and runner.thread.ident in threads


def test_heartbeat_still_works_at_concurrency_1(sqs: Any) -> None:
    # Visibility 1 s, a 2.5 s job: without extensions its message would be
    # received again (prefetch has room) and run twice.
    queue = make_queue(sqs, "slow", visibility_timeout=1)
    runs: list[int] = []

    @queue.processor("slow")
    def slow(n: int) -> None:
        runs.append(n)
        time.sleep(2.5)

    slow.delay(n=0)
    with running_worker(queue, heartbeat=True):
        wait_until(lambda: runs, what="started")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="deleted")
    assert runs == [0]


def test_fifo_order_at_concurrency_1(sqs: Any) -> None:
    create_fifo_queue(sqs, "ordered.fifo", content_based_deduplication=True)
    queue = sqs.queue("ordered.fifo")
    seen: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        seen.append(n)

    with queue.add_batch():
        for n in range(12):
            job.delay(n=n, _group_id="g")
    in_thread(lambda: queue.process_queue(safety(12), wait_second=1))
    assert seen == list(range(12))


CHILD = textwrap.dedent(
    """
    import signal, sys, threading
    from sqs_workers import MemorySession, SQSEnv, create_standard_queue
    env = SQSEnv(session=MemorySession())
    create_standard_queue(env, "q", visibility_timeout=30)
    queue = env.queue("q")
    runs, finished, timed_out = [], [], []

    class Timeout(Exception):
        pass

    def on_alarm(signum, frame):
        raise Timeout()

    @queue.processor("slow")
    def slow(n):
        runs.append(n)
        try:
            if len(runs) == 1:
                # A job timeout by signal.alarm: works on the main thread only.
                signal.signal(signal.SIGALRM, on_alarm)
                signal.alarm(1)
                threading.Event().wait(30)  # cut short by the alarm
            else:
                print("started", flush=True)
                threading.Event().wait(1.5)  # SIGTERM arrives meanwhile
                finished.append(n)
        except Timeout:
            timed_out.append(n)
        finally:
            signal.alarm(0)

    for n in range(4):
        slow.delay(n=n)
    queue.process_queue(wait_second=1)
    print("finished", len(finished), "timed out", len(timed_out), flush=True)
    """
)


def test_alarm_timeouts_work_and_a_signal_stops_after_the_job() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=DEADLINE)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0
    # The first job was cut by its alarm; the one running when SIGTERM came
    # finished (a warm stop); none began after it.
    assert "finished 1 timed out 1" in out
