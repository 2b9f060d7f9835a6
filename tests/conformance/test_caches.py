"""The in-memory SQS caches checked message attributes by content; these
tests pin down what such a cache could get wrong (on both backends, so the
expected behaviour is SQS's own)."""

from __future__ import annotations

from typing import Any

import pytest

from sqs_workers.memory import validation

from .helpers import Backend, assert_error, error_of, reference_attributes_md5


def _attrs(**values: str) -> dict[str, dict[str, Any]]:
    return {
        name: {"DataType": "String", "StringValue": value}
        for name, value in values.items()
    }


def _receive_all(sqs: Backend, url: str, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < count:
        batch = sqs.receive_after(
            url,
            0,
            expect=count - len(got),
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
        )
        assert batch, f"only {len(got)} of {count} messages arrived"
        got.extend(batch)
    return got


def test_callers_dicts_reused_after_send(sqs: Backend, queue: str) -> None:
    attributes = _attrs(JobName="first")
    sqs.client.send_message(
        QueueUrl=queue, MessageBody="one", MessageAttributes=attributes
    )
    attributes["JobName"]["StringValue"] = "second"  # the caller reuses its dict
    sqs.client.send_message(
        QueueUrl=queue, MessageBody="two", MessageAttributes=attributes
    )
    by_body = {m["Body"]: m for m in _receive_all(sqs, queue, 2)}
    assert by_body["one"]["MessageAttributes"] == _attrs(JobName="first")
    assert by_body["two"]["MessageAttributes"] == _attrs(JobName="second")
    for body, name in (("one", "first"), ("two", "second")):
        assert by_body[body]["MD5OfMessageAttributes"] == reference_attributes_md5(
            _attrs(JobName=name)
        )


def test_received_attributes_are_the_receivers_own(sqs: Backend, queue: str) -> None:
    for body in ("one", "two"):
        sqs.client.send_message(
            QueueUrl=queue, MessageBody=body, MessageAttributes=_attrs(A="x")
        )
    first, second = _receive_all(sqs, queue, 2)
    first["MessageAttributes"]["A"]["StringValue"] = "changed"
    first["MessageAttributes"]["B"] = {"DataType": "String", "StringValue": "new"}
    assert second["MessageAttributes"] == _attrs(A="x")
    sqs.client.send_message(
        QueueUrl=queue, MessageBody="three", MessageAttributes=_attrs(A="x")
    )
    (third,) = _receive_all(sqs, queue, 1)
    assert third["MessageAttributes"] == _attrs(A="x")


def test_same_content_in_another_order_keeps_its_order(
    sqs: Backend, queue: str
) -> None:
    forward = _attrs(A="1", B="2")
    backward = {"B": forward["B"], "A": forward["A"]}
    sent = [
        sqs.client.send_message(QueueUrl=queue, MessageBody=b, MessageAttributes=a)
        for b, a in (("forward", forward), ("backward", backward))
    ]
    # The MD5 sorts names: the same for both.
    assert sent[0]["MD5OfMessageAttributes"] == sent[1]["MD5OfMessageAttributes"]
    by_body = {m["Body"]: m for m in _receive_all(sqs, queue, 2)}
    assert by_body["forward"]["MessageAttributes"] == forward
    if sqs.memory:  # moto does not promise an order; we keep the sender's
        assert list(by_body["backward"]["MessageAttributes"]) == ["B", "A"]


@pytest.mark.moto_differs(reason="moto accepts empty and non-numeric values")
def test_invalid_attributes_fail_every_time(sqs: Backend, queue: str) -> None:
    bad = {"count": {"DataType": "Number", "StringValue": "not a number"}}
    for _ in range(2):
        error = error_of(
            lambda: sqs.client.send_message(
                QueueUrl=queue, MessageBody="x", MessageAttributes=bad
            )
        )
        assert_error(error, "InvalidParameterValue")
    response = sqs.client.send_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "bad", "MessageBody": "x", "MessageAttributes": bad},
            {"Id": "good", "MessageBody": "y", "MessageAttributes": _attrs(A="a")},
        ],
    )
    assert [f["Id"] for f in response["Failed"]] == ["bad"]
    assert [s["Id"] for s in response["Successful"]] == ["good"]


@pytest.mark.moto_differs(reason="moto ignores attributes in the size limit")
def test_batch_size_counts_cached_attributes(sqs: Backend, queue: str) -> None:
    """A batch over 1 MiB is refused whether its attributes were seen or not."""
    value = "v" * 1000
    sqs.client.send_message(
        QueueUrl=queue, MessageBody="warm", MessageAttributes=_attrs(A=value)
    )
    body = "b" * (1_048_576 // 10 - 1000)  # just over the limit with attributes
    error = error_of(
        lambda: sqs.client.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageAttributes": _attrs(A=value),
                }
                for i in range(10)
            ],
        )
    )
    assert_error(error, "AWS.SimpleQueueService.BatchRequestTooLong")


def test_cache_stays_bounded(memory_only: Backend, queue: str) -> None:
    sqs = memory_only
    for start in range(0, validation.CHECKED_CACHE_LIMIT + 20, 10):
        sqs.client.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": "x",
                    "MessageAttributes": _attrs(Unique=str(start + i)),
                }
                for i in range(10)
            ],
        )
    assert len(validation._CHECKED) <= validation.CHECKED_CACHE_LIMIT


# -- receipt handles: the memory queue remembers the ones it issued ---------------


def test_handle_of_another_queue_is_refused(sqs: Backend) -> None:
    first, second = sqs.create(), sqs.create()
    sqs.client.send_message(QueueUrl=first, MessageBody="x")
    (message,) = sqs.receive(first)
    error = error_of(
        lambda: sqs.client.change_message_visibility(
            QueueUrl=second, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=1
        )
    )
    assert_error(error, "ReceiptHandleIsInvalid", exception="ReceiptHandleIsInvalid")


def test_handle_still_works_after_visibility_change(sqs: Backend, queue: str) -> None:
    sqs.client.send_message(QueueUrl=queue, MessageBody="x")
    (message,) = sqs.receive(queue)
    handle = message["ReceiptHandle"]
    for timeout in (60, 120):
        sqs.client.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=timeout
        )
    sqs.client.delete_message(QueueUrl=queue, ReceiptHandle=handle)
    assert sqs.counts(queue) == (0, 0, 0)


def test_more_handles_than_remembered(memory_only: Backend, queue: str) -> None:
    """Past the bound, handles are decoded again: every delete still works."""
    from sqs_workers.memory.queue import ISSUED_HANDLES_LIMIT

    sqs = memory_only
    total = ISSUED_HANDLES_LIMIT + 50
    for start in range(0, total, 10):
        sqs.client.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "MessageBody": str(start + i)}
                for i in range(min(10, total - start))
            ],
        )
    handles = [
        m["ReceiptHandle"]
        for _ in range(0, total, 10)
        for m in sqs.receive(queue, MaxNumberOfMessages=10)
    ]
    assert len(handles) == total
    for start in range(0, total, 10):
        response = sqs.client.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "ReceiptHandle": h}
                for i, h in enumerate(handles[start : start + 10])
            ],
        )
        assert not response.get("Failed")
    assert sqs.counts(queue) == (0, 0, 0)
