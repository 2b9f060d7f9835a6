"""The worker engine: runs queues until a shutdown policy or a signal stops it.

- ``Worker``: one or more queues in one process (threads and an event loop);
- ``Supervisor``: worker processes per queue, recycled and restarted;
- ``WorkerOptions`` / ``HeartbeatOptions`` / ``ShutdownOptions`` /
  ``SupervisorOptions``: the settings, as frozen dataclasses.

``GenericQueue.process_queue`` and ``SQSEnv.process_queues`` enter through
``run_queue_worker`` and ``run_queue_processes``.
"""

from sqs_workers.worker.loop import run_queue_worker
from sqs_workers.worker.options import (
    HeartbeatOptions,
    ShutdownOptions,
    SupervisorOptions,
    WorkerOptions,
)
from sqs_workers.worker.processes import run_queue_processes
from sqs_workers.worker.supervisor import Supervisor
from sqs_workers.worker.worker import Worker

__all__ = [
    "HeartbeatOptions",
    "ShutdownOptions",
    "Supervisor",
    "SupervisorOptions",
    "Worker",
    "WorkerOptions",
    "run_queue_processes",
    "run_queue_worker",
]
