"""DeadLetterQueue: process a DLQ by pushing its messages back upstream."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqs_workers.queue import GenericQueue, RawQueue


@dataclass
class DeadLetterQueue(RawQueue):
    """A raw queue whose processor re-sends each message to ``upstream_queue``.

    ``env.queue("foo_dead", DeadLetterQueue.maker(env.queue("foo")))``
    """

    upstream_queue: GenericQueue | None = None

    @classmethod
    def maker(  # type: ignore[override]
        cls, upstream_queue: GenericQueue, **kwargs: Any
    ) -> Callable[..., DeadLetterQueue]:
        return functools.partial(
            cls,
            processor=PushBackSender(upstream_queue),
            upstream_queue=upstream_queue,
            **kwargs,
        )


@dataclass
class PushBackSender:
    """Sends a message, body and attributes unchanged, to the upstream queue.

    Standard queues get it back with a 1 s delay; FIFO queues keep the
    message's group and deduplication ids (they take no per-message delay).
    """

    upstream_queue: GenericQueue | None = None

    def __call__(self, message: Any) -> None:
        upstream = self.upstream_queue
        if upstream is None:
            raise ValueError("PushBackSender has no upstream_queue to send to")
        entry: dict[str, Any] = {"MessageBody": message.body}
        if message.message_attributes:
            entry["MessageAttributes"] = message.message_attributes
        if upstream.is_fifo:
            entry["MessageGroupId"] = message.attributes["MessageGroupId"]
            entry["MessageDeduplicationId"] = message.attributes[
                "MessageDeduplicationId"
            ]
        else:
            entry["DelaySeconds"] = 1
        upstream.client.send_message(QueueUrl=upstream.get_queue_url(), **entry)
