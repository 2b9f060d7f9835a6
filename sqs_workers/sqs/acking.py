"""Acking: deletes for finished jobs, visibility changes for retried ones.

Both go to SQS in batches of up to 10 entries. ``Acker`` is thread-safe: any
worker thread may add to it, and whoever fills a batch (or calls ``flush``)
sends it. Entries are swapped out under the lock and sent outside it, so a
slow SQS call never blocks the threads that record outcomes.

With ``max_delay`` set (the concurrent worker's mode), a background thread
does all the sending instead: a full batch of 10 goes at once, a partial one
once its oldest entry has waited ``max_delay`` seconds. Recording an outcome
then never waits on the network, which matters when the recorder is an
event loop running hundreds of jobs. ``close()`` sends what is left and stops
that thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES
from sqs_workers.sqs.message import Message
from sqs_workers.sqs.retrying import call_with_retry

logger = logging.getLogger(__name__)

SQS_BATCH_LIMIT = MAX_BATCH_ENTRIES


class Acker:
    def __init__(
        self,
        client: Any,
        queue_url: str,
        queue_name: str,
        max_delay: float | None = None,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._queue_name = queue_name
        self._lock = threading.Lock()
        self._deletes: list[Message] = []
        self._visibility: list[tuple[Message, int]] = []
        self._max_delay = max_delay
        # Timed mode only: the flusher thread and what it waits on.
        self._wakeup = threading.Condition(self._lock)
        self._oldest = 0.0  # monotonic time the oldest pending entry was added
        self._flusher: threading.Thread | None = None
        self._closed = False

    def delete(self, message: Message) -> None:
        """Acknowledge a finished job: its message will be deleted."""
        if self._max_delay is not None:
            self._add_timed(False, message)
            return
        with self._lock:
            self._deletes.append(message)
            full = (
                self._take_deletes() if len(self._deletes) >= SQS_BATCH_LIMIT else None
            )
        if full:
            self._send_deletes(full)

    def change_visibility(self, message: Message, timeout: float) -> None:
        """Hide a message for ``timeout`` seconds (0: visible again at once)."""
        if self._max_delay is not None:
            self._add_timed(True, (message, int(timeout)))
            return
        with self._lock:
            self._visibility.append((message, int(timeout)))
            full = (
                self._take_visibility()
                if len(self._visibility) >= SQS_BATCH_LIMIT
                else None
            )
        if full:
            self._send_visibility(full)

    def pending(self) -> int:
        with self._lock:
            return len(self._deletes) + len(self._visibility)

    def flush(self) -> None:
        """Send everything recorded so far."""
        with self._lock:
            deletes, changes = self._take_deletes(), self._take_visibility()
        self._send_in_chunks(deletes, changes)

    def flush_soon(self) -> None:
        """Send what is pending without waiting for more (timed mode: on the
        flusher thread, so the caller does not wait on the network)."""
        if self._max_delay is None:
            self.flush()
            return
        with self._lock:
            if self._deletes or self._visibility:
                self._oldest = float("-inf")
                self._wakeup.notify()

    def close(self) -> None:
        """Send everything pending and stop the flusher thread (timed mode).

        Entries added after this are sent at once by the thread adding them.
        """
        with self._lock:
            self._closed = True
            self._wakeup.notify_all()
            flusher = self._flusher
        if flusher is not None:
            flusher.join()
        self.flush()

    # -- timed mode ---------------------------------------------------------

    def _add_timed(self, visibility: bool, entry: Any) -> None:
        with self._lock:
            if not self._deletes and not self._visibility:
                self._oldest = time.monotonic()
            # Pick the list under the lock: the flusher swaps in new ones.
            entries: list[Any] = self._visibility if visibility else self._deletes
            entries.append(entry)
            closed = self._closed
            if not closed:
                if self._flusher is None:
                    self._start_flusher()
                # Wake the flusher for a first entry (to arm its timer) and
                # for a full batch; in between it sleeps on its deadline.
                if len(entries) == 1 or len(entries) == SQS_BATCH_LIMIT:
                    self._wakeup.notify()
        if closed:
            # After close() no flusher runs: send it now, from this thread
            # (e.g. a receiver releasing what its last long poll brought).
            self.flush()

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(
            target=self._flush_loop,
            name=f"sqs-acker-{self._queue_name}",
            daemon=True,
        )
        self._flusher.start()

    def _flush_loop(self) -> None:
        assert self._max_delay is not None
        while True:
            with self._lock:
                deletes, changes = self._next_batches(self._max_delay)
                if deletes is None:
                    return
            self._send_in_chunks(deletes, changes or [])

    def _next_batches(
        self, max_delay: float
    ) -> tuple[list[Message] | None, list[tuple[Message, int]] | None]:
        """Wait (lock held) until something must be sent; take it. None: closed."""
        while True:
            if not self._deletes and not self._visibility:
                if self._closed:
                    return None, None
                self._wakeup.wait()
                continue
            due = self._oldest + max_delay - time.monotonic()
            if due <= 0 or self._closed:
                return self._take_deletes(), self._take_visibility()
            if (
                len(self._deletes) >= SQS_BATCH_LIMIT
                or len(self._visibility) >= SQS_BATCH_LIMIT
            ):
                return self._take_full_batches()
            self._wakeup.wait(due)

    def _take_full_batches(
        self,
    ) -> tuple[list[Message], list[tuple[Message, int]]]:
        """Only whole batches of 10: a remainder waits to fill up, not sent short."""
        cut_d = len(self._deletes) - len(self._deletes) % SQS_BATCH_LIMIT
        cut_v = len(self._visibility) - len(self._visibility) % SQS_BATCH_LIMIT
        deletes, self._deletes = self._deletes[:cut_d], self._deletes[cut_d:]
        changes, self._visibility = (
            self._visibility[:cut_v],
            self._visibility[cut_v:],
        )
        # The remainder arrived after the batch filled, so it is recent:
        # restart its clock now rather than keeping a time per entry.
        self._oldest = time.monotonic()
        return deletes, changes

    def _send_in_chunks(
        self, deletes: list[Message], changes: list[tuple[Message, int]]
    ) -> None:
        for start in range(0, len(deletes), SQS_BATCH_LIMIT):
            self._send_deletes(deletes[start : start + SQS_BATCH_LIMIT])
        for start in range(0, len(changes), SQS_BATCH_LIMIT):
            self._send_visibility(changes[start : start + SQS_BATCH_LIMIT])

    def _take_deletes(self) -> list[Message]:
        taken, self._deletes = self._deletes, []
        return taken

    def _take_visibility(self) -> list[tuple[Message, int]]:
        taken, self._visibility = self._visibility, []
        return taken

    def _send_deletes(self, messages: list[Message]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle}
            for i, m in enumerate(messages)
        ]
        response = self._send(
            self._client.delete_message_batch, "DeleteMessageBatch", entries
        )
        if response is not None:
            _confirm_deletes(messages, response)

    def _send_visibility(self, changes: list[tuple[Message, int]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": t}
            for i, (m, t) in enumerate(changes)
        ]
        self._send(
            self._client.change_message_visibility_batch,
            "ChangeMessageVisibilityBatch",
            entries,
        )

    def _send(
        self, call: Callable[..., Any], action: str, entries: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Send one batch; never raise: a lost ack only means a redelivery.

        Returns SQS's response (None if the call failed)."""
        try:
            response = call_with_retry(
                call, description=action, QueueUrl=self._queue_url, Entries=entries
            )
        except Exception:
            logger.exception(
                "%s for %s failed; its %d messages will be redelivered after "
                "their visibility timeout",
                action,
                self._queue_name,
                len(entries),
            )
            return None
        if response.get("Failed"):
            logger.warning(
                "%s for %s: %d entries failed: %s",
                action,
                self._queue_name,
                len(response["Failed"]),
                response["Failed"],
            )
        return response


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
