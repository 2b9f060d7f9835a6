"""The supervisor: processes per queue, recycled after N jobs, restarted when
they crash, stopped on request. Worker processes share no memory with the
test, so these run on the moto server only; jobs report through files."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from sqs_workers import create_standard_queue
from sqs_workers.shutdown_policies import IdleShutdown, NeverShutdown
from sqs_workers.worker import Supervisor
from sqs_workers.worker.options import supervisor_options_from

from .helpers import wait_until


@pytest.fixture
def backend() -> str:
    return "moto"  # processes cannot share the in-memory SQS


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def run_in_thread(supervisor: Supervisor) -> threading.Thread:
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    return thread


def test_processes_are_recycled_after_max_jobs(sqs: Any, tmp_path: Path) -> None:
    create_standard_queue(sqs, "r", visibility_timeout=30)
    queue = sqs.queue("r")
    log = tmp_path / "pids"

    @queue.processor("job")
    def job(n: int) -> None:
        with log.open("a") as f:
            f.write(f"{n}:{os.getpid()}\n")

    with queue.add_batch():
        for n in range(7):
            job.delay(n=n)
    options = supervisor_options_from(
        max_jobs_per_process=3, wait_seconds=1, concurrency=1
    )
    supervisor = Supervisor(sqs, ["r"], lambda: IdleShutdown(1), options)
    thread = run_in_thread(supervisor)
    thread.join(40)
    assert not thread.is_alive(), "supervisor did not end"
    done = dict(line.split(":") for line in lines(log))
    assert sorted(int(n) for n in done) == list(range(7))
    assert len(set(done.values())) >= 3  # 7 jobs, 3 per process
    assert supervisor.recycles() >= 2


def test_a_crashed_process_is_restarted(sqs: Any, tmp_path: Path) -> None:
    create_standard_queue(sqs, "c", visibility_timeout=1)
    queue = sqs.queue("c")
    crashed = tmp_path / "crashed"
    done = tmp_path / "done"

    @queue.processor("job")
    def job() -> None:
        if not crashed.exists():
            crashed.write_text(str(os.getpid()))
            os._exit(1)  # the process dies mid-job
        done.write_text(str(os.getpid()))

    job.delay()
    options = supervisor_options_from(restart_delay=0.1, wait_seconds=1)
    supervisor = Supervisor(sqs, ["c"], NeverShutdown, options)
    thread = run_in_thread(supervisor)
    try:
        wait_until(done.exists, timeout=30, what="the job after the restart")
        assert done.read_text() != crashed.read_text()
        assert supervisor.restarts() == 1
    finally:
        supervisor.stop()
        thread.join(30)
    assert not thread.is_alive()


def test_stop_is_forwarded_to_children(sqs: Any, tmp_path: Path) -> None:
    create_standard_queue(sqs, "s", visibility_timeout=30)
    options = supervisor_options_from(processes=2, wait_seconds=1)
    supervisor = Supervisor(sqs, ["s"], NeverShutdown, options)
    thread = run_in_thread(supervisor)
    assert supervisor.started.wait(10)
    pids = supervisor.pids()
    assert len(pids) == 2
    supervisor.stop()
    thread.join(30)
    assert not thread.is_alive()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_env_process_queues_takes_supervisor_and_worker_options(
    sqs: Any, tmp_path: Path
) -> None:
    create_standard_queue(sqs, "e", visibility_timeout=30)
    queue = sqs.queue("e")
    log = tmp_path / "done"

    @queue.processor("job")
    def job(n: int) -> None:
        with log.open("a") as f:
            f.write(f"{n}\n")

    for n in range(4):
        job.delay(n=n)
    finished = threading.Event()

    def run() -> None:
        sqs.process_queues(
            ["e"],
            lambda: IdleShutdown(1),
            processes=2,
            wait_seconds=1,
            concurrency=2,
            handle_signals=False,
        )
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(40), "process_queues did not return"
    assert sorted(set(int(n) for n in lines(log))) == [0, 1, 2, 3]
