"""Message move tasks: redrive messages out of a dead-letter queue.

A task moves the messages that were receivable in the DLQ when it started,
either to each message's original source queue or to one DestinationArn.
Without a rate limit it finishes inside StartMessageMoveTask; with
MaxNumberOfMessagesPerSecond it moves messages as the clock allows, caught
up whenever the store next looks at its tasks.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import TYPE_CHECKING, Any

from .errors import INVALID_PARAMETER_VALUE, RESOURCE_NOT_FOUND, SQSError

if TYPE_CHECKING:
    from .queue import MemoryQueue
    from .store import MemoryAWS

RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"


class MoveTask:
    __slots__ = (
        "destination_arn",
        "failure_reason",
        "handle",
        "moved",
        "rate",
        "source_arn",
        "started_at",
        "status",
        "to_move",
    )

    def __init__(
        self,
        source_arn: str,
        destination_arn: str | None,
        rate: int | None,
        to_move: int,
        started_at: float,
    ) -> None:
        self.source_arn = source_arn
        self.destination_arn = destination_arn
        self.rate = rate
        self.to_move = to_move
        self.started_at = started_at
        self.moved = 0
        self.status = RUNNING
        self.failure_reason: str | None = None
        token = json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn})
        self.handle = base64.b64encode(token.encode()).decode("ascii")

    def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.status == RUNNING:
            result["TaskHandle"] = self.handle
        result["Status"] = self.status
        result["SourceArn"] = self.source_arn
        if self.destination_arn is not None:
            result["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            result["MaxNumberOfMessagesPerSecond"] = self.rate
        result["ApproximateNumberOfMessagesMoved"] = self.moved
        result["ApproximateNumberOfMessagesToMove"] = self.to_move
        if self.failure_reason is not None:
            result["FailureReason"] = self.failure_reason
        result["StartedTimestamp"] = int(self.started_at * 1000)
        return result


class MoveTasks:
    """All move tasks of one MemoryAWS (methods run with its lock held)."""

    def __init__(self, aws: MemoryAWS) -> None:
        self.aws = aws
        self.tasks: list[MoveTask] = []  # oldest first
        self.running = 0

    def _source(self, arn: str) -> MemoryQueue:
        queue = self.aws.queue_by_arn(arn)
        if queue is None:
            raise SQSError(
                RESOURCE_NOT_FOUND,
                "The resource that you specified for the SourceArn parameter "
                "doesn't exist.",
            )
        return queue

    def start(
        self, source_arn: str, destination_arn: str | None, rate: int | None
    ) -> MoveTask:
        source = self._source(source_arn)
        is_dlq = any(
            q.settings.redrive is not None
            and q.settings.redrive.target_arn == source_arn
            for q in self.aws.queues.values()
        )
        if not is_dlq:
            raise SQSError(
                INVALID_PARAMETER_VALUE,
                "Source queue must be configured as a Dead Letter Queue.",
            )
        if (
            destination_arn is not None
            and self.aws.queue_by_arn(destination_arn) is None
        ):
            raise SQSError(
                RESOURCE_NOT_FOUND,
                "The resource that you specified for the DestinationArn "
                "parameter doesn't exist.",
            )
        if rate is not None and not 1 <= rate <= 500:
            raise SQSError(
                INVALID_PARAMETER_VALUE,
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is "
                "invalid. Reason: Must be between 1 and 500.",
            )
        if any(t.status == RUNNING and t.source_arn == source_arn for t in self.tasks):
            raise SQSError(
                INVALID_PARAMETER_VALUE,
                "There is already a task running. Only one active task is "
                "allowed for a source queue arn at a given time.",
            )
        now = self.aws.clock.now()
        to_move = int(source.counters(now)["ApproximateNumberOfMessages"])
        task = MoveTask(source_arn, destination_arn, rate, to_move, now)
        self.tasks.append(task)
        self.running += 1
        self._advance(task, now)
        return task

    def pump(self) -> None:
        """Let rate-limited tasks catch up with the clock."""
        if not self.running:
            return
        now = self.aws.clock.now()
        for task in self.tasks:
            if task.status == RUNNING:
                self._advance(task, now)

    def _advance(self, task: MoveTask, now: float) -> None:
        allowed = task.to_move
        if task.rate is not None:
            allowed = min(allowed, int((now - task.started_at) * task.rate) + task.rate)
        source = self.aws.queue_by_arn(task.source_arn)
        while task.moved < allowed:
            message = source.peek_for_move(now) if source is not None else None
            if message is None:
                break
            arn = task.destination_arn or message.dead_letter_source_arn
            destination = self.aws.queue_by_arn(arn) if arn else None
            if destination is None or source is None:
                self._finish(task, FAILED)
                task.failure_reason = (
                    "AWS.SimpleQueueService.NonExistentQueue"
                    if arn
                    else "The message has no source queue to move back to."
                )
                return
            source.take_for_move(now)
            destination.accept_moved(message, now)
            task.moved += 1
        if (
            task.moved >= task.to_move
            or source is None
            or source.peek_for_move(now) is None
        ):
            self._finish(task, COMPLETED)

    def _finish(self, task: MoveTask, status: str) -> None:
        if task.status == RUNNING:
            self.running -= 1
        task.status = status

    def cancel(self, handle: str) -> MoveTask:
        self.pump()
        for task in self.tasks:
            if task.handle == handle:
                if task.status != RUNNING:
                    raise SQSError(
                        INVALID_PARAMETER_VALUE, "Only active tasks can be cancelled."
                    )
                self._finish(task, CANCELLED)
                return task
        raise SQSError(RESOURCE_NOT_FOUND, "Task does not exist.")

    def list(self, source_arn: str, max_results: int) -> list[dict[str, Any]]:
        self._source(source_arn)
        self.pump()
        matching = [t for t in self.tasks if t.source_arn == source_arn]
        return [t.describe() for t in reversed(matching)][:max_results]
