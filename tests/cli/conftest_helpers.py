"""Small helpers for the CLI tests (reading queues through the library)."""

from __future__ import annotations

from typing import Any

from sqs_workers import SQSEnv


def url_of(sqs: SQSEnv, name: str) -> str:
    return str(sqs.queue(name).get_queue_url())


def attributes_of(sqs: SQSEnv, name: str) -> dict[str, str]:
    response = sqs.sqs_client.get_queue_attributes(
        QueueUrl=url_of(sqs, name), AttributeNames=["All"]
    )
    return dict(response["Attributes"])


def depth(sqs: SQSEnv, name: str) -> int:
    return int(attributes_of(sqs, name)["ApproximateNumberOfMessages"])


def take_all(sqs: SQSEnv, name: str) -> list[Any]:
    """Receive every visible message (hidden for 60 s), for counting."""
    taken: list[Any] = []
    while batch := sqs.queue(name).get_raw_messages(0, 10):
        taken.extend(batch)
    return taken
