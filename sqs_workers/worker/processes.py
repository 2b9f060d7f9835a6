"""Several queues at once: one worker process per queue."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

from sqs_workers.shutdown_policies import ShutdownPolicy


def run_queue_processes(
    env: Any,
    queue_names: list[str],
    shutdown_policy_maker: Callable[[], ShutdownPolicy],
) -> None:
    processes = []
    for name in queue_names:
        queue = env.queue(name)
        process = multiprocessing.Process(
            target=queue.process_queue,
            kwargs={"shutdown_policy": shutdown_policy_maker()},
        )
        process.start()
        processes.append(process)
    for process in processes:
        process.join()
