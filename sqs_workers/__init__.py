"""sqs_workers: jobs on Amazon SQS — a drop-in for the ``sqs-workers`` package."""

from typing import TYPE_CHECKING, Any

from sqs_workers import batching
from sqs_workers.backoff_policies import (
    DEFAULT_BACKOFF,
    IMMEDIATE_RETURN,
    ConstantBackoff,
    ExponentialBackoff,
)
from sqs_workers.exceptions import SQSError
from sqs_workers.payloads import LargePayloads
from sqs_workers.processors import DropJob, ProcessingResult, RetryJob
from sqs_workers.queue import JobQueue, RawQueue
from sqs_workers.sqs_env import SQSEnv
from sqs_workers.sqs_manage import (
    create_fifo_queue,
    create_standard_queue,
    delete_queue,
)
from sqs_workers.time_limits import JobHardTimeLimitExceeded, JobTimeLimitExceeded

__version__ = "1.0.0.dev0"

if TYPE_CHECKING:
    from sqs_workers.memory_sqs import MemorySession


def __getattr__(name: str) -> Any:
    # The in-memory SQS loads on first use: a worker in production never
    # pays for importing it.
    if name == "MemorySession":
        from sqs_workers.memory_sqs import MemorySession

        return MemorySession
    raise AttributeError(f"module 'sqs_workers' has no attribute {name!r}")


__all__ = [
    "DEFAULT_BACKOFF",
    "IMMEDIATE_RETURN",
    "ConstantBackoff",
    "DropJob",
    "ExponentialBackoff",
    "JobHardTimeLimitExceeded",
    "JobQueue",
    "JobTimeLimitExceeded",
    "LargePayloads",
    "MemorySession",
    "ProcessingResult",
    "RawQueue",
    "RetryJob",
    "SQSEnv",
    "SQSError",
    "batching",
    "create_fifo_queue",
    "create_standard_queue",
    "delete_queue",
]
