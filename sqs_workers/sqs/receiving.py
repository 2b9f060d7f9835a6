"""Receiving: one ReceiveMessage call turned into ``Message`` objects."""

from __future__ import annotations

from typing import Any

from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES
from sqs_workers.sqs.message import Message

MAX_RECEIVE = MAX_BATCH_ENTRIES
_ALL = ["All"]


def receive_messages(
    client: Any,
    queue_url: str,
    max_messages: int = MAX_RECEIVE,
    wait_seconds: float = 0,
    visibility_timeout: int | None = None,
) -> list[Message]:
    """Receive up to ``max_messages`` (capped at 10) with all attributes."""
    kwargs: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": max(1, min(int(max_messages), MAX_RECEIVE)),
        "WaitTimeSeconds": int(wait_seconds),
        "AttributeNames": _ALL,
        "MessageAttributeNames": _ALL,
    }
    if visibility_timeout is not None:
        kwargs["VisibilityTimeout"] = int(visibility_timeout)
    response = client.receive_message(**kwargs)
    return [Message(client, queue_url, raw) for raw in response.get("Messages", ())]


def receive_up_to(
    client: Any,
    queue_url: str,
    max_messages: int,
    wait_seconds: float,
    visibility_timeout: int | None = None,
) -> list[Message]:
    """Receive up to ``max_messages``, with several calls when it exceeds 10.

    Only the first call long-polls; the loop ends as soon as a call returns
    fewer than it asked for (the queue has nothing more to give right now).
    """
    received: list[Message] = []
    wait = wait_seconds
    while len(received) < max_messages:
        asked = min(MAX_RECEIVE, max_messages - len(received))
        batch = receive_messages(client, queue_url, asked, wait, visibility_timeout)
        received.extend(batch)
        if len(batch) < asked:
            break
        wait = 0
    return received
