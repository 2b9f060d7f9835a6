"""Small helpers shared by the contract tests (no assertions on sleeps)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqs_testing import wait_until

from sqs_workers import JobQueue, create_fifo_queue, create_standard_queue

DEADLINE = 15.0


def make_queue(sqs: Any, name: str, queue_maker: Any = JobQueue, **kw: Any) -> Any:
    """Create the SQS queue (standard, or FIFO by name) and return its object."""
    create_kw = {
        k: kw.pop(k)
        for k in list(kw)
        if k
        in (
            "content_based_deduplication",
            "visibility_timeout",
            "redrive_policy",
            "message_retention_period",
        )
    }
    if name.endswith(".fifo"):
        create_fifo_queue(sqs, name, **create_kw)
    else:
        create_standard_queue(sqs, name, **create_kw)
    return sqs.queue(name, queue_maker, **kw)


def queue_url(queue: Any) -> str:
    return str(
        queue.env.sqs_client.get_queue_url(QueueName=queue.get_sqs_queue_name())[
            "QueueUrl"
        ]
    )


def queued_count(queue: Any) -> int:
    """Messages stored in the queue, visible or not (does not receive them)."""
    attrs = queue.env.sqs_client.get_queue_attributes(
        QueueUrl=queue_url(queue),
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
        attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def visible_count(queue: Any) -> int:
    attrs = queue.env.sqs_client.get_queue_attributes(
        QueueUrl=queue_url(queue), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0))


def receive_n(queue: Any, n: int, timeout: float = DEADLINE) -> list[Any]:
    """Receive messages (they become in flight) until ``n`` arrived."""
    got: list[Any] = []

    def more() -> bool:
        got.extend(queue.get_raw_messages(0, n - len(got)))
        return len(got) >= n

    wait_until(more, timeout, f"{n} messages in {queue.name} (got {len(got)})")
    return got


def process_until(
    queue: Any, predicate: Callable[[], Any], timeout: float = DEADLINE
) -> Any:
    """Call ``process_batch`` until ``predicate`` holds."""

    def step() -> Any:
        queue.process_batch(wait_seconds=0)
        return predicate()

    return wait_until(step, timeout, f"processing {queue.name}")


def run_in_thread(fn: Callable[[], Any], timeout: float = 30.0) -> None:
    """Run ``fn`` and fail if it does not return (or raises) within ``timeout``."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as error:  # reported to the test below
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{fn} did not return within {timeout}s"
    if errors:
        raise errors[0]


class CallSpy:
    """Records the calls of one SQS client method (and still makes them).

    Given an ``SQSEnv``, it watches every client the env may talk through: its
    ``sqs_client`` and the client under its ``sqs_resource`` (the original
    package sent through the resource).
    """

    def __init__(self, monkeypatch: Any, target: Any, method: str) -> None:
        self.calls: list[dict[str, Any]] = []
        clients = [target]
        if hasattr(target, "sqs_client"):
            clients = [target.sqs_client]
            resource_client = getattr(
                getattr(target.sqs_resource, "meta", None), "client", None
            )
            if resource_client is not None and resource_client is not clients[0]:
                clients.append(resource_client)
        for client in clients:
            if hasattr(client, method):
                self._wrap(monkeypatch, client, method)

    def _wrap(self, monkeypatch: Any, client: Any, method: str) -> None:
        original = getattr(client, method)

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(kwargs)
            return original(*args, **kwargs)

        monkeypatch.setattr(client, method, spy)

    def __len__(self) -> int:
        return len(self.calls)
