"""``GenericQueue.process_queue``'s entry point into the worker."""

from __future__ import annotations

from typing import Any

from sqs_workers.shutdown_policies import ShutdownPolicy
from sqs_workers.worker.options import WorkerOptions, worker_options_from
from sqs_workers.worker.worker import Worker


def run_queue_worker(
    queue: Any,
    shutdown_policy: ShutdownPolicy,
    wait_seconds: float,
    *,
    options: WorkerOptions | None = None,
    **worker_options: Any,
) -> None:
    """Run a ``Worker`` on one queue until the policy, a signal or an error stops it.

    ``wait_seconds`` is ``process_queue``'s long-poll wait (``wait_second``);
    ``options``/keywords are ``WorkerOptions`` (e.g. ``concurrency=8``).
    """
    resolved = worker_options_from(options, wait_seconds=wait_seconds, **worker_options)
    Worker([queue], shutdown_policy, resolved).run()
