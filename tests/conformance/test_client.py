"""The client object itself: events, parameter validation, exceptions, session."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from sqs_workers.memory_sqs import (
    FakeClock,
    MemoryAWS,
    MemoryMessage,
    MemoryQueue,
    MemorySession,
)

from .helpers import Backend, send


def test_before_and_after_call_events_count_api_calls(sqs: Backend, queue: str) -> None:
    calls: Counter[str] = Counter()
    finished: Counter[str] = Counter()

    def before(event_name: str, **kwargs: Any) -> None:
        calls[event_name.rsplit(".", 1)[1]] += 1

    def after(event_name: str, **kwargs: Any) -> None:
        finished[event_name.rsplit(".", 1)[1]] += 1

    sqs.client.meta.events.register("before-call.sqs.*", before)
    sqs.client.meta.events.register("after-call.sqs.*", after)
    try:
        send(sqs, queue)
        send(sqs, queue)
        sqs.receive(queue, MaxNumberOfMessages=10)
        sqs.client.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])
    finally:
        sqs.client.meta.events.unregister("before-call.sqs.*", before)
        sqs.client.meta.events.unregister("after-call.sqs.*", after)
    expected = {"SendMessage": 2, "ReceiveMessage": 1, "GetQueueAttributes": 1}
    assert dict(calls) == expected
    assert dict(finished) == expected


def test_region_is_in_meta(sqs: Backend) -> None:
    assert sqs.client.meta.region_name == "us-east-1"


def test_unknown_parameter_is_a_param_validation_error(
    sqs: Backend, queue: str
) -> None:
    with pytest.raises(ParamValidationError):
        sqs.client.send_message(QueueUrl=queue, MessageBody="x", Bogus=1)


def test_missing_parameter_is_a_param_validation_error(sqs: Backend) -> None:
    with pytest.raises(ParamValidationError):
        sqs.client.send_message(MessageBody="x")


def test_wrong_type_is_a_param_validation_error(sqs: Backend, queue: str) -> None:
    with pytest.raises(ParamValidationError):
        sqs.client.send_message(QueueUrl=queue, MessageBody="x", DelaySeconds="5")


def test_positional_arguments_are_refused(sqs: Backend, queue: str) -> None:
    with pytest.raises(TypeError):
        sqs.client.get_queue_url("name")


def test_modeled_exceptions_are_client_errors(sqs: Backend) -> None:
    for name in ("QueueDoesNotExist", "ReceiptHandleIsInvalid", "PurgeQueueInProgress"):
        cls = getattr(sqs.client.exceptions, name)
        assert issubclass(cls, ClientError)
    with pytest.raises(sqs.client.exceptions.QueueDoesNotExist):
        sqs.client.get_queue_url(QueueName=sqs.name())


def test_can_paginate(sqs: Backend) -> None:
    assert sqs.client.can_paginate("list_queues")
    assert not sqs.client.can_paginate("send_message")


# -- memory-only API -------------------------------------------------------------------


def test_session_shares_its_backend() -> None:
    aws = MemoryAWS()
    first = MemorySession(aws).client("sqs")
    second = MemorySession(aws).client("sqs", region_name="us-east-1", config=None)
    url = first.create_queue(QueueName="shared")["QueueUrl"]
    assert second.get_queue_url(QueueName="shared")["QueueUrl"] == url
    assert MemorySession().aws is not aws
    assert MemorySession(aws).aws is aws


def test_session_refuses_other_services() -> None:
    # S3 is offered (a small one, for large payloads); nothing else.
    with pytest.raises(ValueError, match="SQS"):
        MemorySession().client("dynamodb")


def test_session_resource_is_the_client_backed_adapter() -> None:
    resource_module = pytest.importorskip("sqs_workers.sqs.resource")
    resource = MemorySession().resource("sqs")
    assert isinstance(resource, resource_module.SQSResource)


def test_public_classes_are_exported() -> None:
    aws = MemoryAWS(clock=FakeClock())
    client = MemorySession(aws).client("sqs")
    url = client.create_queue(QueueName="exports")["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="x")
    (queue,) = aws.queues.values()
    assert isinstance(queue, MemoryQueue)
    (message,) = queue.messages.values()
    assert isinstance(message, MemoryMessage)


def test_deleted_messages_are_freed() -> None:
    aws = MemoryAWS(clock=FakeClock())
    client = MemorySession(aws).client("sqs")
    url = client.create_queue(QueueName="freed")["QueueUrl"]
    for _ in range(50):
        client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)],
        )
    while True:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        if "Messages" not in messages:
            break
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages["Messages"])
            ],
        )
    (queue,) = aws.queues.values()
    assert len(queue.messages) == 0
    assert len(queue.timers) == 0
    assert len(queue.visible) == 0


def test_receive_cost_does_not_grow_with_queue_length() -> None:
    """A deep queue serves receives as fast as a shallow one (generous bound)."""
    import time

    def receive_seconds(depth: int) -> float:
        client = MemorySession(MemoryAWS(clock=FakeClock())).client("sqs")
        url = client.create_queue(QueueName="deep")["QueueUrl"]
        entries = [{"Id": str(i), "MessageBody": "x"} for i in range(10)]
        for _ in range(depth // 10):
            client.send_message_batch(QueueUrl=url, Entries=entries)
        started = time.perf_counter()
        for _ in range(200):
            client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return time.perf_counter() - started

    shallow = min(receive_seconds(2_000) for _ in range(2))
    deep = min(receive_seconds(100_000) for _ in range(2))
    assert deep < shallow * 3
