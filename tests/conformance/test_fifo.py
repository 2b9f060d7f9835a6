"""FIFO queues: group order, group locking, deduplication, sequence numbers."""

from __future__ import annotations

import pytest

from .helpers import Backend, assert_error, error_of, send


def fsend(sqs: Backend, url: str, body: str, group: str = "g", dedup: str = "") -> dict:
    return send(
        sqs, url, body, MessageGroupId=group, MessageDeduplicationId=dedup or body
    )


def bodies(messages: list[dict]) -> list[str]:
    return [m["Body"] for m in messages]


def delete_all(sqs: Backend, url: str, messages: list[dict]) -> None:
    for message in messages:
        sqs.client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_order_within_group(sqs: Backend, fifo: str) -> None:
    for i in range(5):
        fsend(sqs, fifo, f"m{i}")
    received: list[dict] = []
    while len(received) < 5:
        batch = sqs.receive(fifo, MaxNumberOfMessages=2)
        assert batch
        received += batch
        delete_all(sqs, fifo, batch)
    assert bodies(received) == [f"m{i}" for i in range(5)]


def test_group_blocked_while_message_in_flight(sqs: Backend, fifo: str) -> None:
    fsend(sqs, fifo, "a1", "A")
    fsend(sqs, fifo, "a2", "A")
    fsend(sqs, fifo, "b1", "B")
    (first,) = sqs.receive(fifo)
    assert first["Body"] == "a1"
    (second,) = sqs.receive(fifo)
    assert second["Body"] == "b1"  # a2 waits for a1
    assert sqs.receive(fifo) == []
    delete_all(sqs, fifo, [first])
    (third,) = sqs.receive(fifo)
    assert third["Body"] == "a2"


def test_expired_message_comes_back_before_later_ones(sqs: Backend, fifo: str) -> None:
    fsend(sqs, fifo, "first")
    fsend(sqs, fifo, "second")
    (message,) = sqs.receive(fifo, VisibilityTimeout=1)
    assert message["Body"] == "first"
    (again,) = sqs.receive_after(fifo, 1)
    assert again["Body"] == "first"
    assert again["MessageId"] == message["MessageId"]


def test_several_messages_of_a_group_in_one_receive(sqs: Backend, fifo: str) -> None:
    for i in range(3):
        fsend(sqs, fifo, f"m{i}")
    messages = sqs.receive(fifo, MaxNumberOfMessages=10)
    assert bodies(messages) == ["m0", "m1", "m2"]


@pytest.mark.moto_differs(reason="moto returns a new MessageId for a duplicate")
def test_duplicate_returns_original_message_id(sqs: Backend, fifo: str) -> None:
    first = fsend(sqs, fifo, "once", dedup="d1")
    second = fsend(sqs, fifo, "once again", dedup="d1")
    assert second["MessageId"] == first["MessageId"]


def test_duplicate_is_not_enqueued(sqs: Backend, fifo: str) -> None:
    fsend(sqs, fifo, "once", dedup="d1")
    fsend(sqs, fifo, "once again", dedup="d1")
    assert bodies(sqs.receive(fifo, MaxNumberOfMessages=10)) == ["once"]


@pytest.mark.moto_differs(reason="moto forgets deduplication ids on delete")
def test_duplicate_after_delete_still_deduplicated(sqs: Backend, fifo: str) -> None:
    fsend(sqs, fifo, "once", dedup="d1")
    delete_all(sqs, fifo, sqs.receive(fifo))
    fsend(sqs, fifo, "once", dedup="d1")
    assert sqs.receive(fifo) == []


def test_content_based_deduplication(sqs: Backend) -> None:
    url = sqs.create(fifo=True, ContentBasedDeduplication="true")
    send(sqs, url, "same", MessageGroupId="g")
    send(sqs, url, "same", MessageGroupId="g")
    send(sqs, url, "other", MessageGroupId="g")
    assert bodies(sqs.receive(url, MaxNumberOfMessages=10)) == ["same", "other"]


def test_deduplication_window_is_five_minutes(memory_only: Backend) -> None:
    """Five minutes must pass: fake clock only."""
    sqs = memory_only
    url = sqs.create(fifo=True)
    fsend(sqs, url, "x", dedup="d")
    delete_all(sqs, url, sqs.receive(url))
    sqs.pass_time(299)
    fsend(sqs, url, "x", dedup="d")
    assert sqs.receive(url) == []
    sqs.pass_time(1)
    fsend(sqs, url, "x", dedup="d")
    assert bodies(sqs.receive(url)) == ["x"]


def test_group_id_required(sqs: Backend, fifo: str) -> None:
    error = error_of(lambda: send(sqs, fifo, "x", MessageDeduplicationId="d"))
    assert_error(
        error,
        "MissingParameter",
        message="The request must contain the parameter MessageGroupId.",
    )


def test_dedup_id_required_without_content_based(sqs: Backend, fifo: str) -> None:
    error = error_of(lambda: send(sqs, fifo, "x", MessageGroupId="g"))
    assert_error(
        error,
        "InvalidParameterValue",
        message="The queue should either have ContentBasedDeduplication enabled "
        "or MessageDeduplicationId provided explicitly",
    )


