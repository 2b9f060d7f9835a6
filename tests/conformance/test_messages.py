"""Messages on standard queues: send, receive, delete, visibility, delays."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from .helpers import (
    Backend,
    assert_error,
    error_of,
    md5_hex,
    reference_attributes_md5,
    send,
)

ATTRIBUTES: dict[str, dict[str, Any]] = {
    "colour": {"DataType": "String", "StringValue": "blue"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    "app.kind": {"DataType": "String.custom", "StringValue": "ünïcode"},
    "app.size": {"DataType": "Number.int", "StringValue": "-3.5"},
}


def test_send_receive_delete(sqs: Backend, queue: str) -> None:
    sent = send(sqs, queue, "hello")
    assert sent["MD5OfMessageBody"] == md5_hex(b"hello")
    assert "MD5OfMessageAttributes" not in sent
    assert "SequenceNumber" not in sent
    assert sent["ResponseMetadata"]["HTTPStatusCode"] == 200
    (message,) = sqs.receive(queue)
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "hello"
    assert message["MD5OfBody"] == md5_hex(b"hello")
    assert "Attributes" not in message
    assert "MessageAttributes" not in message
    assert "MD5OfMessageAttributes" not in message
    sqs.client.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert sqs.counts(queue) == (0, 0, 0)


def test_empty_receive_has_no_messages_key(sqs: Backend, queue: str) -> None:
    response = sqs.client.receive_message(QueueUrl=queue)
    assert "Messages" not in response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_unicode_body_round_trips_with_utf8_md5(sqs: Backend, queue: str) -> None:
    body = "żółw 🐢 \t\n\r end"
    assert send(sqs, queue, body)["MD5OfMessageBody"] == md5_hex(body.encode())
    (message,) = sqs.receive(queue)
    assert message["Body"] == body


def test_receive_up_to_max_number(sqs: Backend, queue: str) -> None:
    for i in range(12):
        send(sqs, queue, f"m{i}")
    got: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive(queue, MaxNumberOfMessages=10)
        assert len(batch) <= 10
        if not batch:
            break
        got.extend(batch)
    assert sorted(m["Body"] for m in got) == sorted(f"m{i}" for i in range(12))


@pytest.mark.parametrize(
    ("kwargs", "name", "value"),
    [
        ({"MaxNumberOfMessages": 11}, "MaxNumberOfMessages", 11),
        ({"MaxNumberOfMessages": 0}, "MaxNumberOfMessages", 0),
        ({"WaitTimeSeconds": 21}, "WaitTimeSeconds", 21),
    ],
)
def test_receive_parameter_ranges(
    sqs: Backend, queue: str, kwargs: dict[str, int], name: str, value: int
) -> None:
    error = error_of(lambda: sqs.client.receive_message(QueueUrl=queue, **kwargs))
    assert_error(error, "InvalidParameterValue")
    assert f"Value {value} for parameter {name} is invalid." in str(error)


def test_message_attributes_and_checksums(sqs: Backend, queue: str) -> None:
    sent = send(sqs, queue, MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageAttributes"] == reference_attributes_md5(ATTRIBUTES)
    (message,) = sqs.receive(queue, MessageAttributeNames=["All"])
    assert message["MessageAttributes"] == ATTRIBUTES
    assert message["MD5OfMessageAttributes"] == reference_attributes_md5(ATTRIBUTES)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["All"], set(ATTRIBUTES)),
        ([".*"], set(ATTRIBUTES)),
        (["colour", "missing"], {"colour"}),
        (["app.*"], {"app.kind", "app.size"}),
        (["app.*", "blob"], {"app.kind", "app.size", "blob"}),
    ],
)
def test_message_attribute_filters(
    sqs: Backend, queue: str, names: list[str], expected: set[str]
) -> None:
    send(sqs, queue, MessageAttributes=ATTRIBUTES)
    (message,) = sqs.receive(queue, MessageAttributeNames=names)
    returned = message["MessageAttributes"]
    assert set(returned) == expected
    # What SDKs that verify checksums check: the MD5 of what came back.
    assert message["MD5OfMessageAttributes"] == reference_attributes_md5(returned)


def test_no_attributes_returned_when_none_match(sqs: Backend, queue: str) -> None:
    send(sqs, queue, MessageAttributes=ATTRIBUTES)
    (message,) = sqs.receive(queue, MessageAttributeNames=["nothing"])
    assert "MessageAttributes" not in message
    assert "MD5OfMessageAttributes" not in message


def test_invalid_attribute_type_is_refused(sqs: Backend, queue: str) -> None:
    error = error_of(
        lambda: send(
            sqs, queue, MessageAttributes={"x": {"DataType": "Foo", "StringValue": "1"}}
        )
    )
    assert_error(
        error,
        "InvalidParameterValue",
        message="The message attribute 'x' has an invalid message attribute type, "
        "the set of supported type prefixes is Binary, Number, and String.",
    )


@pytest.mark.moto_differs(reason="moto accepts empty and non-numeric values")
@pytest.mark.parametrize(
    "attribute",
    [
        {"DataType": "String", "StringValue": ""},
        {"DataType": "Number", "StringValue": "abc"},
    ],
    ids=["empty", "not-a-number"],
)
def test_invalid_attribute_value_is_refused(
    sqs: Backend, queue: str, attribute: dict[str, str]
) -> None:
    error = error_of(lambda: send(sqs, queue, MessageAttributes={"x": attribute}))
    assert_error(error, "InvalidParameterValue")


def test_system_attributes(sqs: Backend, queue: str) -> None:
    before = int(time.time() * 1000) - 60_000
    send(sqs, queue)
    (message,) = sqs.receive(queue, MessageSystemAttributeNames=["All"])
    attributes = message["Attributes"]
    assert set(attributes) >= {
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    assert "MessageGroupId" not in attributes
    assert "SequenceNumber" not in attributes
    if not sqs.memory:  # the fake clock starts in 2023
        assert int(attributes["SentTimestamp"]) > before
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(
        attributes["SentTimestamp"]
    )


def test_system_attribute_selection(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    (message,) = sqs.receive(queue, AttributeNames=["SentTimestamp"])
    assert list(message["Attributes"]) == ["SentTimestamp"]


def test_message_too_long(sqs: Backend, queue: str) -> None:
    sqs.client.set_queue_attributes(
        QueueUrl=queue, Attributes={"MaximumMessageSize": "1024"}
    )
    send(sqs, queue, "x" * 1024)
    error = error_of(lambda: send(sqs, queue, "x" * 1025))
    assert_error(error, "InvalidParameterValue")
    assert "Message must be shorter than 1024 bytes" in str(error)


@pytest.mark.moto_differs(reason="moto counts characters, not UTF-8 bytes")
def test_message_size_counts_utf8_bytes(sqs: Backend, queue: str) -> None:
    sqs.client.set_queue_attributes(
        QueueUrl=queue, Attributes={"MaximumMessageSize": "1024"}
    )
    error = error_of(lambda: send(sqs, queue, "ż" * 600))  # 1200 bytes
    assert_error(error, "InvalidParameterValue")


@pytest.mark.moto_differs(reason="moto ignores attributes in the size limit")
def test_message_size_counts_attributes(sqs: Backend, queue: str) -> None:
    sqs.client.set_queue_attributes(
        QueueUrl=queue, Attributes={"MaximumMessageSize": "1024"}
    )
    attributes = {"a": {"DataType": "String", "StringValue": "y" * 100}}
    error = error_of(lambda: send(sqs, queue, "x" * 1000, MessageAttributes=attributes))
    assert_error(error, "InvalidParameterValue")


def test_one_mebibyte_message_is_accepted(sqs: Backend, queue: str) -> None:
    body = "x" * 1_048_576
    send(sqs, queue, body)
    (message,) = sqs.receive(queue)
    assert len(message["Body"]) == 1_048_576


@pytest.mark.moto_differs(reason="moto accepts an empty body")
def test_empty_body_is_refused(sqs: Backend, queue: str) -> None:
    error = error_of(lambda: send(sqs, queue, ""))
    assert_error(error, "MissingParameter")


@pytest.mark.moto_differs(reason="moto does not check body characters")
def test_invalid_characters_are_refused(sqs: Backend, queue: str) -> None:
    error = error_of(lambda: send(sqs, queue, "bell \x07"))
    assert_error(error, "InvalidMessageContents", exception="InvalidMessageContents")


def test_delay_seconds_out_of_range(sqs: Backend, queue: str) -> None:
    error = error_of(lambda: send(sqs, queue, DelaySeconds=901))
    assert_error(error, "InvalidParameterValue")
    assert "DelaySeconds" in str(error)


# -- visibility -----------------------------------------------------------------


def test_received_message_is_invisible(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    assert len(sqs.receive(queue)) == 1
    assert sqs.receive(queue) == []
    assert sqs.counts(queue) == (0, 1, 0)


def test_visibility_timeout_expiry_redelivers(sqs: Backend, queue: str) -> None:
    send(sqs, queue, "again")
    (first,) = sqs.receive(queue, VisibilityTimeout=1)
    (second,) = sqs.receive_after(queue, 1, AttributeNames=["ApproximateReceiveCount"])
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"


def test_queue_visibility_timeout_is_the_default(sqs: Backend) -> None:
    url = sqs.create(VisibilityTimeout=1)
    send(sqs, url)
    assert len(sqs.receive(url)) == 1
    assert sqs.receive(url) == []
    assert len(sqs.receive_after(url, 1)) == 1


def test_change_visibility_to_zero_makes_visible(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    (message,) = sqs.receive(queue)
    sqs.client.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    (again,) = sqs.receive(queue)
    assert again["MessageId"] == message["MessageId"]


def test_change_visibility_extends(memory_only: Backend) -> None:
    """Checks the exact moment visibility ends: needs the fake clock."""
    sqs = memory_only
    url = sqs.create()
    send(sqs, url)
    (message,) = sqs.receive(url, VisibilityTimeout=10)
    sqs.pass_time(5)
    sqs.client.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=20
    )
    sqs.pass_time(19)
    assert sqs.receive(url) == []
    sqs.pass_time(1)
    assert len(sqs.receive(url)) == 1


def test_visibility_total_limit_is_12_hours(memory_only: Backend) -> None:
    """Needs hours to pass: fake clock only."""
    sqs = memory_only
    url = sqs.create()
    send(sqs, url)
    (message,) = sqs.receive(url, VisibilityTimeout=43_200)
    sqs.pass_time(100)
    error = error_of(
        lambda: sqs.client.change_message_visibility(
            QueueUrl=url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=43_200,
        )
    )
    assert_error(error, "InvalidParameterValue")
    assert "Total VisibilityTimeout for the message is beyond the limit" in str(error)


def test_change_visibility_out_of_range(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    (message,) = sqs.receive(queue)
    error = error_of(
        lambda: sqs.client.change_message_visibility(
            QueueUrl=queue,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=43_201,
        )
    )
    assert_error(error, "InvalidParameterValue")


@pytest.mark.moto_differs(reason="moto lets the visibility of a visible message change")
def test_change_visibility_of_visible_message(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    (message,) = sqs.receive(queue, VisibilityTimeout=0)
    error = error_of(
        lambda: sqs.client.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=5
        )
    )
    assert_error(
        error,
        "AWS.SimpleQueueService.MessageNotInflight",
        exception="MessageNotInflight",
    )


@pytest.mark.moto_differs(
    reason="moto says ReceiptHandleIsInvalid; AWS says the handle has expired"
)
def test_change_visibility_after_delete(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    (message,) = sqs.receive(queue)
    handle = message["ReceiptHandle"]
    sqs.client.delete_message(QueueUrl=queue, ReceiptHandle=handle)
    error = error_of(
        lambda: sqs.client.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=5
        )
    )
    assert_error(error, "InvalidParameterValue")
    assert "The receipt handle has expired" in str(error)


@pytest.mark.parametrize("operation", ["delete", "change"])
def test_malformed_receipt_handle(sqs: Backend, queue: str, operation: str) -> None:
    if operation == "delete":
        error = error_of(
            lambda: sqs.client.delete_message(QueueUrl=queue, ReceiptHandle="garbage")
        )
    else:
        error = error_of(
            lambda: sqs.client.change_message_visibility(
                QueueUrl=queue, ReceiptHandle="garbage", VisibilityTimeout=1
            )
        )
    assert_error(error, "ReceiptHandleIsInvalid", exception="ReceiptHandleIsInvalid")


def test_delete_twice_is_fine(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    (message,) = sqs.receive(queue)
    for _ in range(2):
        sqs.client.delete_message(
            QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"]
        )
    assert sqs.counts(queue) == (0, 0, 0)


@pytest.mark.moto_differs(reason="moto deletes the message by any of its handles")
def test_stale_handle_deletes_nothing(sqs: Backend, queue: str) -> None:
    """AWS: a handle from an earlier receive succeeds but deletes nothing."""
    send(sqs, queue)
    (first,) = sqs.receive(queue, VisibilityTimeout=0)
    (second,) = sqs.receive(queue)
    sqs.client.delete_message(QueueUrl=queue, ReceiptHandle=first["ReceiptHandle"])
    assert sqs.counts(queue) == (0, 1, 0)
    sqs.client.delete_message(QueueUrl=queue, ReceiptHandle=second["ReceiptHandle"])
    assert sqs.counts(queue) == (0, 0, 0)


def test_latest_handle_deletes_after_visibility_expired(
    sqs: Backend, queue: str
) -> None:
    send(sqs, queue)
    (message,) = sqs.receive(queue, VisibilityTimeout=0)
    sqs.client.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert sqs.receive(queue) == []


# -- delays -----------------------------------------------------------------------


def test_message_delay(sqs: Backend, queue: str) -> None:
    send(sqs, queue, "late", DelaySeconds=1)
    assert sqs.receive(queue) == []
    assert sqs.counts(queue) == (0, 0, 1)
    (message,) = sqs.receive_after(queue, 1)
    assert message["Body"] == "late"


def test_queue_delay(sqs: Backend) -> None:
    url = sqs.create(DelaySeconds=1)
    send(sqs, url, "late")
    send(sqs, url, "now", DelaySeconds=0)  # per-message value wins
    (now,) = sqs.receive(url)
    assert now["Body"] == "now"
    (late,) = sqs.receive_after(url, 1)
    assert late["Body"] == "late"


def test_delays_release_in_due_order(memory_only: Backend) -> None:
    """Exact due times: fake clock."""
    sqs = memory_only
    url = sqs.create()
    for delay in (30, 10, 20):
        send(sqs, url, f"d{delay}", DelaySeconds=delay)
    bodies = []
    for _ in range(3):
        sqs.pass_time(10)
        bodies += [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)]
    assert bodies == ["d10", "d20", "d30"]


# -- retention ----------------------------------------------------------------------


def test_retention_expires_messages(memory_only: Backend) -> None:
    """The shortest retention SQS allows is 60 s: fake clock only."""
    sqs = memory_only
    url = sqs.create(MessageRetentionPeriod=60)
    send(sqs, url, "old")
    send(sqs, url, "inflight")
    sqs.receive(url)
    sqs.pass_time(30)
    send(sqs, url, "young")
    sqs.pass_time(30)
    assert sqs.counts(url) == (1, 0, 0)
    assert [m["Body"] for m in sqs.receive(url)] == ["young"]


# -- long polling ---------------------------------------------------------------------


def test_long_poll_wakes_when_a_message_arrives(sqs: Backend, queue: str) -> None:
    result: list[Any] = []
    poller = threading.Thread(
        target=lambda: result.append(sqs.receive(queue, WaitTimeSeconds=10))
    )
    started = time.monotonic()
    poller.start()
    time.sleep(0.3)  # let the poller block first (only for the scenario)
    send(sqs, queue, "wake up")
    poller.join(timeout=15)
    assert not poller.is_alive()
    assert [m["Body"] for m in result[0]] == ["wake up"]
    assert time.monotonic() - started < 5


def test_long_poll_times_out_empty(sqs: Backend, queue: str) -> None:
    if sqs.clock is not None:
        result: list[Any] = []
        poller = threading.Thread(
            target=lambda: result.append(sqs.receive(queue, WaitTimeSeconds=20))
        )
        poller.start()
        deadline = time.monotonic() + 5
        while poller.is_alive() and time.monotonic() < deadline:
            sqs.clock.advance(5)
            poller.join(timeout=0.05)
        assert not poller.is_alive()
        assert result == [[]]
    else:
        started = time.monotonic()
        assert sqs.receive(queue, WaitTimeSeconds=1) == []
        assert time.monotonic() - started >= 0.9


def test_long_poll_wakes_when_delay_ends(memory_only: Backend) -> None:
    """Advancing the fake clock must wake a blocked long-poller."""
    sqs = memory_only
    url = sqs.create()
    send(sqs, url, "delayed", DelaySeconds=5)
    result: list[Any] = []
    poller = threading.Thread(
        target=lambda: result.append(sqs.receive(url, WaitTimeSeconds=20))
    )
    poller.start()
    time.sleep(0.1)
    assert poller.is_alive()
    assert sqs.clock is not None
    sqs.clock.advance(5)
    poller.join(timeout=5)
    assert [m["Body"] for m in result[0]] == ["delayed"]


def test_long_poll_real_clock_wakes_for_delayed_message() -> None:
    """With the real clock a poller wakes when a delay ends (no busy loop)."""
    from sqs_workers.memory_sqs import MemorySession

    client = MemorySession().client("sqs")
    url = client.create_queue(QueueName="delayed")["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=1)
    started = time.monotonic()
    response = client.receive_message(QueueUrl=url, WaitTimeSeconds=5)
    elapsed = time.monotonic() - started
    assert [m["Body"] for m in response["Messages"]] == ["x"]
    assert 0.5 < elapsed < 2.5


@pytest.mark.moto_differs(reason="moto omits MD5OfMessageSystemAttributes")
def test_trace_header_system_attribute(sqs: Backend, queue: str) -> None:
    header = {
        "DataType": "String",
        "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793",
    }
    sent = send(sqs, queue, MessageSystemAttributes={"AWSTraceHeader": header})
    assert sent["MD5OfMessageSystemAttributes"] == reference_attributes_md5(
        {"AWSTraceHeader": header}
    )
    (message,) = sqs.receive(queue, MessageSystemAttributeNames=["AWSTraceHeader"])
    assert message["Attributes"] == {"AWSTraceHeader": header["StringValue"]}


def test_caller_may_reuse_its_attribute_dicts(sqs: Backend, queue: str) -> None:
    attributes = {"k": {"DataType": "String", "StringValue": "first"}}
    send(sqs, queue, MessageAttributes=attributes)
    attributes["k"]["StringValue"] = "changed"
    (message,) = sqs.receive(queue, MessageAttributeNames=["All"])
    assert message["MessageAttributes"]["k"]["StringValue"] == "first"


def test_queue_url_from_get_queue_url_with_owner(sqs: Backend, queue: str) -> None:
    name = queue.rsplit("/", 1)[1]
    account = queue.rsplit("/", 2)[1]
    response = sqs.client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
    assert response["QueueUrl"] == queue


def test_long_poll_real_clock_wakes_when_visibility_ends() -> None:
    """A poller blocked on an empty queue wakes when an in-flight message's
    visibility timeout ends, not at the end of its wait."""
    from sqs_workers.memory_sqs import MemorySession

    client = MemorySession().client("sqs")
    url = client.create_queue(QueueName="visibility")["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="x")
    client.receive_message(QueueUrl=url, VisibilityTimeout=1)
    started = time.monotonic()
    response = client.receive_message(QueueUrl=url, WaitTimeSeconds=10)
    elapsed = time.monotonic() - started
    assert [m["Body"] for m in response["Messages"]] == ["x"]
    assert 0.5 < elapsed < 3
