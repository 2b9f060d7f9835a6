"""Long delays: ``_delay_seconds`` past SQS's 15 minutes, up to 7 days.

SQS delays a message at most ``MAX_DELAY_SECONDS`` (900 s). A longer delay
goes out with that much and the message attribute ``SqsWorkersDueAt``
(type ``Number``: its due time, in epoch seconds, rounded up). A worker that
receives it before then *sends it on*: a new message with the same body and
attributes and ``DelaySeconds=min(900, time left)``; the original is deleted
only once that send succeeded. A new message starts at receive count 0, so
the hops never count towards a redrive policy's ``maxReceiveCount``; the
job runs once, when due. A hop is not a job: no ``before_decode``,
``before_job`` or ``after_job`` hook fires for it (``after_receive`` does,
as for every message received), and its payload (S3, if offloaded) is not
fetched.

Cost: one hop per 15 minutes, each a share of a ReceiveMessage (up to 10
messages per call), one SendMessage and a share of a DeleteMessageBatch:
a day of delay is 96 hops, between about 115 and 288 SQS requests.

FIFO queues take no per-message delay at all (SQS refuses one), so a
delay on a FIFO job is refused before sending, as before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from sqs_workers.exceptions import SQSClientError
from sqs_workers.sqs.limits import MAX_DELAY_SECONDS

DUE_ATTRIBUTE = "SqsWorkersDueAt"

# Longest DelaySeconds of one hop: SQS's own maximum (a module constant so a
# test can make the hops short).
HOP_SECONDS = MAX_DELAY_SECONDS

# The longest delay a job may ask for (a guard against seconds given in
# milliseconds, say; SQS itself keeps a message at most 14 days).
MAX_LONG_DELAY_SECONDS = 7 * 24 * 60 * 60


def is_long(delay_seconds: float | None) -> bool:
    """Whether a delay needs hops (more than one SQS delay)."""
    return delay_seconds is not None and delay_seconds > HOP_SECONDS


def schedule(entry: dict[str, Any], delay_seconds: float, now: float) -> None:
    """Make ``entry`` a long-delayed message: the first hop and its due time."""
    if delay_seconds > MAX_LONG_DELAY_SECONDS:
        raise SQSClientError(
            "InvalidParameterValue",
            f"delay of {delay_seconds} s is longer than the {MAX_LONG_DELAY_SECONDS} s "
            "(7 days) sqs_workers supports; schedule the job closer to its time",
            "SendMessage",
        )
    due = math.ceil(now + delay_seconds)
    entry["DelaySeconds"] = HOP_SECONDS
    attributes = entry.setdefault("MessageAttributes", {})
    attributes[DUE_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(due)}


def due_at(attributes: dict[str, Any] | None) -> float | None:
    """A received message's due time, or None (not long-delayed)."""
    if not attributes:
        return None
    attribute = attributes.get(DUE_ATTRIBUTE)
    if attribute is None:
        return None
    try:
        return float(attribute["StringValue"])
    except (KeyError, TypeError, ValueError):
        return None  # not ours, or damaged: run it rather than hold it forever


def hop_entry(message: Any, remaining: float) -> dict[str, Any]:
    """The SendMessage arguments that carry ``message`` on towards its time."""
    entry: dict[str, Any] = {
        "MessageBody": message.body,
        "DelaySeconds": max(1, min(HOP_SECONDS, math.ceil(remaining))),
    }
    attributes = _sendable(message.message_attributes)
    if attributes:
        entry["MessageAttributes"] = attributes
    return entry


def _sendable(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """Received message attributes in SendMessage's shape (list fields dropped)."""
    sendable: dict[str, Any] = {}
    for name, attribute in (attributes or {}).items():
        value: dict[str, Any] = {"DataType": attribute["DataType"]}
        if "StringValue" in attribute:
            value["StringValue"] = attribute["StringValue"]
        elif "BinaryValue" in attribute:
            value["BinaryValue"] = attribute["BinaryValue"]
        sendable[name] = value
    return sendable


def clock_of(client: Any) -> Callable[[], float]:
    """The time the queue's SQS lives in: the in-memory SQS's clock (a fake
    one in tests), else the wall clock."""
    aws = getattr(client, "aws", None)
    clock = getattr(aws, "clock", None)
    now = getattr(clock, "now", None)
    return now if callable(now) else time.time
