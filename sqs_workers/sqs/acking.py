"""Acking: deletes for finished jobs, visibility changes for retried ones.

Both go to SQS in batches of up to 10 entries. ``Acker`` is thread-safe: any
worker thread may add to it.

Without ``max_delay`` (``process_batch``, ``drain_queue``) whoever fills a
batch, or calls ``flush``, sends it from its own thread, retrying failures
with jittered backoff before returning.

With ``max_delay`` set (the worker's mode) recording an outcome never waits
on the network: batches go to up to ``max_in_flight`` sender threads, so
several are in flight at once. A full batch of 10 is handed to a free sender
by the thread that filled it; a flusher thread sends a partial one once its
oldest entry has waited ``max_delay`` seconds, and whatever had to wait for
a sender. Under load the flusher is not woken per batch: it stays on a
timer (``LINGER``) rather than being notified of each first entry, and
senders wake it only when it may be waiting for one of them (each thread
woken costs a GIL hand-over, and across cores that costs more than the
bookkeeping it saves). A batch that fails, wholly or in part (retryable ``Failed``
entries such as InternalError), goes back on a timer with jittered backoff
and is sent again by whichever sender is free: a failing call never holds up
the acks behind it, and no entry is ever in two batches at once. Entries that
cannot succeed (an invalid receipt handle) are logged and dropped.

The worker's messages stay invisible until their delete is confirmed:
``guard(job)`` hands over a finished job whose delete is still on its way,
and the heartbeat extends it (``guarded_due``) until the delete succeeded or
was given up. ``close()`` sends what is left, retries included, and stops the
threads.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES
from sqs_workers.sqs.message import Message
from sqs_workers.sqs.retrying import backoff_delay, is_retryable_entry, is_transient

logger = logging.getLogger(__name__)

SQS_BATCH_LIMIT = MAX_BATCH_ENTRIES
# Batches in flight at once per acker (timed mode): enough to keep up with a
# slow round trip and to keep acks moving while one call is retried.
MAX_IN_FLIGHT = 4
# How long an entry is retried before it is given up (its message then comes
# back after its visibility timeout: a redelivery, never a loss). The worker's
# heartbeat keeps a finished job's message invisible meanwhile, so trying for
# a while is cheaper than running the job again.
RETRY_FOR = 30.0
# Without the worker (process_batch, drain_queue) the caller waits through
# the retries and no heartbeat protects anything: try for less long.
SYNC_RETRY_FOR = 5.0
# Once closed (the worker is stopping), retries end this long after close():
# a stop during an outage must not outlast a supervisor's kill timeout.
CLOSE_RETRY_FOR = 10.0
RETRY_BASE = 0.05
RETRY_CAP = 2.0
# Timed mode: after its last entry the flusher keeps waking every
# ``max_delay`` for this long, so that a new entry needs no wake-up call to
# arm the timer; idle longer, it sleeps until an entry comes.
LINGER = 1.0
MIN_LINGER_WAIT = 0.01

DELETE = "DeleteMessageBatch"
VISIBILITY = "ChangeMessageVisibilityBatch"


class Batch:
    """Up to 10 entries of one kind, and how often they were tried."""

    __slots__ = ("action", "attempt", "first", "items")

    def __init__(
        self, action: str, items: list[Any], attempt: int = 0, first: float = 0.0
    ) -> None:
        self.action = action
        self.items = items  # Message (deletes) or (Message, seconds)
        self.attempt = attempt
        self.first = first  # monotonic time of the first attempt

    def again(self, items: list[Any]) -> Batch:
        return Batch(self.action, items, self.attempt + 1, self.first)


class Acker:
    def __init__(
        self,
        client: Any,
        queue_url: str,
        queue_name: str,
        max_delay: float | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._queue_name = queue_name
        self._lock = threading.Lock()
        self._deletes: list[Message] = []
        self._visibility: list[tuple[Message, int]] = []
        self._max_delay = max_delay
        self._max_in_flight = max(1, max_in_flight)
        self._retry_for = SYNC_RETRY_FOR if max_delay is None else RETRY_FOR
        # Timed mode only: the flusher thread, the senders and their state.
        self._wakeup = threading.Condition(self._lock)
        self._oldest = 0.0  # monotonic time the oldest pending entry was added
        self._flusher: threading.Thread | None = None
        self._outbox: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._senders: list[threading.Thread] = []
        self._in_flight = 0
        self._retries: list[tuple[float, int, Batch]] = []  # a heap on due time
        # When the flusher's current wait ends (monotonic; inf: until woken).
        self._flusher_wakes = float("inf")
        self._sequence = itertools.count()
        self._closed = False
        self._give_up_at = float("inf")  # monotonic; set by close()
        # Timed mode: ids of messages whose delete is not confirmed yet, and
        # the finished jobs the heartbeat keeps invisible meanwhile.
        self._unsettled: set[int] = set()
        self._guards: dict[int, Any] = {}
        # Timed mode: a full batch is sent by the thread that filled it, not
        # handed to a sender (set while calls hardly wait: a hand-over
        # would cost more than the call; see the worker's InlineReceiver).
        self.send_full_here = False

    # -- recording ---------------------------------------------------------------

    def delete(self, message: Message) -> None:
        """Acknowledge a finished job: its message will be deleted."""
        if self._max_delay is not None:
            self._add_timed(False, message, self._max_delay)
            return
        with self._lock:
            self._deletes.append(message)
            full = (
                self._take_deletes() if len(self._deletes) >= SQS_BATCH_LIMIT else None
            )
        if full:
            self._send_now(Batch(DELETE, full))

    def change_visibility(self, message: Message, timeout: float) -> None:
        """Hide a message for ``timeout`` seconds (0: visible again at once)."""
        if self._max_delay is not None:
            self._add_timed(True, (message, int(timeout)), self._max_delay)
            return
        with self._lock:
            self._visibility.append((message, int(timeout)))
            full = (
                self._take_visibility()
                if len(self._visibility) >= SQS_BATCH_LIMIT
                else None
            )
        if full:
            self._send_now(Batch(VISIBILITY, full))

    def pending(self) -> int:
        """Entries recorded and not sent yet (retries waiting included)."""
        with self._lock:
            retrying = sum(len(batch.items) for _, _, batch in self._retries)
            return len(self._deletes) + len(self._visibility) + retrying

    # -- the heartbeat's view ------------------------------------------------------

    def guard(self, job: Any) -> None:
        """Keep ``job`` (a finished one) in the heartbeat's care while its
        delete is on its way; forgotten once every delete is settled.

        ``job``: the worker's ``Job`` (``message``, ``messages`` for a list,
        ``deadline`` and ``capped``, which the heartbeat reads and updates).
        """
        unsettled = self._unsettled
        if not unsettled:  # nothing pending (or not the worker's acker)
            return
        messages = job.messages
        with self._lock:
            if messages is None:  # one message: the common case
                key = id(job.message)
                if key in unsettled:
                    self._guards[key] = job
                return
            for message in messages:
                key = id(message)
                if key in unsettled:
                    self._guards[key] = job

    def guarded_due(self, before: float) -> list[Any]:
        """Guarded jobs whose visibility ends before ``before`` (monotonic)."""
        with self._lock:
            if not self._guards:
                return []
            due = {
                id(job): job
                for job in self._guards.values()
                if job.deadline < before and not job.capped
            }
        return list(due.values())

    def guarded(self) -> int:
        with self._lock:
            return len(self._guards)

    # -- sending now ---------------------------------------------------------------

    def flush(self) -> None:
        """Send everything recorded so far, retries included, before returning.

        Several batches go out in parallel (``max_in_flight`` at most), so
        releasing a large prefetch on stop takes a round trip or two, not
        one per 10 messages.
        """
        with self._lock:
            deletes, changes = self._take_deletes(), self._take_visibility()
        batches = _chunks(deletes, changes)
        if len(batches) <= 1:
            for batch in batches:
                self._send_now(batch)
            return
        workers = min(self._max_in_flight, len(batches))
        with ThreadPoolExecutor(workers, f"sqs-acker-{self._queue_name}") as pool:
            for _ in pool.map(self._send_now, batches):
                pass

    def flush_soon(self) -> None:
        """Send what is pending without waiting for more (timed mode: on the
        flusher's senders, so the caller does not wait on the network)."""
        if self._max_delay is None:
            self.flush()
            return
        with self._lock:
            if self._deletes or self._visibility:
                self._oldest = float("-inf")
                self._wakeup.notify()

    def close(self) -> None:
        """Send everything pending (retries included) and stop the threads.

        Entries added after this are sent at once by the thread adding them.
        """
        with self._lock:
            self._closed = True
            self._give_up_at = time.monotonic() + CLOSE_RETRY_FOR
            self._wakeup.notify_all()
            flusher = self._flusher
        if flusher is not None:
            flusher.join()
        for _ in self._senders:
            self._outbox.put(None)
        for sender in self._senders:
            sender.join()
        self.flush()

    def _send_now(self, batch: Batch | None) -> None:
        """Send one batch from this thread; sleep through its retries."""
        while batch is not None:
            batch = self._attempt(batch)
            if batch is not None:
                time.sleep(_retry_delay(batch))

    # -- timed mode ------------------------------------------------------------------

    def _add_timed(self, visibility: bool, entry: Any, max_delay: float) -> None:
        """Record an entry; a batch it fills goes to a free sender at once."""
        full = None
        here = self.send_full_here  # one reading, for the cut and the send
        with self._lock:
            now = None
            if not self._deletes and not self._visibility:
                now = self._oldest = time.monotonic()
            # Pick the list under the lock: the flusher swaps in new ones.
            entries: list[Any] = self._visibility if visibility else self._deletes
            entries.append(entry)
            if not visibility:
                self._unsettled.add(id(entry))
            closed = self._closed
            if not closed:
                if self._flusher is None:
                    self._start_flusher()
                if len(entries) >= SQS_BATCH_LIMIT:
                    full = self._hand_over_full(visibility, entries, here)
                elif now is not None and self._flusher_wakes > now + max_delay:
                    # A first entry, and the flusher sleeps past its due
                    # time: wake it to arm its timer.
                    self._wakeup.notify()
        if full is not None:
            if here:
                self._send_in_flight(full)
            else:
                self._outbox.put(full)
        elif closed:
            # After close() no flusher runs: send it now, from this thread
            # (e.g. a receiver releasing what its last long poll brought).
            self.flush()

    def _hand_over_full(
        self, visibility: bool, entries: list[Any], here: bool
    ) -> Batch | None:
        """A batch just filled (lock held): cut it, counted in flight, for
        the caller to send (``here``) or to put in the outbox for a free
        sender. None when every sender is busy (the first to finish wakes
        the flusher, which sends it) or retries wait (the flusher, woken
        now, sends those first)."""
        if self._in_flight >= self._max_in_flight:
            return None
        if self._retries:
            self._wakeup.notify()
            return None
        batch = self._cut(VISIBILITY if visibility else DELETE, entries, whole=True)
        return self._dispatch(batch, to_sender=not here)

    def _dispatch(self, batch: Batch, to_sender: bool = True) -> Batch:
        """Count ``batch`` in flight (lock held); one sender per batch in
        flight, started as they are needed."""
        self._in_flight += 1
        if to_sender and len(self._senders) < self._in_flight:
            self._start_sender()
        return batch

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(
            target=self._flush_loop,
            name=f"sqs-acker-{self._queue_name}",
            daemon=True,
        )
        self._flusher.start()

    def _flush_loop(self) -> None:
        assert self._max_delay is not None
        put = self._outbox.put
        while True:
            with self._lock:
                batch = self._next_batch(self._max_delay)
                if batch is None:
                    return
                self._dispatch(batch)
            put(batch)

    def _start_sender(self) -> None:
        sender = threading.Thread(
            target=self._send_loop,
            name=f"sqs-acker-{self._queue_name}-{len(self._senders)}",
            daemon=True,  # a process exiting mid-call must not wait for it
        )
        self._senders.append(sender)
        sender.start()

    def _send_loop(self) -> None:
        get = self._outbox.get
        while (batch := get()) is not None:
            self._send_in_flight(batch)

    def _send_in_flight(self, batch: Batch) -> None:
        again = None
        try:
            again = self._attempt(batch)
        finally:
            with self._lock:
                every_sender_was_busy = self._in_flight >= self._max_in_flight
                self._in_flight -= 1
                if again is not None:
                    due = time.monotonic() + _retry_delay(again)
                    heapq.heappush(self._retries, (due, next(self._sequence), again))
                # Only a flusher that may wait for this is woken: one with
                # batches held back for a free sender, a retry to time, or
                # close() waiting for the last batch in flight.
                if every_sender_was_busy or again is not None or self._closed:
                    self._wakeup.notify()

    def _next_batch(self, max_delay: float) -> Batch | None:
        """Wait (lock held) until a batch must go and a sender is free; cut it.

        None once closed with nothing pending, retrying or in flight.
        """
        idle_since: float | None = None
        while True:
            pending = bool(self._deletes or self._visibility)
            if not pending and not self._retries and self._closed:
                if self._in_flight == 0:
                    return None
                self._wait(None)
                continue
            now = time.monotonic()
            timeout: float | None = None
            if pending or self._retries or self._closed:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            if idle_since is not None and now - idle_since < LINGER:
                # Lingering (see LINGER); a max_delay too short to poll
                # at is served by waking the flusher for each first entry.
                timeout = max_delay if max_delay >= MIN_LINGER_WAIT else None
            if self._in_flight < self._max_in_flight:
                if self._retries and self._retries[0][0] <= now:
                    return heapq.heappop(self._retries)[2]
                if len(self._deletes) >= SQS_BATCH_LIMIT:
                    return self._cut(DELETE, self._deletes, whole=True)
                if len(self._visibility) >= SQS_BATCH_LIMIT:
                    return self._cut(VISIBILITY, self._visibility, whole=True)
                if pending:
                    due = self._oldest + max_delay - now
                    if due <= 0 or self._closed:
                        if self._deletes:
                            return self._cut(DELETE, self._deletes, whole=False)
                        return self._cut(VISIBILITY, self._visibility, whole=False)
                    timeout = due
                if self._retries:
                    retry_due = self._retries[0][0] - now
                    timeout = retry_due if timeout is None else min(timeout, retry_due)
            else:  # every sender busy; one finishing wakes us
                timeout = None
            self._wait(timeout)

    def _wait(self, timeout: float | None) -> None:
        """The flusher waits (lock held), saying until when (``_add_timed``
        wakes it only if that is too late for a new entry)."""
        if timeout is None:
            self._flusher_wakes = float("inf")
        else:
            self._flusher_wakes = time.monotonic() + max(0.0, timeout)
        self._wakeup.wait(timeout)
        self._flusher_wakes = float("-inf")  # awake: about to look

    def _cut(self, action: str, entries: list[Any], whole: bool) -> Batch:
        """The first 10 entries of ``entries`` (lock held) as a batch."""
        items = entries[:SQS_BATCH_LIMIT]
        del entries[:SQS_BATCH_LIMIT]
        if whole and 0 < len(entries) < SQS_BATCH_LIMIT:
            # The remainder arrived after the batch filled, so it is recent:
            # restart its clock now rather than keeping a time per entry.
            self._oldest = time.monotonic()
        return Batch(action, items)

    def _take_deletes(self) -> list[Message]:
        taken, self._deletes = self._deletes, []
        return taken

    def _take_visibility(self) -> list[tuple[Message, int]]:
        taken, self._visibility = self._visibility, []
        return taken

    # -- one call ------------------------------------------------------------------

    def _attempt(self, batch: Batch) -> Batch | None:
        """Send ``batch`` once; the part to send again, or None. Never raises:
        a lost ack only means a redelivery."""
        items = batch.items
        if batch.action == DELETE:
            call = self._client.delete_message_batch
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt_handle}
                for i, m in enumerate(items)
            ]
        else:
            call = self._client.change_message_visibility_batch
            entries = [
                {
                    "Id": str(i),
                    "ReceiptHandle": m.receipt_handle,
                    "VisibilityTimeout": t,
                }
                for i, (m, t) in enumerate(items)
            ]
        now = time.monotonic()
        if not batch.attempt:
            batch.first = now
        last = now - batch.first >= self._retry_for or now >= self._give_up_at
        try:
            response = call(QueueUrl=self._queue_url, Entries=entries)
        except Exception as error:
            if is_transient(error) and not last:
                return batch.again(items)
            logger.error(
                "%s for %s failed (%s: %s) on attempt %d; its %d messages "
                "will be redelivered after their visibility timeout",
                batch.action,
                self._queue_name,
                type(error).__name__,
                error,
                batch.attempt + 1,
                len(items),
                extra=self._extra(items),
            )
            self._settle(batch.action, items)
            return None
        if batch.action == DELETE:
            _confirm_deletes(items, response)
        failed = response.get("Failed")
        if not failed:
            self._settle(batch.action, items)
            return None
        return self._after_partial_failure(batch, failed, last)

    def _extra(self, items: list[Any]) -> dict[str, Any]:
        """Log fields naming the queue and the messages of a failed ack."""
        messages = [i[0] if isinstance(i, tuple) else i for i in items]
        return {
            "queue_name": self._queue_name,
            "message_ids": [getattr(m, "message_id", None) for m in messages],
        }

    def _after_partial_failure(
        self, batch: Batch, failed: list[dict[str, Any]], last: bool
    ) -> Batch | None:
        items = batch.items
        again: list[Any] = []
        dropped: list[dict[str, Any]] = []
        for failure in failed:
            if is_retryable_entry(failure) and not last:
                again.append(items[int(failure["Id"])])
            else:
                dropped.append(failure)
        if dropped:
            logger.warning(
                "%s for %s: %d entries failed for good: %s",
                batch.action,
                self._queue_name,
                len(dropped),
                dropped,
                extra=self._extra([items[int(f["Id"])] for f in dropped]),
            )
        retried = {id(item) for item in again}
        self._settle(batch.action, [i for i in items if id(i) not in retried])
        return batch.again(again) if again else None

    def _settle(self, action: str, items: list[Any]) -> None:
        """These deletes are done with (confirmed or given up): unguard them."""
        if action != DELETE or self._max_delay is None:
            return
        with self._lock:
            for message in items:
                key = id(message)
                self._unsettled.discard(key)
                self._guards.pop(key, None)


def _retry_delay(batch: Batch) -> float:
    return backoff_delay(batch.attempt - 1, base=RETRY_BASE, cap=RETRY_CAP)


def _chunks(deletes: list[Message], changes: list[tuple[Message, int]]) -> list[Batch]:
    batches = [
        Batch(DELETE, deletes[i : i + SQS_BATCH_LIMIT])
        for i in range(0, len(deletes), SQS_BATCH_LIMIT)
    ]
    batches.extend(
        Batch(VISIBILITY, changes[i : i + SQS_BATCH_LIMIT])
        for i in range(0, len(changes), SQS_BATCH_LIMIT)
    )
    return batches


def _confirm_deletes(messages: list[Message], response: dict[str, Any]) -> None:
    """Call ``on_deleted`` of each message SQS confirmed deleted (the
    entries' ``Id`` is the message's index in the batch). A callback that
    raises is logged; acking goes on."""
    for entry in response.get("Successful") or ():
        message = messages[int(entry["Id"])]
        callback = getattr(message, "on_deleted", None)
        if callback is not None:
            try:
                callback()
            except Exception:
                logger.exception(
                    "on_deleted callback of message %s failed", message.message_id
                )
