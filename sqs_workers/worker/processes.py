"""``SQSEnv.process_queues``'s entry point: one or more processes per queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqs_workers.shutdown_policies import ShutdownPolicy
from sqs_workers.worker.options import SupervisorOptions, supervisor_options_from
from sqs_workers.worker.supervisor import Supervisor


def run_queue_processes(
    env: Any,
    queue_names: list[str],
    shutdown_policy_maker: Callable[[], ShutdownPolicy],
    *,
    options: SupervisorOptions | None = None,
    handle_signals: bool | None = None,
    **supervisor_options: Any,
) -> None:
    """Supervise worker processes for ``queue_names`` until all have ended.

    With no options: one process per queue, as the original did. Keywords are
    ``SupervisorOptions`` fields (``processes=4``, ``max_jobs_per_process=1000``)
    and ``WorkerOptions`` ones for the children (``concurrency=8``).
    """
    resolved = supervisor_options_from(options, **supervisor_options)
    Supervisor(env, queue_names, shutdown_policy_maker, resolved, handle_signals).run()
