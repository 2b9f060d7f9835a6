"""Worker processes that die or are told to stop in the middle of a run."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from faults.helpers import (
    FaultQueue,
    Figures,
    Ledger,
    WorkerProcess,
    server_counts,
    wait_until,
)

pytestmark = pytest.mark.faults

Report = Callable[[str, Figures], None]


def send_jobs(queue: FaultQueue, count: int, seconds: float) -> list[str]:
    sent = [f"j{i}" for i in range(count)]
    with queue.jobs.add_batch():
        for job_id in sent:
            queue.jobs.add_job("record", job_id=job_id, seconds=seconds)
    return sent


def running(ledger: Ledger) -> set[str]:
    """Jobs started and not finished (by any process)."""
    started, done = ledger.started(), ledger.done()
    return {job for job, n in started.items() if n > done.get(job, 0)}


def test_sigkill_mid_run_loses_nothing(
    make_queue: Callable[..., FaultQueue],
    spawn_worker: Callable[..., WorkerProcess],
    ledger: Ledger,
    report: Report,
) -> None:
    """A worker killed with SIGKILL mid-run: its jobs come back after their
    visibility timeout and another worker runs them."""
    queue = make_queue(visibility=2)
    sent = send_jobs(queue, 20, seconds=0.5)
    first = spawn_worker(queue, options={"concurrency": 4, "wait_seconds": 1})
    wait_until(
        lambda: sum(ledger.done().values()) >= 4 and running(ledger),
        20,
        "some jobs done and some running",
    )
    first.signal(signal.SIGKILL)
    assert first.wait(5) == -signal.SIGKILL
    cut_short = running(ledger)
    spawn_worker(queue, options={"concurrency": 4, "wait_seconds": 1})
    wait_until(lambda: all(ledger.done().get(job) for job in sent), 20, "every job run")
    wait_until(
        lambda: server_counts(queue.client, queue.url) == (0, 0),
        10,
        "every message deleted",
        poll=0.2,
    )
    figures = Figures.of(sent, ledger, cut_short_by_kill=len(cut_short))
    report("SIGKILL mid-run, second worker", figures)
    assert figures.lost == 0
    assert cut_short <= set(ledger.done()), "a job cut short never ran again"


@pytest.mark.parametrize("concurrency", [1, 2])
def test_sigterm_mid_run_finishes_running_and_releases_prefetched(
    concurrency: int,
    make_queue: Callable[..., FaultQueue],
    spawn_worker: Callable[..., WorkerProcess],
    ledger: Ledger,
    report: Report,
) -> None:
    """SIGTERM: running jobs finish, prefetched ones are receivable again
    within 1 s (not after the 30 s visibility timeout), exit within the grace
    period; a second worker then runs the rest, each job once."""
    grace = 10
    queue = make_queue(visibility=30)
    sent = send_jobs(queue, 12, seconds=1.5)
    worker = spawn_worker(
        queue,
        options={
            "concurrency": concurrency,
            "wait_seconds": 1,
            "grace_period": grace,
        },
    )
    # Jobs running and a receive's worth prefetched: at concurrency 1 the
    # job thread receives 10 itself while receives are quick (and takes no
    # more until it has run them); with a receiver thread, up to all 12.
    wait_until(
        lambda: (
            len(running(ledger)) == concurrency
            and server_counts(queue.client, queue.url)[1] >= 10
        ),
        20,
        "jobs running and the rest prefetched",
    )
    was_running = running(ledger)
    held = server_counts(queue.client, queue.url)[1]
    signalled = time.monotonic()
    worker.signal(signal.SIGTERM)
    prefetched = held - concurrency
    released: dict[str, str] = {}  # MessageId: ReceiptHandle

    def receive_released() -> bool:
        for message in queue.client.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", []):
            released[message["MessageId"]] = message["ReceiptHandle"]
        return len(released) >= prefetched

    # Received by another consumer within 1 s of the signal.
    wait_until(receive_released, 1.0, f"{prefetched} prefetched messages back")
    back_after = time.monotonic() - signalled
    exit_code = worker.wait(grace)
    exited_after = time.monotonic() - signalled
    assert exit_code == 0, worker.describe()
    assert was_running <= set(ledger.done()), "a running job did not finish"
    assert not running(ledger)
    for receipt in released.values():  # give them back for the second worker
        queue.client.change_message_visibility(
            QueueUrl=queue.url, ReceiptHandle=receipt, VisibilityTimeout=0
        )
    spawn_worker(queue, options={"concurrency": 12, "wait_seconds": 1})
    wait_until(lambda: all(ledger.done().get(job) for job in sent), 20, "every job run")
    figures = Figures.of(
        sent,
        ledger,
        prefetched_back=f"{back_after:.2f}s",
        exited=f"{exited_after:.1f}s",
    )
    report(f"SIGTERM mid-run, concurrency {concurrency}", figures)
    assert figures.lost == 0
    assert figures.duplicated == 0
