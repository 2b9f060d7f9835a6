"""Stopping: prefetched messages released at once, running jobs finish, acks
flushed; shutdown policies count jobs under concurrency; signals."""

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

from sqs_workers import create_standard_queue
from sqs_workers.shutdown_policies import IdleShutdown, MaxTasksShutdown
from sqs_workers.worker import Worker

from .helpers import CallCounter, WorkerThread, queue_counts, wait_until

REPO = Path(__file__).resolve().parents[2]


def make_queue(sqs: Any, name: str = "q") -> Any:
    create_standard_queue(sqs, name, visibility_timeout=30)
    return sqs.queue(name)


def send_stuck_job(queue: Any) -> tuple[threading.Event, threading.Event]:
    """Send one job that blocks until released; (started, release) events."""
    started = threading.Event()
    release = threading.Event()

    @queue.processor("stuck")
    def stuck() -> None:
        started.set()
        release.wait(20)

    stuck.delay()
    return started, release


def test_stop_releases_prefetched_and_lets_running_finish(sqs: Any) -> None:
    queue = make_queue(sqs)
    started = threading.Event()
    release = threading.Event()
    ran: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        ran.append(n)
        started.set()
        assert release.wait(10)

    with queue.add_batch():
        for n in range(5):
            job.delay(n=n)
    runner = WorkerThread(Worker(queue, wait_seconds=1, concurrency=1)).start()
    assert started.wait(10)
    wait_until(lambda: queue_counts(queue) == (0, 5), what="all five received")
    runner.worker.stop()  # ask; the running job still blocks
    # The four prefetched ones are visible again long before their 30 s.
    wait_until(lambda: queue_counts(queue) == (4, 1), what="prefetched released")
    assert not runner.worker.finished.is_set()
    release.set()
    runner.join()
    assert queue_counts(queue) == (4, 0)  # the running one finished and was acked
    assert len(ran) == 1


def test_grace_period_bounds_the_wait_for_running_jobs(sqs: Any) -> None:
    queue = make_queue(sqs)
    started, release = send_stuck_job(queue)
    worker = Worker(queue, wait_seconds=1, concurrency=2, grace_period=0.5)
    runner = WorkerThread(worker).start()
    try:
        assert started.wait(10)
        begin = time.monotonic()
        assert worker.stop(wait=10)
        assert time.monotonic() - begin < 5
        assert queue_counts(queue) == (0, 1)  # neither deleted nor released
    finally:
        release.set()
    runner.join()


def test_cold_stop_does_not_wait_for_running_jobs(sqs: Any) -> None:
    queue = make_queue(sqs)
    started, release = send_stuck_job(queue)
    worker = Worker(queue, wait_seconds=1, concurrency=2, grace_period=30)
    runner = WorkerThread(worker).start()
    try:
        assert started.wait(10)
        begin = time.monotonic()
        assert worker.stop(cold=True, wait=10)
        assert time.monotonic() - begin < 5
    finally:
        release.set()
    runner.join()


class Counting:
    """A policy wrapper that adds up every job it is told about."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen = 0

    def update_state(self, result: Any) -> None:
        self.seen += result.total_count()
        self.inner.update_state(result)

    def need_shutdown(self) -> bool:
        return bool(self.inner.need_shutdown())


def test_max_tasks_counts_every_job_under_concurrency(sqs: Any) -> None:
    queue = make_queue(sqs)
    ran: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        time.sleep(0.02)
        ran.append(n)

    with queue.add_batch():
        for n in range(40):
            job.delay(n=n)
    policy = Counting(MaxTasksShutdown(10))
    WorkerThread(Worker(queue, policy, wait_seconds=1, concurrency=4)).start().join()
    assert 10 <= len(ran) < 40  # stopped by the policy, not by the queue
    assert policy.seen == len(ran)  # every finished job counted once
    visible, in_flight = queue_counts(queue)
    assert in_flight == 0  # nothing held back: the rest released at once
    assert visible == 40 - len(set(ran))


def test_idle_shutdown_is_not_fooled_by_running_jobs(sqs: Any) -> None:
    queue = make_queue(sqs)
    ran: list[int] = []
    release = threading.Event()

    @queue.processor("job")
    def job(n: int) -> None:
        if n < 4:
            release.wait(20)
        ran.append(n)

    for n in range(4):
        job.delay(n=n)
    # Empty receives come back while the four jobs run: not idle yet.
    runner = WorkerThread(
        Worker(queue, IdleShutdown(0.5), wait_seconds=0, concurrency=4)
    ).start()
    wait_until(lambda: runner.worker.running_jobs() == 4, what="4 running")
    # Longer than idle_seconds; the jobs hold until released, however slow
    # the machine, so only a policy fooled by empty receives stops here.
    assert not runner.worker.finished.wait(0.8)
    for n in range(4, 8):
        job.delay(n=n)
    release.set()
    runner.join()
    assert sorted(set(ran)) == list(range(8))


CHILD = textwrap.dedent(
    """
    import sys, time, threading
    from sqs_workers import MemorySession, SQSEnv, create_standard_queue
    env = SQSEnv(session=MemorySession())
    create_standard_queue(env, "q", visibility_timeout=30)
    queue = env.queue("q")
    finished = []
    lock = threading.Lock()

    @queue.processor("slow")
    def slow(n):
        with lock:
            print("started", flush=True)
        time.sleep(float(sys.argv[1]))
        finished.append(n)

    for n in range(2):
        slow.delay(n=n)
    queue.process_queue(wait_second=1, concurrency=2, grace_period=20)
    print("finished", len(finished), flush=True)
    """
)


def run_child_and_signal(signals: int, job_seconds: float) -> tuple[str, float]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(job_seconds)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        for _ in range(2):  # both jobs running
            assert child.stdout.readline().strip() == "started"
        begin = time.monotonic()
        for _ in range(signals):
            child.send_signal(signal.SIGTERM)
            time.sleep(0.3)
        out, _ = child.communicate(timeout=20)
        assert child.returncode == 0
        return out, time.monotonic() - begin
    finally:
        if child.poll() is None:
            child.kill()


def test_sigterm_stops_warm() -> None:
    out, _ = run_child_and_signal(1, job_seconds=1)
    assert "finished 2" in out  # both running jobs completed


def test_second_signal_stops_cold() -> None:
    out, elapsed = run_child_and_signal(2, job_seconds=8)
    assert "finished 0" in out
    assert elapsed < 6  # did not wait for the 8 s jobs


def test_stop_does_not_wait_out_a_long_poll(sqs: Any) -> None:
    queue = make_queue(sqs)
    ran: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        ran.append(n)

    job.delay(n=0)
    # A receiver thread long-polls (fixed receivers: the job thread does not
    # receive for itself, which would leave no poll to outlive the stop).
    runner = WorkerThread(
        Worker(queue, MaxTasksShutdown(1), wait_seconds=20, receivers=1)
    )
    begin = time.monotonic()
    runner.start().join(timeout=15)
    assert time.monotonic() - begin < 10  # not another 20 s long poll
    assert ran == [0]
    # The receiver still polling in the background releases what it gets at
    # once: a message sent now is visible again long before its 30 s.
    counter = CallCounter(queue.client)
    job.delay(n=1)
    wait_until(
        lambda: counter.calls["ChangeMessageVisibilityBatch"],
        timeout=25,
        what="the late poll's release",
    )
    wait_until(lambda: queue_counts(queue) == (1, 0), what="visible again")
    assert ran == [0]
