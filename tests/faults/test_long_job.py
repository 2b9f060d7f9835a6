"""A job ten times longer than the visibility timeout runs once: the
heartbeat keeps its message hidden while it runs."""

from __future__ import annotations

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

VISIBILITY = 1
LONG = 10 * VISIBILITY


def test_a_job_ten_times_the_visibility_timeout_runs_once(
    make_queue: Callable[..., FaultQueue],
    spawn_worker: Callable[..., WorkerProcess],
    ledger: Ledger,
    report: Callable[[str, Figures], None],
) -> None:
    queue = make_queue(visibility=VISIBILITY)
    worker = spawn_worker(queue, options={"concurrency": 2, "wait_seconds": 1})
    sent = ["long"] + [f"short{i}" for i in range(4)]
    with queue.jobs.add_batch():
        queue.jobs.add_job("record", job_id="long", seconds=LONG)
        for job_id in sent[1:]:
            queue.jobs.add_job("record", job_id=job_id, seconds=0.2)
    wait_until(
        lambda: ledger.done().get("long") or not worker.alive(),
        LONG + 8,
        "the long job done",
    )
    wait_until(
        lambda: server_counts(queue.client, queue.url) == (0, 0),
        5,
        "every message deleted",
        poll=0.2,
    )
    figures = Figures.of(sent, ledger, long_job_starts=ledger.started()["long"])
    report(f"a {LONG} s job, visibility {VISIBILITY} s, concurrency 2", figures)
    assert worker.alive(), worker.describe()
    assert ledger.started()["long"] == 1
    assert figures.lost == 0
    assert figures.duplicated == 0
