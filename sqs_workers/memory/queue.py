"""Queue logic: where each message is, and how it moves between places.

A message is in exactly one place (see the states in message.py):
``visible`` (a deque, received front first), the ``timers`` heap (delayed
messages until their delay ends, in-flight ones until their visibility
timeout ends), or gone.  ``messages`` maps serials to live messages in send
order: receipt handles are looked up there, and retention expires messages
from its front.  Every operation is O(1) or O(log n) in the queue's length.

All methods run with the owning MemoryAWS's lock held.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict, deque
from typing import TYPE_CHECKING

from .attributes import MAX_VISIBILITY_TIMEOUT, QueueSettings
from .errors import (
    INVALID_PARAMETER_VALUE,
    MESSAGE_NOT_INFLIGHT,
    RECEIPT_HANDLE_IS_INVALID,
    SQSError,
)
from .heap import MessageHeap
from .message import DELAYED, GONE, INFLIGHT, VISIBLE, MemoryMessage

if TYPE_CHECKING:
    from .store import MemoryAWS

HANDLE_PREFIX = "AQEB"
ISSUED_HANDLES_LIMIT = 4096


def invalid_handle(handle: str) -> SQSError:
    return SQSError(
        RECEIPT_HANDLE_IS_INVALID,
        f'The input receipt handle "{handle}" is not a valid receipt handle.',
    )


def expired_handle(handle: str) -> SQSError:
    return SQSError(
        INVALID_PARAMETER_VALUE,
        f"Value {handle} for parameter ReceiptHandle is invalid. "
        "Reason: The receipt handle has expired.",
    )


class MemoryQueue:
    """A standard SQS queue held in memory (FIFO queues subclass it)."""

    fifo = False

    def __init__(
        self,
        aws: MemoryAWS,
        uid: int,
        name: str,
        url: str,
        arn: str,
        settings: QueueSettings,
        now: float,
    ) -> None:
        self.aws = aws
        self.uid = uid
        self.name = name
        self.url = url
        self.arn = arn
        self.settings = settings
        self.created_at = now
        self.modified_at = now
        self.tags: dict[str, str] = {}
        self.cond = threading.Condition(aws.lock)
        self.waiters = 0  # long-pollers blocked on cond; skip notify when 0
        self.messages: OrderedDict[int, MemoryMessage] = OrderedDict()
        self.timers = MessageHeap()
        self.visible: deque[MemoryMessage] = deque()
        self.n_visible = 0
        self.n_delayed = 0
        self.n_inflight = 0
        self.last_purge: float | None = None
        self.deleted = False
        # Receipt handles issued and not yet used by a delete -> (serial,
        # receive count); bounded, a forgotten handle is simply decoded.
        self._issued: dict[str, tuple[int, int]] = {}

    # -- time -------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Apply everything that became due: retention, delays, visibility."""
        messages = self.messages
        if messages:
            oldest_allowed = now - self.settings.retention_period
            while messages:
                oldest = next(iter(messages.values()))
                if oldest.sent_at > oldest_allowed:
                    break
                self.remove(oldest)
        timers = self.timers
        while timers:
            first = timers.peek()
            assert first is not None
            if first.ready_at > now:
                break
            timers.pop()
            self._release(first)

    def next_timer(self) -> float | None:
        first = self.timers.peek()
        return first.ready_at if first is not None else None

    def _schedule(self, message: MemoryMessage) -> None:
        """Put `message` on the timer heap; wake a poller to re-plan its wait."""
        if self.timers.push(message):
            self.wake()

    def _release(self, message: MemoryMessage) -> None:
        """A timer ran out: the message becomes receivable."""
        if message.state == INFLIGHT:
            self.n_inflight -= 1
        else:
            self.n_delayed -= 1
        self._make_visible(message)

    def wake(self) -> None:
        if self.waiters:
            self.cond.notify()

    # -- placing messages -------------------------------------------------

    def add(self, message: MemoryMessage, now: float, delay: int) -> None:
        """Store a newly sent (or moved-in) message."""
        self.messages[message.serial] = message
        if delay > 0:
            message.state = DELAYED
            message.ready_at = now + delay
            self.n_delayed += 1
            self._schedule(message)
        else:
            self._make_visible(message)

    def _make_visible(self, message: MemoryMessage) -> None:
        message.state = VISIBLE
        self.n_visible += 1
        self.visible.append(message)
        self.wake()

    def remove(self, message: MemoryMessage) -> None:
        """Take `message` out of the queue for good, from wherever it is."""
        state = message.state
        if state == INFLIGHT:
            self.timers.remove(message)
            self.n_inflight -= 1
        elif state == DELAYED:
            self.timers.remove(message)
            self.n_delayed -= 1
        elif state == VISIBLE:
            self.n_visible -= 1  # stays in the deque; skipped when reached
        message.state = GONE
        self.messages.pop(message.serial, None)
        self._removed(message)

    def _removed(self, message: MemoryMessage) -> None:
        """Hook for FIFO group bookkeeping."""

    # -- receiving --------------------------------------------------------

    def has_ready(self) -> bool:
        return self.n_visible > 0

    def receive(
        self, max_messages: int, visibility: int, now: float
    ) -> list[MemoryMessage]:
        self.tick(now)
        received: list[MemoryMessage] = []
        visible = self.visible
        while len(received) < max_messages and visible:
            message = visible.popleft()
            if message.state != VISIBLE:
                continue  # deleted while visible
            if self._expired_or_dead(message, now):
                continue
            self._deliver(message, visibility, now)
            received.append(message)
        return received

    def _expired_or_dead(self, message: MemoryMessage, now: float) -> bool:
        """Drop an over-age message; dead-letter one received too often.

        The retention check here catches messages that arrived out of send
        order (moved from another queue with their original timestamp).
        """
        if message.sent_at + self.settings.retention_period <= now:
            self.remove(message)
            return True
        policy = self.settings.redrive
        if policy is None or message.receive_count < policy.max_receive_count:
            return False
        target = self.aws.queue_by_arn(policy.target_arn)
        if target is None or target.fifo != self.fifo:
            return False  # no usable DLQ: keep delivering, as SQS does
        self.remove(message)
        target.accept_dead_letter(message, self.arn, now)
        return True

    def repeat_attempt(
        self, attempt_id: str, visibility: int, now: float
    ) -> list[MemoryMessage] | None:
        """Standard queues ignore ReceiveRequestAttemptId, as SQS does."""
        return None

    def record_attempt(
        self, attempt_id: str, messages: list[MemoryMessage], now: float
    ) -> None:
        """Standard queues ignore ReceiveRequestAttemptId, as SQS does."""

    def _deliver(self, message: MemoryMessage, visibility: int, now: float) -> None:
        if message.state == VISIBLE:
            self.n_visible -= 1
        message.state = INFLIGHT
        message.receive_count += 1
        if message.first_receive_at is None:
            message.first_receive_at = now
        message.received_at = now
        message.ready_at = now + visibility
        self.n_inflight += 1
        self._schedule(message)

    def accept_dead_letter(
        self, message: MemoryMessage, source_arn: str, now: float
    ) -> None:
        """Take a message moved here by a source queue's RedrivePolicy.

        A standard queue keeps the original send time (retention counts from
        the first enqueue) and receive count, as SQS does.
        """
        message = message.copy_for_move(self.aws.next_serial())
        message.dead_letter_source_arn = source_arn
        self.add(message, now, 0)

    def accept_moved(self, message: MemoryMessage, now: float) -> None:
        """Take a message redriven back by a message move task: a fresh start."""
        message = message.copy_for_move(self.aws.next_serial())
        message.receive_count = 0
        message.first_receive_at = None
        message.sent_at = now
        message.dead_letter_source_arn = None
        self.add(message, now, 0)

    def take_for_move(self, now: float) -> MemoryMessage | None:
        """Remove and return the next receivable message (for move tasks)."""
        self.tick(now)
        while self.visible:
            message = self.visible.popleft()
            if message.state == VISIBLE:
                self.remove(message)
                return message
        return None

    def peek_for_move(self, now: float) -> MemoryMessage | None:
        self.tick(now)
        while self.visible and self.visible[0].state != VISIBLE:
            self.visible.popleft()
        return self.visible[0] if self.visible else None

    # -- receipt handles ----------------------------------------------------

    def receipt_handle(self, message: MemoryMessage) -> str:
        serial, count = message.serial, message.receive_count
        raw = f"{self.uid}:{serial}:{count}".encode()
        handle = HANDLE_PREFIX + binascii.b2a_base64(raw, newline=False).decode()
        issued = self._issued
        if len(issued) >= ISSUED_HANDLES_LIMIT:
            issued.clear()
        issued[handle] = (serial, count)
        return handle

    def _parse_handle(self, handle: str, last_use: bool = False) -> tuple[int, int]:
        """(serial, receive count) from a handle of this queue, else raise.

        Handles this queue issued recently are remembered with what they
        decode to (a delete would otherwise decode base64 per message);
        ``last_use`` forgets the handle, as a delete ends its use.
        """
        issued = self._issued
        known = issued.pop(handle, None) if last_use else issued.get(handle)
        if known is not None:
            return known
        if not handle.startswith(HANDLE_PREFIX):
            raise invalid_handle(handle)
        try:
            raw = base64.b64decode(handle[len(HANDLE_PREFIX) :], validate=True)
            uid, serial, count = raw.decode("ascii").split(":")
            if int(uid) != self.uid:
                raise ValueError(uid)
            return int(serial), int(count)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise invalid_handle(handle) from None

    def _current(self, handle: str, last_use: bool = False) -> MemoryMessage | None:
        """The message `handle` is the latest handle of, if it still exists."""
        serial, count = self._parse_handle(handle, last_use)
        message = self.messages.get(serial)
        if message is None or message.receive_count != count:
            return None
        return message

    def delete_many(self, handles: list[str], now: float) -> list[SQSError | None]:
        """Delete by receipt handles; per handle None or the error.

        SQS accepts a handle whose message is already gone, and a stale
        handle (the message was received again since) succeeds without
        deleting anything; only a malformed handle is an error.
        """
        # One tick for the batch: at the same `now`, removing messages makes
        # nothing else due, so a tick per handle would find nothing more.
        self.tick(now)
        results: list[SQSError | None] = []
        for handle in handles:
            try:
                message = self._current(handle, last_use=True)
            except SQSError as error:
                results.append(error)
                continue
            if message is not None and message.state != GONE:
                self.remove(message)
            results.append(None)
        return results

    def change_visibility(self, handle: str, timeout: int, now: float) -> None:
        message = self._current(handle)
        self.tick(now)
        if message is None or message.state == GONE:
            raise expired_handle(handle)
        if message.state != INFLIGHT:
            raise SQSError(
                MESSAGE_NOT_INFLIGHT,
                "Message does not exist or is not available for visibility "
                "timeout change.",
            )
        if now + timeout - message.received_at > MAX_VISIBILITY_TIMEOUT:
            raise SQSError(
                INVALID_PARAMETER_VALUE,
                f"Value {timeout} for parameter VisibilityTimeout is invalid. "
                "Reason: Total VisibilityTimeout for the message is beyond the "
                f"limit [{MAX_VISIBILITY_TIMEOUT} seconds]",
            )
        message.ready_at = now + timeout
        if self.timers.update(message):
            self.wake()
        if timeout == 0:
            self.tick(now)

    # -- whole-queue operations --------------------------------------------

    def purge(self) -> None:
        for message in self.messages.values():
            message.state = GONE
            message.heap_pos = -1
        self.messages.clear()
        self.timers.clear()
        self.visible.clear()
        self.n_visible = self.n_delayed = self.n_inflight = 0
        self._purged()

    def _purged(self) -> None:
        """Hook for FIFO state."""

    def counters(self, now: float) -> dict[str, str]:
        self.tick(now)
        return {
            "ApproximateNumberOfMessages": str(self.n_visible),
            "ApproximateNumberOfMessagesDelayed": str(self.n_delayed),
            "ApproximateNumberOfMessagesNotVisible": str(self.n_inflight),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
