"""Creating and deleting queues (names get the env's prefix)."""

from __future__ import annotations

from typing import Any

from sqs_workers.core import RedrivePolicy


def create_standard_queue(
    env: Any,
    queue_name: str,
    message_retention_period: int | None = None,
    visibility_timeout: int | None = None,
    redrive_policy: RedrivePolicy | None = None,
) -> str:
    """Create a standard queue; returns its URL."""
    attributes = _common_attributes(
        message_retention_period, visibility_timeout, redrive_policy
    )
    return _create(env, queue_name, attributes)


def create_fifo_queue(
    env: Any,
    queue_name: str,
    content_based_deduplication: bool = False,
    message_retention_period: int | None = None,
    visibility_timeout: int | None = None,
    redrive_policy: RedrivePolicy | None = None,
) -> str:
    """Create a FIFO queue (its name must end with ".fifo"); returns its URL."""
    if not queue_name.endswith(".fifo"):
        raise ValueError(
            f"FIFO queue name {queue_name!r} must end with '.fifo' (SQS requires it)"
        )
    attributes = {"FifoQueue": "true"}
    if content_based_deduplication:
        attributes["ContentBasedDeduplication"] = "true"
    attributes.update(
        _common_attributes(message_retention_period, visibility_timeout, redrive_policy)
    )
    return _create(env, queue_name, attributes)


def delete_queue(env: Any, queue_name: str) -> None:
    """Delete a queue (and forget its cached URL)."""
    sqs_name = env.get_sqs_queue_name(queue_name)
    url = env.sqs_client.get_queue_url(QueueName=sqs_name)["QueueUrl"]
    env.sqs_client.delete_queue(QueueUrl=url)
    queue = env.queues.get(queue_name)
    if queue is not None:
        queue._resolved_url = None
        queue._queue = None
        queue._sender_instance = None


def _common_attributes(
    message_retention_period: int | None,
    visibility_timeout: int | None,
    redrive_policy: RedrivePolicy | None,
) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if message_retention_period is not None:
        attributes["MessageRetentionPeriod"] = str(message_retention_period)
    if visibility_timeout is not None:
        attributes["VisibilityTimeout"] = str(visibility_timeout)
    if redrive_policy is not None:
        attributes["RedrivePolicy"] = redrive_policy.__json__()
    return attributes


def _create(env: Any, queue_name: str, attributes: dict[str, str]) -> str:
    response = env.sqs_client.create_queue(
        QueueName=env.get_sqs_queue_name(queue_name), Attributes=attributes
    )
    return str(response["QueueUrl"])
