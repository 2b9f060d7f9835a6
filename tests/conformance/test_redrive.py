"""Dead-letter queues: RedrivePolicy, RedriveAllowPolicy, message move tasks."""

from __future__ import annotations

import json

import pytest

from .helpers import Backend, assert_error, error_of, send

MOVE_TASKS = "moto 5.2.5 does not implement message move tasks (HTTP 500)"


def with_dlq(
    sqs: Backend, max_receives: int = 1, fifo: bool = False
) -> tuple[str, str]:
    dlq = sqs.create("dlq", fifo=fifo)
    policy = {"deadLetterTargetArn": sqs.arn(dlq), "maxReceiveCount": max_receives}
    source = sqs.create("src", fifo=fifo, RedrivePolicy=json.dumps(policy))
    return source, dlq


def test_redrive_policy_round_trips(sqs: Backend) -> None:
    source, dlq = with_dlq(sqs, 3)
    policy = json.loads(sqs.attributes(source, "RedrivePolicy")["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == sqs.arn(dlq)
    assert int(policy["maxReceiveCount"]) == 3


def test_message_moves_after_max_receives(sqs: Backend) -> None:
    source, dlq = with_dlq(sqs, 2)
    sent = send(sqs, source, "poison")
    for _ in range(2):
        (message,) = sqs.receive(source, VisibilityTimeout=0)
        assert message["Body"] == "poison"
    assert sqs.receive(source) == []  # the third receive moved it
    (dead,) = sqs.receive(dlq, AttributeNames=["All"])
    assert dead["MessageId"] == sent["MessageId"]
    assert dead["Body"] == "poison"
    # SQS keeps counting receives in the DLQ.
    assert dead["Attributes"]["ApproximateReceiveCount"] == "3"


def test_dlq_message_names_its_source(memory_only: Backend) -> None:
    """DeadLetterQueueSourceArn: moto does not report it."""
    sqs = memory_only
    source, dlq = with_dlq(sqs, 1)
    send(sqs, source)
    sqs.receive(source, VisibilityTimeout=0)
    assert sqs.receive(source) == []
    (dead,) = sqs.receive(dlq, MessageSystemAttributeNames=["DeadLetterQueueSourceArn"])
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == sqs.arn(source)


def test_fifo_redrive_keeps_group(sqs: Backend) -> None:
    source, dlq = with_dlq(sqs, 1, fifo=True)
    send(sqs, source, "a", MessageGroupId="g", MessageDeduplicationId="a")
    send(sqs, source, "b", MessageGroupId="g", MessageDeduplicationId="b")
    (first,) = sqs.receive(source, VisibilityTimeout=0)
    assert first["Body"] == "a"
    (second,) = sqs.receive(source)  # "a" moved to the DLQ, "b" is next
    assert second["Body"] == "b"
    (dead,) = sqs.receive(dlq, AttributeNames=["MessageGroupId"])
    assert dead["Body"] == "a"
    assert dead["Attributes"]["MessageGroupId"] == "g"


def test_dead_letter_source_queues(sqs: Backend) -> None:
    source, dlq = with_dlq(sqs)
    response = sqs.client.list_dead_letter_source_queues(QueueUrl=dlq)
    assert response["queueUrls"] == [source]


@pytest.mark.moto_differs(reason="moto answers QueueDoesNotExist")
def test_redrive_to_missing_queue_refused(sqs: Backend, queue: str) -> None:
    arn = sqs.arn(queue) + "-missing"
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    error = error_of(
        lambda: sqs.client.set_queue_attributes(
            QueueUrl=queue, Attributes={"RedrivePolicy": policy}
        )
    )
    assert_error(error, "InvalidParameterValue")


@pytest.mark.moto_differs(reason="moto does not range-check maxReceiveCount")
@pytest.mark.parametrize("count", [0, 1001])
def test_max_receive_count_range(sqs: Backend, count: int) -> None:
    dlq = sqs.create("dlq")
    queue = sqs.create()
    policy = json.dumps({"deadLetterTargetArn": sqs.arn(dlq), "maxReceiveCount": count})
    error = error_of(
        lambda: sqs.client.set_queue_attributes(
            QueueUrl=queue, Attributes={"RedrivePolicy": policy}
        )
    )
    assert_error(error, "InvalidParameterValue")


@pytest.mark.moto_differs(reason="moto ignores RedriveAllowPolicy")
def test_redrive_allow_policy_deny_all(sqs: Backend) -> None:
    dlq = sqs.create(
        "dlq", RedriveAllowPolicy=json.dumps({"redrivePermission": "denyAll"})
    )
    queue = sqs.create()
    policy = json.dumps({"deadLetterTargetArn": sqs.arn(dlq), "maxReceiveCount": 1})
    error = error_of(
        lambda: sqs.client.set_queue_attributes(
            QueueUrl=queue, Attributes={"RedrivePolicy": policy}
        )
    )
    assert_error(error, "InvalidParameterValue")


@pytest.mark.moto_differs(reason="moto does not know the RedriveAllowPolicy attribute")
def test_redrive_allow_policy_by_queue(sqs: Backend) -> None:
    allowed = sqs.create()
    dlq = sqs.create(
        "dlq",
        RedriveAllowPolicy=json.dumps(
            {"redrivePermission": "byQueue", "sourceQueueArns": [sqs.arn(allowed)]}
        ),
    )
    policy = json.dumps({"deadLetterTargetArn": sqs.arn(dlq), "maxReceiveCount": 1})
    sqs.client.set_queue_attributes(
        QueueUrl=allowed, Attributes={"RedrivePolicy": policy}
    )
    allow = json.loads(sqs.attributes(dlq, "RedriveAllowPolicy")["RedriveAllowPolicy"])
    assert allow["redrivePermission"] == "byQueue"


# -- message move tasks -------------------------------------------------------------


def dead_letters(sqs: Backend, count: int) -> tuple[str, str]:
    source, dlq = with_dlq(sqs, 1)
    for i in range(count):
        send(sqs, source, f"m{i}")
    for _ in range(count):
        sqs.receive(source, VisibilityTimeout=0)
    assert sqs.receive(source, MaxNumberOfMessages=10) == []
    assert sqs.counts(dlq)[0] == count
    return source, dlq


@pytest.mark.moto_differs(reason=MOVE_TASKS, skip=True)
def test_move_task_returns_messages_to_source(sqs: Backend) -> None:
    source, dlq = dead_letters(sqs, 3)
    handle = sqs.client.start_message_move_task(SourceArn=sqs.arn(dlq))["TaskHandle"]
    assert handle
    (task,) = sqs.client.list_message_move_tasks(SourceArn=sqs.arn(dlq))["Results"]
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert task["ApproximateNumberOfMessagesToMove"] == 3
    assert "TaskHandle" not in task
    assert sqs.counts(dlq) == (0, 0, 0)
    moved = sqs.receive(source, MaxNumberOfMessages=10, AttributeNames=["All"])
    assert sorted(m["Body"] for m in moved) == ["m0", "m1", "m2"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in moved} == {"1"}


@pytest.mark.moto_differs(reason=MOVE_TASKS, skip=True)
def test_move_task_to_destination(sqs: Backend) -> None:
    _, dlq = dead_letters(sqs, 2)
    other = sqs.create("other")
    sqs.client.start_message_move_task(
        SourceArn=sqs.arn(dlq), DestinationArn=sqs.arn(other)
    )
    assert sqs.counts(other)[0] == 2


def test_rate_limited_move_task_and_cancel(memory_only: Backend) -> None:
    """Progress at MaxNumberOfMessagesPerSecond needs the fake clock."""
    sqs = memory_only
    _, dlq = dead_letters(sqs, 5)
    arn = sqs.arn(dlq)
    handle = sqs.client.start_message_move_task(
        SourceArn=arn, MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]
    (task,) = sqs.client.list_message_move_tasks(SourceArn=arn)["Results"]
    assert task["Status"] == "RUNNING"
    assert task["TaskHandle"] == handle
    assert task["MaxNumberOfMessagesPerSecond"] == 1
    assert task["ApproximateNumberOfMessagesMoved"] == 1
    error = error_of(lambda: sqs.client.start_message_move_task(SourceArn=arn))
    assert_error(error, "InvalidParameterValue")
    sqs.pass_time(2)
    moved = sqs.client.cancel_message_move_task(TaskHandle=handle)
    assert moved["ApproximateNumberOfMessagesMoved"] == 3
    (task,) = sqs.client.list_message_move_tasks(SourceArn=arn)["Results"]
    assert task["Status"] == "CANCELLED"
    assert sqs.counts(dlq)[0] == 2


@pytest.mark.moto_differs(reason=MOVE_TASKS, skip=True)
def test_move_task_needs_a_dead_letter_queue(sqs: Backend, queue: str) -> None:
    error = error_of(
        lambda: sqs.client.start_message_move_task(SourceArn=sqs.arn(queue))
    )
    assert_error(error, "InvalidParameterValue")


@pytest.mark.moto_differs(reason=MOVE_TASKS, skip=True)
def test_move_task_on_missing_queue(sqs: Backend, queue: str) -> None:
    arn = sqs.arn(queue) + "-missing"
    error = error_of(lambda: sqs.client.start_message_move_task(SourceArn=arn))
    assert_error(
        error, "ResourceNotFoundException", exception="ResourceNotFoundException"
    )


def test_dead_lettered_message_never_returns_to_source(sqs: Backend) -> None:
    for fifo in (False, True):
        source, dlq = with_dlq(sqs, 1, fifo=fifo)
        extra = {"MessageGroupId": "g", "MessageDeduplicationId": "d"} if fifo else {}
        send(sqs, source, "gone", **extra)
        sqs.receive(source, VisibilityTimeout=0)
        assert sqs.receive(source) == []
        (dead,) = sqs.receive(dlq, VisibilityTimeout=0)
        assert dead["Body"] == "gone"
        assert sqs.receive(source, MaxNumberOfMessages=10) == []
        assert sqs.counts(source) == (0, 0, 0)
        assert sqs.counts(dlq) == (1, 0, 0)
