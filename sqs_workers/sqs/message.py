"""One received SQS message, as handed to processors.

Built straight from a ``ReceiveMessage`` response entry (no boto3 resource
involved: that layer costs more per message than the rest of the pipeline).
It keeps the attribute names of boto3's ``sqs.Message`` resource, which raw
processors of the original package read, and its ``delete`` and
``change_visibility`` methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Message:
    __slots__ = (
        "_client",
        "attributes",
        "body",
        "md5_of_body",
        "md5_of_message_attributes",
        "message_attributes",
        "message_id",
        "on_deleted",
        "queue_url",
        "receipt_handle",
    )

    def __init__(self, client: Any, queue_url: str, raw: dict[str, Any]) -> None:
        self._client = client
        self.queue_url = queue_url
        self.message_id: str = raw["MessageId"]
        self.receipt_handle: str = raw["ReceiptHandle"]
        self.body: str = raw["Body"]
        self.md5_of_body: str | None = raw.get("MD5OfBody")
        self.md5_of_message_attributes: str | None = raw.get("MD5OfMessageAttributes")
        self.attributes: dict[str, str] = raw.get("Attributes") or {}
        # Like boto3's resource: None when the message carries no attributes.
        self.message_attributes: dict[str, Any] | None = raw.get("MessageAttributes")
        # Called by the acker once SQS confirmed this message's delete (e.g.
        # to delete its payload from S3); None for almost every message.
        self.on_deleted: Callable[[], Any] | None = None

    def delete(self) -> dict[str, Any]:
        return dict(
            self._client.delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=self.receipt_handle
            )
        )

    def change_visibility(self, VisibilityTimeout: int) -> dict[str, Any]:
        return dict(
            self._client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=self.receipt_handle,
                VisibilityTimeout=VisibilityTimeout,
            )
        )

    def __repr__(self) -> str:
        return f"Message(queue_url={self.queue_url!r}, message_id={self.message_id!r})"


def string_value(attributes: dict[str, Any] | None, name: str) -> str | None:
    """The StringValue of message attribute ``name``, or None."""
    if not attributes:
        return None
    entry = attributes.get(name)
    return entry.get("StringValue") if entry else None


def string_attribute(message: Any, name: str) -> str | None:
    """The StringValue of ``message``'s attribute ``name`` (any message object)."""
    return string_value(message.message_attributes, name)
