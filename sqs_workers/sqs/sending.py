"""Sending: a job becomes an SQS entry, sent now or held in a batch.

``encode_job`` builds the entry (body + the three wire attributes),
``entry_size`` measures it exactly as SQS counts (body plus each attribute's
name, type and value, in UTF-8 bytes), and ``Sender`` sends entries one by one
or, inside ``add_batch()``, 10 per SendMessageBatch call, cutting a batch
early so its total never passes the 1 MiB SQS accepts per request.
Everything that SQS would reject for size is rejected here, before sending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqs_workers.exceptions import MessageTooLarge, SQSError
from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES
from sqs_workers.sqs.retrying import call_with_retry

logger = logging.getLogger(__name__)

SEND_BATCH_SIZE = MAX_BATCH_ENTRIES
MAX_MESSAGE_LENGTH = MAX_MESSAGE_BYTES  # per message and per batch request


class SQSBatchError(SQSError):
    """Some entries of a SendMessageBatch were rejected; ``errors`` lists them."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(
            f"{len(errors)} message(s) rejected by SQS: "
            + "; ".join(f"{e.get('Code')}: {e.get('Message')}" for e in errors[:3])
        )
        self.errors = errors


def encode_job(
    job_name: str,
    body: str,
    job_context: str,
    content_type: str,
) -> dict[str, Any]:
    """The SendMessage arguments of a job (wire format of the original package)."""
    return {
        "MessageBody": body,
        "MessageAttributes": {
            "ContentType": {"StringValue": content_type, "DataType": "String"},
            "JobContext": {"StringValue": job_context, "DataType": "String"},
            "JobName": {"StringValue": job_name, "DataType": "String"},
        },
    }


def entry_size(entry: dict[str, Any]) -> int:
    """Bytes SQS counts against its size limit for this entry."""
    size = _utf8_len(entry["MessageBody"])
    for name, attribute in (entry.get("MessageAttributes") or {}).items():
        value = attribute.get("StringValue")
        if value is None:
            value = attribute.get("BinaryValue", b"")
            if isinstance(value, bytes):
                size += len(value)
                value = ""
        # One UTF-8 length for the three strings: the sum of theirs.
        size += _utf8_len(name + attribute.get("DataType", "") + value)
    return size


# What the names and the "String" type of encode_job's attributes count for.
_JOB_ATTRIBUTES_SIZE = sum(
    len(name) + len("String") for name in ("ContentType", "JobContext", "JobName")
)


def job_entry_size(
    job_name: str, body: str, job_context: str, content_type: str
) -> int:
    """``entry_size(encode_job(...))`` without walking the entry's dicts."""
    return (
        _utf8_len(body)
        + _utf8_len(job_name + job_context + content_type)
        + _JOB_ATTRIBUTES_SIZE
    )


def _utf8_len(text: str) -> int:
    # ASCII is the common case (base64 pickle, most JSON): len() is exact.
    return len(text) if text.isascii() else len(text.encode("utf-8"))


# Entry ids of a SendMessageBatch: its position in the batch.
_BATCH_IDS = tuple(str(i) for i in range(SEND_BATCH_SIZE))


class _BatchState(threading.local):
    """Per-thread: a batch opened in one thread never captures another's jobs."""

    def __init__(self) -> None:
        self.level = 0
        self.entries: list[dict[str, Any]] = []
        self.size = 0


class Sender:
    """Sends a queue's messages, immediately or in batches."""

    def __init__(
        self, client: Any, resolve_url: Callable[[], str], queue_name: str
    ) -> None:
        self._client = client
        self._resolve_url = resolve_url
        self._queue_name = queue_name
        self._batch = _BatchState()

    # -- batch scope --------------------------------------------------------

    def open_batch(self) -> None:
        self._batch.level += 1

    def close_batch(self) -> None:
        state = self._batch
        state.level = max(0, state.level - 1)
        if state.level == 0:
            self.flush()

    # -- sending ------------------------------------------------------------

    def send(self, entry: dict[str, Any], size: int | None = None) -> str | None:
        """Send now (returns the MessageId) or hold in the open batch (None).

        ``size`` is ``entry_size(entry)`` when the caller knows it already.
        """
        if size is None:
            size = entry_size(entry)
        if size > MAX_MESSAGE_LENGTH:
            raise MessageTooLarge(size, MAX_MESSAGE_LENGTH, "SendMessage")
        state = self._batch
        if state.level == 0:
            response = self._client.send_message(QueueUrl=self._resolve_url(), **entry)
            return str(response["MessageId"])
        if state.size + size > MAX_MESSAGE_LENGTH:
            self.flush()
        state.entries.append(entry)
        state.size += size
        if len(state.entries) >= SEND_BATCH_SIZE:
            self.flush()
        return None

    def flush(self) -> None:
        """Send what this thread's batch holds (at most 10 entries, ≤ 1 MiB)."""
        state = self._batch
        entries, state.entries, state.size = state.entries, [], 0
        if entries:
            self._send_batch(entries)

    def _send_batch(self, entries: list[dict[str, Any]]) -> None:
        ids = _BATCH_IDS[: len(entries)]
        request = [{"Id": i, **entry} for i, entry in zip(ids, entries, strict=True)]
        response = call_with_retry(
            self._client.send_message_batch,
            description="SendMessageBatch",
            QueueUrl=self._resolve_url(),
            Entries=request,
        )
        failed = response.get("Failed") or []
        if failed:
            by_id = dict(zip(ids, entries, strict=True))
            for error in failed:
                error["_message"] = by_id.get(error.get("Id", ""))
            raise SQSBatchError(failed)
