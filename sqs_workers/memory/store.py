"""MemoryAWS: one account's SQS queues, its clock and its lock.

Every client made from the same MemoryAWS sees the same queues.  A single
lock guards all queues: operations are short (no O(n) work), redrive moves
messages between two queues atomically, and with the GIL a finer lock would
buy little.  Each queue has a Condition on that lock for its long-pollers.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .attributes import ALL_ORDER, COUNTERS, QueueSettings
from .clock import Clock, RealClock
from .errors import (
    INVALID_PARAMETER_VALUE,
    PURGE_IN_PROGRESS,
    QUEUE_ALREADY_EXISTS,
    QUEUE_DELETED_RECENTLY,
    QUEUE_DOES_NOT_EXIST,
    SQSError,
)
from .fifo import MemoryFifoQueue
from .message import MemoryMessage, MessageContent, new_id
from .move_tasks import MoveTasks
from .queue import MemoryQueue
from .s3 import MemoryS3
from .validation import check_send_for_queue

T = TypeVar("T")
DEFAULT_ACCOUNT_ID = "000000000000"
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
FIFO_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
PURGE_INTERVAL = 60.0
RECREATE_INTERVAL = 60.0


def queue_does_not_exist() -> SQSError:
    return SQSError(QUEUE_DOES_NOT_EXIST, "The specified queue does not exist.")


class MemoryAWS:
    """The in-memory SQS of one AWS account, shared by its clients."""

    def __init__(
        self, clock: Clock | None = None, account_id: str = DEFAULT_ACCOUNT_ID
    ) -> None:
        self.clock: Clock = clock if clock is not None else RealClock()
        self.account_id = account_id
        self.lock = threading.Lock()
        self.queues: dict[tuple[str, str], MemoryQueue] = {}
        self._by_url: dict[str, MemoryQueue] = {}
        self._by_arn: dict[str, MemoryQueue] = {}
        self._deleted_at: dict[tuple[str, str], float] = {}
        self._serials = itertools.count(1)
        self._queue_uids = itertools.count(1)
        self.move_tasks = MoveTasks(self)
        self.s3 = MemoryS3()  # the buckets of MemorySession.client("s3")
        self.clock.subscribe(self._time_jumped)

    def __repr__(self) -> str:
        return (
            f"MemoryAWS(account_id={self.account_id!r}, queues={len(self.queues)}, "
            f"clock={type(self.clock).__name__})"
        )

    # -- naming -----------------------------------------------------------------

    def queue_url(self, region: str, name: str) -> str:
        return f"https://sqs.{region}.amazonaws.com/{self.account_id}/{name}"

    def queue_arn(self, region: str, name: str) -> str:
        return f"arn:aws:sqs:{region}:{self.account_id}:{name}"

    # -- lookups (lock held) ------------------------------------------------------

    def queue_by_arn(self, arn: str) -> MemoryQueue | None:
        return self._by_arn.get(arn)

    def queue_by_url(self, region: str, url: str) -> MemoryQueue:
        queue = self._by_url.get(url)
        if queue is not None:
            return queue
        # SQS accepts other spellings of a queue URL (legacy hosts, http,
        # trailing slash): what counts is the account and the queue name.
        parts = url.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == self.account_id:
            queue = self.queues.get((region, parts[-1]))
            if queue is not None:
                return queue
        raise queue_does_not_exist()

    def _time_jumped(self) -> None:
        """A fake clock moved: wake every long-poller so it re-checks."""
        with self.lock:
            for queue in self.queues.values():
                if queue.waiters:
                    queue.cond.notify_all()

    def now(self) -> float:
        return self.clock.now()

    def next_serial(self) -> int:
        """A new message serial (lock held): unique across all queues."""
        return next(self._serials)

    # -- queues -------------------------------------------------------------------

    def create_queue(
        self,
        region: str,
        name: str,
        attributes: dict[str, Any],
        tags: dict[str, str],
    ) -> MemoryQueue:
        fifo = name.endswith(".fifo")
        pattern = FIFO_QUEUE_NAME if fifo else QUEUE_NAME
        wants_fifo = str(attributes.get("FifoQueue", "false")).lower() == "true"
        if not pattern.fullmatch(name) or fifo != wants_fifo:
            raise SQSError(INVALID_PARAMETER_VALUE, _name_rules(wants_fifo))
        settings = QueueSettings(fifo)
        normalized = settings.validate(attributes, creating=True)
        with self.lock:
            now = self.clock.now()
            key = (region, name)
            existing = self.queues.get(key)
            if existing is not None:
                differing = existing.settings.differs(normalized)
                if differing is not None:
                    raise SQSError(
                        QUEUE_ALREADY_EXISTS,
                        "A queue already exists with the same name and a "
                        f"different value for attribute {differing}",
                    )
                return existing
            deleted_at = self._deleted_at.get(key)
            if deleted_at is not None and now - deleted_at < RECREATE_INTERVAL:
                raise SQSError(
                    QUEUE_DELETED_RECENTLY,
                    "You must wait 60 seconds after deleting a queue before you "
                    "can create another with the same name.",
                )
            self._deleted_at.pop(key, None)
            self._check_redrive(region, name, normalized, fifo)
            settings.apply(normalized)
            cls = MemoryFifoQueue if fifo else MemoryQueue
            queue = cls(
                self,
                next(self._queue_uids),
                name,
                self.queue_url(region, name),
                self.queue_arn(region, name),
                settings,
                now,
            )
            queue.tags.update(tags)
            self.queues[key] = queue
            self._by_url[queue.url] = queue
            self._by_arn[queue.arn] = queue
            return queue

    def _check_redrive(
        self, region: str, name: str, attributes: dict[str, str], fifo: bool
    ) -> None:
        """A RedrivePolicy must name an existing DLQ of the same type that allows us."""
        value = attributes.get("RedrivePolicy")
        if not value:
            return
        settings = QueueSettings(fifo)
        settings.apply({**settings.raw, "RedrivePolicy": value})
        policy = settings.redrive
        assert policy is not None
        target = self._by_arn.get(policy.target_arn)
        reason = None
        if target is None:
            reason = "Dead letter target does not exist."
        elif target.fifo != fifo:
            reason = "Dead-letter queue must be same type of queue as the source."
        else:
            allow = target.settings.redrive_allow
            if allow is not None and not allow.allows(self.queue_arn(region, name)):
                reason = (
                    "Dead-letter queue's RedriveAllowPolicy does not allow this "
                    "queue to use it."
                )
        if reason is not None:
            raise SQSError(
                INVALID_PARAMETER_VALUE,
                f"Value {value} for parameter RedrivePolicy is invalid. "
                f"Reason: {reason}",
            )

    def delete_queue(self, region: str, url: str) -> None:
        with self.lock:
            queue = self.queue_by_url(region, url)
            key = (region, queue.name)
            del self.queues[key]
            self._by_url.pop(queue.url, None)
            self._by_arn.pop(queue.arn, None)
            self._deleted_at[key] = self.clock.now()
            queue.deleted = True
            queue.purge()
            queue.cond.notify_all()  # long-pollers return empty

    def get_queue(self, region: str, name: str) -> MemoryQueue:
        with self.lock:
            queue = self.queues.get((region, name))
            if queue is None:
                raise queue_does_not_exist()
            return queue

    def list_queues(self, region: str, prefix: str) -> list[MemoryQueue]:
        with self.lock:
            return sorted(
                (
                    q
                    for (r, name), q in self.queues.items()
                    if r == region and name.startswith(prefix)
                ),
                key=lambda q: q.name,
            )

    def get_attributes(self, region: str, url: str, names: set[str]) -> dict[str, str]:
        with self.lock:
            queue = self.queue_by_url(region, url)
            values: dict[str, str] = dict(queue.settings.raw)
            if names & set(COUNTERS):
                values.update(queue.counters(self.clock.now()))
            values["QueueArn"] = queue.arn
            values["CreatedTimestamp"] = str(int(queue.created_at))
            values["LastModifiedTimestamp"] = str(int(queue.modified_at))
            return {n: values[n] for n in ALL_ORDER if n in names and n in values}

    def set_attributes(self, region: str, url: str, attributes: dict[str, Any]) -> None:
        with self.lock:
            queue = self.queue_by_url(region, url)
            normalized = queue.settings.validate(attributes, creating=False)
            self._check_redrive(region, queue.name, normalized, queue.fifo)
            queue.settings.apply(normalized)
            queue.modified_at = self.clock.now()
            queue.cond.notify_all()  # waits may now end at a different time

    def purge_queue(self, region: str, url: str) -> None:
        with self.lock:
            queue = self.queue_by_url(region, url)
            now = self.clock.now()
            if queue.last_purge is not None and now - queue.last_purge < PURGE_INTERVAL:
                raise SQSError(
                    PURGE_IN_PROGRESS,
                    f"Only one PurgeQueue operation on {queue.name} is allowed "
                    "every 60 seconds.",
                )
            queue.last_purge = now
            queue.purge()

    def dead_letter_sources(self, region: str, url: str) -> list[MemoryQueue]:
        with self.lock:
            target = self.queue_by_url(region, url)
            return sorted(
                (
                    q
                    for q in self.queues.values()
                    if q.settings.redrive is not None
                    and q.settings.redrive.target_arn == target.arn
                ),
                key=lambda q: q.name,
            )

    def tag_queue(
        self, region: str, url: str, add: dict[str, str], remove: list[str]
    ) -> dict[str, str]:
        with self.lock:
            queue = self.queue_by_url(region, url)
            queue.tags.update(add)
            for key in remove:
                queue.tags.pop(key, None)
            return dict(queue.tags)

    # -- messages -------------------------------------------------------------------

    def send(
        self,
        region: str,
        url: str,
        entries: list[tuple[MessageContent, int | None, str | None, str | None]],
    ) -> list[Any]:
        """Store messages; per entry (MessageId, SequenceNumber) or an SQSError.

        Each entry is (content, DelaySeconds, MessageGroupId, dedup id); the
        caller has validated everything that does not depend on the queue.
        """
        with self.lock:
            queue = self.queue_by_url(region, url)
            now = self.clock.now()
            queue.tick(now)
            results: list[Any] = []
            for content, delay, group_id, dedup_id in entries:
                try:
                    results.append(
                        self._send_one(queue, content, delay, group_id, dedup_id, now)
                    )
                except SQSError as error:
                    results.append(error)
            return results

    def _send_one(
        self,
        queue: MemoryQueue,
        content: MessageContent,
        delay: int | None,
        group_id: str | None,
        dedup_id: str | None,
        now: float,
    ) -> tuple[str, str | None]:
        dedup_id = check_send_for_queue(queue, content, delay, group_id, dedup_id)
        message = MemoryMessage(self.next_serial(), new_id(), content, now)
        if isinstance(queue, MemoryFifoQueue):
            assert group_id is not None and dedup_id is not None
            duplicate = queue.find_duplicate(group_id, dedup_id, now)
            if duplicate is not None:
                return duplicate.message_id, duplicate.sequence_number
            queue.add_fifo(message, group_id, dedup_id, now)
            return message.message_id, message.sequence_number
        message.group_id = group_id
        queue.add(
            message, now, queue.settings.delay_seconds if delay is None else delay
        )
        return message.message_id, None

    def receive(
        self,
        region: str,
        url: str,
        max_messages: int,
        visibility: int | None,
        wait: int | None,
        render: Callable[[MemoryQueue, MemoryMessage, str], T],
        attempt_id: str | None = None,
    ) -> list[T]:
        """Receive up to `max_messages`, long-polling up to `wait` seconds.

        `render` turns each message and its new receipt handle into the
        caller's result while the lock is still held, so a concurrent receive
        cannot change the message in between.  A repeated FIFO
        ReceiveRequestAttemptId gets the same messages and handles again.
        """
        with self.lock:
            if self.move_tasks.running:
                self.move_tasks.pump()
            queue = self.queue_by_url(region, url)
            clock = self.clock
            now = clock.now()
            if visibility is None:
                visibility = queue.settings.visibility_timeout
            if wait is None:
                wait = queue.settings.wait_time_seconds
            deadline = now + wait
            if attempt_id is not None:
                repeated = queue.repeat_attempt(attempt_id, visibility, now)
                if repeated is not None:
                    return [render(queue, m, queue.receipt_handle(m)) for m in repeated]
            while True:
                messages = queue.receive(max_messages, visibility, now)
                if messages:
                    if attempt_id is not None:
                        queue.record_attempt(attempt_id, messages, now)
                    if queue.has_ready():
                        queue.wake()  # pass leftovers to the next poller
                    return [render(queue, m, queue.receipt_handle(m)) for m in messages]
                if now >= deadline or queue.deleted:
                    return []
                until = deadline
                next_timer = queue.next_timer()
                if next_timer is not None and next_timer < until:
                    until = next_timer
                queue.waiters += 1
                try:
                    queue.cond.wait(clock.wait_timeout(until - now))
                finally:
                    queue.waiters -= 1
                now = clock.now()

    def delete_messages(
        self, region: str, url: str, handles: list[str]
    ) -> list[SQSError | None]:
        with self.lock:
            queue = self.queue_by_url(region, url)
            return queue.delete_many(handles, self.clock.now())

    def change_visibility(
        self, region: str, url: str, changes: list[tuple[str, int]]
    ) -> list[SQSError | None]:
        with self.lock:
            queue = self.queue_by_url(region, url)
            now = self.clock.now()
            results: list[SQSError | None] = []
            for handle, timeout in changes:
                try:
                    queue.change_visibility(handle, timeout, now)
                    results.append(None)
                except SQSError as error:
                    results.append(error)
            return results

    # -- permissions ------------------------------------------------------------------

    def add_permission(
        self,
        region: str,
        url: str,
        label: str,
        accounts: list[str],
        actions: list[str],
    ) -> None:
        with self.lock:
            queue = self.queue_by_url(region, url)
            policy = json.loads(queue.settings.raw.get("Policy") or "{}")
            statements = policy.setdefault("Statement", [])
            if any(s.get("Sid") == label for s in statements):
                raise SQSError(
                    INVALID_PARAMETER_VALUE,
                    f"Value {label} for parameter Label is invalid. Reason: "
                    "Already exists.",
                )
            policy.setdefault("Version", "2012-10-17")
            policy.setdefault("Id", f"{queue.arn}/SQSDefaultPolicy")
            statements.append(
                {
                    "Sid": label,
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
                    "Action": [f"SQS:{a}" for a in actions],
                    "Resource": queue.arn,
                }
            )
            queue.settings.raw["Policy"] = json.dumps(policy)

    def remove_permission(self, region: str, url: str, label: str) -> None:
        with self.lock:
            queue = self.queue_by_url(region, url)
            policy = json.loads(queue.settings.raw.get("Policy") or "{}")
            statements = policy.get("Statement", [])
            kept = [s for s in statements if s.get("Sid") != label]
            if len(kept) == len(statements):
                raise SQSError(
                    INVALID_PARAMETER_VALUE,
                    f"Value {label} for parameter Label is invalid. Reason: "
                    "can't find label on existing policy.",
                )
            if kept:
                policy["Statement"] = kept
                queue.settings.raw["Policy"] = json.dumps(policy)
            else:
                queue.settings.raw.pop("Policy", None)

    # -- message move tasks ------------------------------------------------------

    def start_move_task(
        self, source_arn: str, destination_arn: str | None, rate: int | None
    ) -> str:
        with self.lock:
            return self.move_tasks.start(source_arn, destination_arn, rate).handle

    def list_move_tasks(
        self, source_arn: str, max_results: int
    ) -> list[dict[str, Any]]:
        with self.lock:
            return self.move_tasks.list(source_arn, max_results)

    def cancel_move_task(self, handle: str) -> int:
        with self.lock:
            return self.move_tasks.cancel(handle).moved

    def move_tasks_pump(self) -> None:
        if self.move_tasks.running:
            with self.lock:
                self.move_tasks.pump()


def _name_rules(fifo: bool) -> str:
    if fifo:
        return (
            "The name of a FIFO queue can only include alphanumeric characters, "
            "hyphens, or underscores, must end with .fifo suffix and be 1 to 80 "
            "in length."
        )
    return (
        "Can only include alphanumeric characters, hyphens, or underscores. "
        "1 to 80 in length"
    )
