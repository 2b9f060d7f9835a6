"""Acking: deletes for finished jobs, visibility changes for retried ones.

Both go to SQS in batches of up to 10 entries. ``Acker`` is thread-safe: any
worker thread may add to it, and whoever fills a batch (or calls ``flush``)
sends it. Entries are swapped out under the lock and sent outside it, so a
slow SQS call never blocks the threads that record outcomes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqs_workers.message import Message
from sqs_workers.retrying import call_with_retry

logger = logging.getLogger(__name__)

SQS_BATCH_LIMIT = 10


class Acker:
    def __init__(self, client: Any, queue_url: str, queue_name: str) -> None:
        self._client = client
        self._queue_url = queue_url
        self._queue_name = queue_name
        self._lock = threading.Lock()
        self._deletes: list[Message] = []
        self._visibility: list[tuple[Message, int]] = []

    def delete(self, message: Message) -> None:
        """Acknowledge a finished job: its message will be deleted."""
        with self._lock:
            self._deletes.append(message)
            full = (
                self._take_deletes() if len(self._deletes) >= SQS_BATCH_LIMIT else None
            )
        if full:
            self._send_deletes(full)

    def change_visibility(self, message: Message, timeout: float) -> None:
        """Hide a message for ``timeout`` seconds (0: visible again at once)."""
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
        self._send(self._client.delete_message_batch, "DeleteMessageBatch", entries)

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
    ) -> None:
        """Send one batch; never raise: a lost ack only means a redelivery."""
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
            return
        if response.get("Failed"):
            logger.warning(
                "%s for %s: %d entries failed: %s",
                action,
                self._queue_name,
                len(response["Failed"]),
                response["Failed"],
            )
