"""What several benchmarks share: a queue full of no-op jobs whose last run
sets an event (waited on, not polled: polling would cost the CPU they
measure), and the two calls of a plain boto3 consumer."""

from __future__ import annotations

import threading
from typing import Any


def queue_noops(queue: Any, count: int) -> tuple[Any, threading.Event]:
    """Send ``count`` jobs of a ``noop`` task to ``queue`` (in batches);
    returns the task and an event set by its ``count``-th run."""
    done = [0]
    finished = threading.Event()

    @queue.processor("noop")
    def noop(n: int) -> None:
        done[0] += 1
        if done[0] >= count:
            finished.set()

    with queue.add_batch():
        for n in range(count):
            noop.delay(n=n)
    return noop, finished


def plain_receive(client: Any, url: str) -> list[dict[str, Any]]:
    """A plain consumer's receive: 10 at most, every attribute, no wait."""
    messages: list[dict[str, Any]] = client.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return messages


def plain_delete(client: Any, url: str, messages: list[dict[str, Any]]) -> None:
    """A plain consumer's delete: the whole receive in one batch."""
    client.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
        ],
    )
