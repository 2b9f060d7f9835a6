"""FIFO queue logic: message groups, strict order, deduplication.

Each message group keeps its live messages in send order.  A group can hand
out messages only while none of its messages is in flight, and then only
from its head, which gives SQS's guarantee: strict order within a group, and
no later message of a group while an earlier one is being processed.
``ready`` lists the groups that may have something to deliver (checked when
popped), so a receive never scans blocked groups.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import TYPE_CHECKING

from .attributes import QueueSettings
from .message import GONE, INFLIGHT, VISIBLE, MemoryMessage
from .queue import MemoryQueue

if TYPE_CHECKING:
    from .store import MemoryAWS

DEDUPLICATION_WINDOW = 300.0  # seconds, fixed by SQS
SEQUENCE_BASE = 18_000_000_000_000_000_000  # SQS sequence numbers are ~20 digits

DedupKey = str | tuple[str, str]


class MessageGroup:
    __slots__ = ("group_id", "inflight", "messages", "queued")

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.messages: deque[MemoryMessage] = deque()
        self.inflight = 0
        self.queued = False  # already listed in the queue's `ready` deque

    def head(self) -> MemoryMessage | None:
        """First live message, dropping gone ones from the front."""
        messages = self.messages
        while messages and messages[0].state == GONE:
            messages.popleft()
        return messages[0] if messages else None


class DedupRecord:
    __slots__ = ("expires_at", "message_id", "sequence_number")

    def __init__(
        self, expires_at: float, message_id: str, sequence_number: str
    ) -> None:
        self.expires_at = expires_at
        self.message_id = message_id
        self.sequence_number = sequence_number


class ReceiveAttempt:
    """What one ReceiveRequestAttemptId handed out, to hand out again."""

    __slots__ = ("counts", "expires_at", "messages")

    def __init__(self, expires_at: float, messages: list[MemoryMessage]) -> None:
        self.expires_at = expires_at
        self.messages = messages
        self.counts = [m.receive_count for m in messages]

    def unchanged(self) -> bool:
        """True while every message is still in flight from this receive."""
        return all(
            m.state == INFLIGHT and m.receive_count == count
            for m, count in zip(self.messages, self.counts, strict=True)
        )


class MemoryFifoQueue(MemoryQueue):
    """A FIFO SQS queue held in memory."""

    fifo = True

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
        super().__init__(aws, uid, name, url, arn, settings, now)
        self.groups: dict[str, MessageGroup] = {}
        self.ready: deque[MessageGroup] = deque()
        self.dedup: OrderedDict[DedupKey, DedupRecord] = OrderedDict()
        self._sequence = SEQUENCE_BASE
        self.attempts: OrderedDict[str, ReceiveAttempt] = OrderedDict()
        # The group a receive is walking; _refresh leaves it alone meanwhile
        # so the walk's index into its deque stays valid.
        self._walking: MessageGroup | None = None

    # -- deduplication --------------------------------------------------------

    def _dedup_key(self, group_id: str, dedup_id: str) -> DedupKey:
        if self.settings.deduplication_scope == "messageGroup":
            return (group_id, dedup_id)
        return dedup_id

    def find_duplicate(
        self, group_id: str, dedup_id: str, now: float
    ) -> DedupRecord | None:
        """The earlier send this one duplicates, within the 5-minute window."""
        dedup = self.dedup
        while dedup:  # the window is fixed, so records expire in send order
            first = next(iter(dedup.values()))
            if first.expires_at > now:
                break
            dedup.popitem(last=False)
        return dedup.get(self._dedup_key(group_id, dedup_id))

    def next_sequence_number(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    def add_fifo(
        self, message: MemoryMessage, group_id: str, dedup_id: str, now: float
    ) -> None:
        message.group_id = group_id
        message.dedup_id = dedup_id
        message.sequence_number = self.next_sequence_number()
        self.dedup[self._dedup_key(group_id, dedup_id)] = DedupRecord(
            now + DEDUPLICATION_WINDOW, message.message_id, message.sequence_number
        )
        self._enqueue(message, now, self.settings.delay_seconds)

    def _enqueue(self, message: MemoryMessage, now: float, delay: int) -> None:
        group_id = message.group_id or ""
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = MessageGroup(group_id)
        group.messages.append(message)
        self.add(message, now, delay)

    # -- receive request attempts ----------------------------------------------

    def repeat_attempt(
        self, attempt_id: str, visibility: int, now: float
    ) -> list[MemoryMessage] | None:
        """Replay a receive retried with the same ReceiveRequestAttemptId.

        Within 5 minutes, and while none of its messages was deleted or had
        its visibility changed, SQS returns the same messages and receipt
        handles and restarts their visibility timeout.
        """
        self.tick(now)
        attempts = self.attempts
        while attempts:  # fixed window: records expire in insertion order
            first = next(iter(attempts.values()))
            if first.expires_at > now:
                break
            attempts.popitem(last=False)
        attempt = attempts.get(attempt_id)
        if attempt is None:
            return None
        if not attempt.unchanged():
            del attempts[attempt_id]
            return None
        for message in attempt.messages:
            message.ready_at = now + visibility
            if self.timers.update(message):
                self.wake()
        return attempt.messages

    def record_attempt(
        self, attempt_id: str, messages: list[MemoryMessage], now: float
    ) -> None:
        self.attempts.pop(attempt_id, None)
        self.attempts[attempt_id] = ReceiveAttempt(now + DEDUPLICATION_WINDOW, messages)

    # -- group bookkeeping ------------------------------------------------------

    def _group_of(self, message: MemoryMessage) -> MessageGroup | None:
        return self.groups.get(message.group_id or "")

    def _refresh(self, group: MessageGroup) -> None:
        """List `group` as ready if it can deliver; forget it if empty."""
        if group.inflight or group.queued or group is self._walking:
            return
        head = group.head()
        if head is None:
            if self.groups.get(group.group_id) is group:
                del self.groups[group.group_id]
        elif head.state == VISIBLE:
            group.queued = True
            self.ready.append(group)
            self.wake()

    def _make_visible(self, message: MemoryMessage) -> None:
        group = self._group_of(message)
        if message.state == INFLIGHT and group is not None:
            group.inflight -= 1
        message.state = VISIBLE
        self.n_visible += 1
        if group is not None:
            self._refresh(group)

    def _removed(self, message: MemoryMessage) -> None:
        group = self._group_of(message)
        if group is not None:
            self._refresh(group)

    def remove(self, message: MemoryMessage) -> None:
        if message.state == INFLIGHT:
            group = self._group_of(message)
            if group is not None:
                group.inflight -= 1
        super().remove(message)

    # -- receiving ---------------------------------------------------------------

    def has_ready(self) -> bool:
        return bool(self.ready)

    def receive(
        self, max_messages: int, visibility: int, now: float
    ) -> list[MemoryMessage]:
        self.tick(now)
        received: list[MemoryMessage] = []
        while len(received) < max_messages and self.ready:
            group = self.ready.popleft()
            group.queued = False
            if group.inflight:
                self._refresh(group)
                continue
            self._receive_from_group(group, max_messages, visibility, now, received)
            self._refresh(group)
        return received

    def _receive_from_group(
        self,
        group: MessageGroup,
        max_messages: int,
        visibility: int,
        now: float,
        received: list[MemoryMessage],
    ) -> None:
        """Deliver the group's head messages in order (several per call)."""
        group.head()
        index = 0
        messages = group.messages
        self._walking = group
        try:
            while len(received) < max_messages and index < len(messages):
                message = messages[index]
                index += 1
                if message.state == GONE:
                    continue
                if message.state != VISIBLE:
                    break  # a delayed message holds back everything behind it
                if self._expired_or_dead(message, now):
                    continue
                self._deliver(message, visibility, now)
                group.inflight += 1
                received.append(message)
        finally:
            self._walking = None

    def accept_dead_letter(
        self, message: MemoryMessage, source_arn: str, now: float
    ) -> None:
        """FIFO dead-letter queues restart retention at the move, as SQS does."""
        message = message.copy_for_move(self.aws.next_serial())
        message.dead_letter_source_arn = source_arn
        message.sent_at = now
        message.sequence_number = self.next_sequence_number()
        self._enqueue(message, now, 0)

    def accept_moved(self, message: MemoryMessage, now: float) -> None:
        message = message.copy_for_move(self.aws.next_serial())
        message.receive_count = 0
        message.first_receive_at = None
        message.sent_at = now
        message.dead_letter_source_arn = None
        message.sequence_number = self.next_sequence_number()
        self._enqueue(message, now, 0)

    def peek_for_move(self, now: float) -> MemoryMessage | None:
        self.tick(now)
        while self.ready:
            group = self.ready[0]
            head = group.head()
            if not group.inflight and head is not None and head.state == VISIBLE:
                return head
            self.ready.popleft()
            group.queued = False
            self._refresh(group)
        return None

    def take_for_move(self, now: float) -> MemoryMessage | None:
        message = self.peek_for_move(now)
        if message is not None:
            group = self.ready.popleft()
            group.queued = False
            self.remove(message)
            self._refresh(group)
        return message

    def _purged(self) -> None:
        self.groups.clear()
        self.ready.clear()
        self.attempts.clear()
