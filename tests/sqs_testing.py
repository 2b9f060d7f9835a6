"""Test helpers shared by every test package: waiting on conditions, counting calls."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

DEADLINE = 15.0


def wait_until(
    condition: Callable[[], Any],
    timeout: float = DEADLINE,
    what: str = "",
    poll: float = 0.01,
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail past the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)


class CallCounter:
    """Counts SQS API calls (and their batch entries) made through a client.

    Calls are counted on ``before-call`` (emitted by boto3 and by the
    in-memory client alike). Entries too on the memory client, whose
    ``before-call`` params are the API's; boto3 passes the serialized HTTP
    request there, so its entries are counted on ``before-parameter-build``.
    """

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.entries: Counter[str] = Counter()
        self._lock = threading.Lock()
        client.meta.events.register("before-call.sqs.*", self._count)
        client.meta.events.register("before-parameter-build.sqs.*", self._entries)

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
            self.entries[model.name] += len(params.get("Entries", ()) or ())

    def _entries(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.entries[model.name] += len(params.get("Entries", ()) or ())

    def total(self) -> int:
        return sum(self.calls.values())


def server_counts(client: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue at ``url``, as SQS reports them."""
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def queue_counts(queue: Any) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    return server_counts(queue.client, queue.get_queue_url())


def queue_total(queue: Any) -> int:
    """Messages a queue holds, visible or in flight (not counting delayed)."""
    return sum(queue_counts(queue))
