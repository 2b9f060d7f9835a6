"""The worker: runs queues until a shutdown policy or a signal stops it."""

from sqs_workers.worker.loop import run_queue_worker
from sqs_workers.worker.processes import run_queue_processes

__all__ = ["run_queue_processes", "run_queue_worker"]