def test_per_message_delay_refused(sqs: Backend, fifo: str) -> None:
    error = error_of(
        lambda: send(
            sqs,
            fifo,
            "x",
            MessageGroupId="g",
            MessageDeduplicationId="d",
            DelaySeconds=5,
        )
    )
    assert_error(
        error,
        "InvalidParameterValue",
        message="Value 5 for parameter DelaySeconds is invalid. Reason: The request "
        "include parameter that is not valid for this queue type.",
    )


def test_queue_delay_applies(sqs: Backend) -> None:
    url = sqs.create(fifo=True, DelaySeconds=1)
    fsend(sqs, url, "late")
    assert sqs.receive(url) == []
    assert bodies(sqs.receive_after(url, 1)) == ["late"]


@pytest.mark.moto_differs(reason="moto's sequence numbers are random, not increasing")
def test_sequence_numbers_increase(sqs: Backend, fifo: str) -> None:
    numbers = [int(fsend(sqs, fifo, f"m{i}")["SequenceNumber"]) for i in range(6)]
    assert numbers == sorted(numbers)


def test_sequence_numbers(sqs: Backend, fifo: str) -> None:
    first = fsend(sqs, fifo, "a")
    second = fsend(sqs, fifo, "b")
    messages = sqs.receive(fifo, MaxNumberOfMessages=10, AttributeNames=["All"])
    attributes = [m["Attributes"] for m in messages]
    assert [a["SequenceNumber"] for a in attributes] == [
        first["SequenceNumber"],
        second["SequenceNumber"],
    ]
    assert attributes[0]["MessageGroupId"] == "g"
    assert attributes[0]["MessageDeduplicationId"] == "a"


@pytest.mark.moto_differs(reason="moto's sequence numbers are random, not increasing")
def test_batch_send_keeps_order(sqs: Backend, fifo: str) -> None:
    response = sqs.client.send_message_batch(
        QueueUrl=fifo,
        Entries=[
            {
                "Id": f"e{i}",
                "MessageBody": f"m{i}",
                "MessageGroupId": "g",
                "MessageDeduplicationId": f"d{i}",
            }
            for i in range(10)
        ],
    )
    numbers = [int(s["SequenceNumber"]) for s in response["Successful"]]
    assert numbers == sorted(numbers)
    assert bodies(sqs.receive(fifo, MaxNumberOfMessages=10)) == [
        f"m{i}" for i in range(10)
    ]


def test_many_groups_interleave(sqs: Backend, fifo: str) -> None:
    for i in range(3):
        for group in "ABC":
            fsend(sqs, fifo, f"{group}{i}", group)
    seen: dict[str, list[str]] = {"A": [], "B": [], "C": []}
    for _ in range(20):
        batch = sqs.receive(fifo, MaxNumberOfMessages=2)
        for message in batch:
            seen[message["Body"][0]].append(message["Body"])
        delete_all(sqs, fifo, batch)
        if sum(map(len, seen.values())) == 9:
            break
    assert seen == {g: [f"{g}{i}" for i in range(3)] for g in "ABC"}


def test_retention_frees_the_group(memory_only: Backend) -> None:
    """Retention of 60 s needs the fake clock."""
    sqs = memory_only
    url = sqs.create(fifo=True, MessageRetentionPeriod=60)
    fsend(sqs, url, "old")
    sqs.receive(url)
    sqs.pass_time(30)
    fsend(sqs, url, "new")
    sqs.pass_time(30)
    assert bodies(sqs.receive(url)) == ["new"]


@pytest.mark.moto_differs(reason="moto ignores DeduplicationScope=messageGroup")
def test_deduplication_scope_message_group(sqs: Backend) -> None:
    url = sqs.create(fifo=True, DeduplicationScope="messageGroup")
    fsend(sqs, url, "a", "G1", dedup="same")
    fsend(sqs, url, "b", "G2", dedup="same")  # other group: not a duplicate
    fsend(sqs, url, "c", "G1", dedup="same")  # same group: duplicate
    received = sqs.receive(url, MaxNumberOfMessages=10)
    while True:
        more = sqs.receive(url, MaxNumberOfMessages=10)
        if not more:
            break
        received += more
    assert sorted(bodies(received)) == ["a", "b"]


@pytest.mark.moto_differs(reason="moto ignores ReceiveRequestAttemptId")
def test_receive_request_attempt_id_replays_a_receive(sqs: Backend, fifo: str) -> None:
    fsend(sqs, fifo, "m1", "A")
    fsend(sqs, fifo, "m2", "B")
    (first,) = sqs.receive(fifo, ReceiveRequestAttemptId="try-1")
    (again,) = sqs.receive(fifo, ReceiveRequestAttemptId="try-1")
    assert again["MessageId"] == first["MessageId"]
    assert again["ReceiptHandle"] == first["ReceiptHandle"]
    sqs.client.delete_message(QueueUrl=fifo, ReceiptHandle=first["ReceiptHandle"])
    # The first attempt's message is gone: the same id now receives afresh.
    (fresh,) = sqs.receive(fifo, ReceiveRequestAttemptId="try-1")
    assert fresh["Body"] != first["Body"]


def test_receive_request_attempt_id_is_ignored_on_standard(
    sqs: Backend, queue: str
) -> None:
    send(sqs, queue, "a")
    send(sqs, queue, "b")
    first = sqs.receive(queue, ReceiveRequestAttemptId="same")
    second = sqs.receive(queue, ReceiveRequestAttemptId="same")
    assert len(first) == len(second) == 1
    assert first[0]["MessageId"] != second[0]["MessageId"]
