"""Batch operations: limits, per-entry results, payload size."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Backend, assert_error, error_of, md5_hex, send


def entries(count: int, body: str = "x") -> list[dict[str, Any]]:
    return [{"Id": f"e{i}", "MessageBody": f"{body}{i}"} for i in range(count)]


def test_send_batch_of_ten(sqs: Backend, queue: str) -> None:
    response = sqs.client.send_message_batch(QueueUrl=queue, Entries=entries(10))
    assert len(response["Successful"]) == 10
    assert not response.get("Failed")
    for item in response["Successful"]:
        index = int(item["Id"][1:])
        assert item["MD5OfMessageBody"] == md5_hex(f"x{index}".encode())
        assert item["MessageId"]
    assert sqs.counts(queue) == (10, 0, 0)


@pytest.mark.parametrize(
    "operation",
    [
        "send",
        "delete",
        pytest.param(
            "change",
            marks=pytest.mark.moto_differs(
                reason="moto accepts an empty ChangeMessageVisibilityBatch"
            ),
        ),
    ],
)
def test_empty_batch(sqs: Backend, queue: str, operation: str) -> None:
    call = {
        "send": sqs.client.send_message_batch,
        "delete": sqs.client.delete_message_batch,
        "change": sqs.client.change_message_visibility_batch,
    }[operation]
    error = error_of(lambda: call(QueueUrl=queue, Entries=[]))
    assert_error(
        error, "AWS.SimpleQueueService.EmptyBatchRequest", exception="EmptyBatchRequest"
    )


def test_too_many_entries(sqs: Backend, queue: str) -> None:
    error = error_of(
        lambda: sqs.client.send_message_batch(QueueUrl=queue, Entries=entries(11))
    )
    assert_error(
        error,
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        exception="TooManyEntriesInBatchRequest",
        message="Maximum number of entries per request are 10. You have sent 11.",
    )


def test_ids_not_distinct(sqs: Backend, queue: str) -> None:
    batch = [{"Id": "same", "MessageBody": "a"}, {"Id": "same", "MessageBody": "b"}]
    error = error_of(
        lambda: sqs.client.send_message_batch(QueueUrl=queue, Entries=batch)
    )
    assert_error(
        error,
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        exception="BatchEntryIdsNotDistinct",
        message="Id same repeated.",
    )


@pytest.mark.parametrize("bad_id", ["has.dot", "has space", "x" * 81])
def test_invalid_entry_id(sqs: Backend, queue: str, bad_id: str) -> None:
    batch = [{"Id": bad_id, "MessageBody": "a"}]
    error = error_of(
        lambda: sqs.client.send_message_batch(QueueUrl=queue, Entries=batch)
    )
    assert_error(
        error,
        "AWS.SimpleQueueService.InvalidBatchEntryId",
        exception="InvalidBatchEntryId",
        message="A batch entry id can only contain alphanumeric characters, "
        "hyphens and underscores. It can be at most 80 letters long.",
    )


def test_batch_payload_limit(sqs: Backend, queue: str) -> None:
    batch = [{"Id": f"e{i}", "MessageBody": "x" * 200_000} for i in range(6)]
    error = error_of(
        lambda: sqs.client.send_message_batch(QueueUrl=queue, Entries=batch)
    )
    assert_error(
        error,
        "AWS.SimpleQueueService.BatchRequestTooLong",
        exception="BatchRequestTooLong",
        message="Batch requests cannot be longer than 1048576 bytes. "
        "You have sent 1200000 bytes.",
    )


@pytest.mark.moto_differs(reason="moto leaves attributes out of the batch size")
def test_batch_payload_counts_attributes(sqs: Backend, queue: str) -> None:
    attributes = {"name": {"DataType": "String", "StringValue": "v" * 100}}
    batch = [
        {"Id": "a", "MessageBody": "x" * 1_048_000, "MessageAttributes": attributes},
        {"Id": "b", "MessageBody": "y" * 500},
    ]
    error = error_of(
        lambda: sqs.client.send_message_batch(QueueUrl=queue, Entries=batch)
    )
    assert_error(error, "AWS.SimpleQueueService.BatchRequestTooLong")


def test_batch_exactly_at_payload_limit(sqs: Backend, queue: str) -> None:
    batch = [
        {"Id": "a", "MessageBody": "x" * 524_288},
        {"Id": "b", "MessageBody": "y" * 524_288},
    ]
    response = sqs.client.send_message_batch(QueueUrl=queue, Entries=batch)
    assert len(response["Successful"]) == 2


@pytest.mark.moto_differs(reason="moto does not check body characters")
def test_bad_entry_fails_alone(sqs: Backend, queue: str) -> None:
    batch = [
        {"Id": "good", "MessageBody": "fine"},
        {"Id": "bad", "MessageBody": "bell \x07"},
    ]
    response = sqs.client.send_message_batch(QueueUrl=queue, Entries=batch)
    assert [s["Id"] for s in response["Successful"]] == ["good"]
    (failed,) = response["Failed"]
    assert failed["Id"] == "bad"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "InvalidMessageContents"


def test_delete_batch_with_a_bad_handle(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    (message,) = sqs.receive(queue)
    response = sqs.client.delete_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "ok", "ReceiptHandle": message["ReceiptHandle"]},
            {"Id": "bad", "ReceiptHandle": "garbage"},
        ],
    )
    assert response["Successful"] == [{"Id": "ok"}]
    (failed,) = response["Failed"]
    assert failed["Id"] == "bad"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "ReceiptHandleIsInvalid"
    assert failed["Message"] == (
        'The input receipt handle "garbage" is not a valid receipt handle.'
    )
    assert sqs.counts(queue) == (0, 0, 0)


def test_delete_batch_of_ten(sqs: Backend, queue: str) -> None:
    sqs.client.send_message_batch(QueueUrl=queue, Entries=entries(10))
    messages = sqs.receive(queue, MaxNumberOfMessages=10)
    while len(messages) < 10:  # SQS may return fewer per call
        messages += sqs.receive(queue, MaxNumberOfMessages=10)
    response = sqs.client.delete_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
        ],
    )
    assert len(response["Successful"]) == 10
    assert sqs.counts(queue) == (0, 0, 0)


def test_change_visibility_batch(sqs: Backend, queue: str) -> None:
    sqs.client.send_message_batch(QueueUrl=queue, Entries=entries(2))
    messages = sqs.receive(queue, MaxNumberOfMessages=10)
    while len(messages) < 2:
        messages += sqs.receive(queue, MaxNumberOfMessages=10)
    response = sqs.client.change_message_visibility_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": f"c{i}", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages)
        ],
    )
    assert sorted(s["Id"] for s in response["Successful"]) == ["c0", "c1"]
    assert sqs.counts(queue) == (2, 0, 0)


def test_change_visibility_batch_with_a_bad_handle(sqs: Backend, queue: str) -> None:
    response = sqs.client.change_message_visibility_batch(
        QueueUrl=queue,
        Entries=[{"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 5}],
    )
    (failed,) = response["Failed"]
    assert failed["Code"] == "ReceiptHandleIsInvalid"
    assert failed["SenderFault"] is True
