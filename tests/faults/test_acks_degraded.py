"""Issue 14 (4): acks on a degraded SQS: a finished job's message stays
invisible until its delete succeeds, so a slow delete never reruns a job."""

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
from faults.proxy import FaultProxy, Faults

pytestmark = pytest.mark.faults

FAILING_DELETES = Faults(
    error_rate=0.25,
    throttle_rate=0.25,
    reset_rate=0.1,
    drop_rate=0.1,
    actions=frozenset({"DeleteMessageBatch", "DeleteMessage"}),
)


def test_slow_deletes_do_not_rerun_finished_jobs(
    make_queue: Callable[..., FaultQueue],
    start_proxy: Callable[..., FaultProxy],
    spawn_worker: Callable[..., WorkerProcess],
    ledger: Ledger,
    report: Callable[[str, Figures], None],
) -> None:
    """Deletes fail 70% of the time (all kinds of fault), visibility 2 s:
    60 short jobs at concurrency 8 each run once."""
    queue = make_queue(visibility=2)
    proxy = start_proxy()
    worker = spawn_worker(
        queue,
        endpoint=proxy.endpoint_url,
        codec="json",
        options={"concurrency": 8, "wait_seconds": 1},
    )
    wait_until(lambda: proxy.calls("ReceiveMessage"), 20, "a first receive")
    proxy.set_faults(FAILING_DELETES)
    sent = [f"j{i}" for i in range(60)]
    with queue.jobs.add_batch():
        for job_id in sent:
            queue.jobs.add_job("record", job_id=job_id, seconds=0.05)
    wait_until(
        lambda: server_counts(queue.client, queue.url) == (0, 0) or not worker.alive(),
        30,
        "every message deleted",
        poll=0.2,
    )
    deletes = {
        fate: n
        for (action, fate), n in proxy.by_action().items()
        if action == "DeleteMessageBatch"
    }
    failed = sum(n for fate, n in deletes.items() if fate != "forwarded")
    figures = Figures.of(
        sent, ledger, delete_calls=sum(deletes.values()), delete_faults=failed
    )
    report("(4) 70% of deletes fail (visibility 2 s)", figures)
    assert worker.alive(), worker.describe()
    assert figures.lost == 0
    assert figures.duplicated == 0, figures.line()
