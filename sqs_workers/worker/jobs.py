"""What the worker holds: one queue's runtime state, and one received job.

A ``Job`` is created per received message (or per received list, on a
``BatchMessages`` queue) and lives until its outcome is recorded or it is
released. It carries the message's visibility deadline so the heartbeat
knows what to extend and the dispatcher knows what has gone stale.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from sqs_workers.sqs.acking import Acker
from sqs_workers.sqs.message import string_value

if TYPE_CHECKING:
    from sqs_workers.worker.protocol import WorkerQueue

# How a job runs: in a worker thread, awaited on the event loop, or as a list
# of messages handed over at once (BatchMessages queues; in a thread).
SYNC = 0
ASYNC = 1
BATCH = 2


class QueueRuntime:
    """One queue as one worker sees it: where it is, and what it holds."""

    def __init__(
        self, queue: WorkerQueue, url: str, visibility_timeout: int, acker: Acker
    ) -> None:
        self.queue = queue
        self.name: str = queue.name
        self.url = url
        self.client: Any = queue.client
        self.acker = acker
        self.visibility_timeout = visibility_timeout
        # Asked for on each receive (the worker's option, or the one assumed
        # when the queue's could not be read); None: the queue's own.
        self.receive_visibility: int | None = None
        self.is_fifo: bool = queue.is_fifo
        policy = queue.batching_policy
        self.batch_size: int = policy.batch_size if policy.batching_enabled else 0
        # Owned by the Dispatcher, under its lock.
        self.ready: deque[Job] = deque()
        # FIFO: a group is present while one of its jobs is ready or running;
        # its deque holds the group's later jobs, in order.
        self.groups: dict[str, deque[Job]] = {}
        self.jobs: set[Job] = set()  # everything held: ready, parked, running
        # The last receive brought fewer messages than asked: the queue
        # looks drained for now (set by the receivers, read by the worker).
        self.looks_drained = False

    def __repr__(self) -> str:
        return f"QueueRuntime({self.name!r})"


class Job:
    __slots__ = (
        "capped",
        "deadline",
        "group",
        "kind",
        "limit_state",
        "message",
        "messages",
        "received_at",
        "runtime",
    )

    def __init__(
        self,
        runtime: QueueRuntime,
        message: Any,
        received_at: float,
        deadline: float,
        messages: list[Any] | None = None,
    ) -> None:
        self.runtime = runtime
        self.message = message
        self.messages = messages
        self.received_at = received_at
        self.deadline = deadline
        self.capped = False  # the heartbeat reached the 12 h cap for it
        # Under a time limit: 0 running, ENDED once its outcome is being
        # recorded, GIVEN_UP once the worker gave up on it (Worker._claim).
        self.limit_state = 0
        self.group: str | None = (
            message.attributes.get("MessageGroupId") if runtime.is_fifo else None
        )
        self.kind = _kind_of(runtime, message, messages)

    def all_messages(self) -> list[Any]:
        return self.messages if self.messages is not None else [self.message]

    def log_extra(self) -> dict[str, Any]:
        """The ``extra`` fields of the engine's log records about this job
        (the same names as the job's own records, see sqs_workers.running)."""
        messages = self.all_messages()
        extra: dict[str, Any] = {"queue_name": self.runtime.name}
        if len(messages) == 1:
            extra["message_id"] = messages[0].message_id
        else:
            extra["message_ids"] = [m.message_id for m in messages]
        job_name = string_value(self.message.message_attributes, "JobName")
        if job_name is not None:
            extra["job_name"] = job_name
        count = self.message.attributes.get("ApproximateReceiveCount")
        if count is not None:
            extra["receive_count"] = int(count)
        return extra

    def __repr__(self) -> str:
        return f"Job({self.runtime.name!r}, {self.message.message_id!r})"


def _kind_of(runtime: QueueRuntime, message: Any, messages: list[Any] | None) -> int:
    if messages is not None:
        return BATCH
    return ASYNC if runtime.queue.runs_async(message) else SYNC
