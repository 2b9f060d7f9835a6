"""FIFO queues: group and deduplication ids, order, content-based dedup."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from sqs_workers import RawQueue, SQSEnv
from sqs_workers.queue import DEFAULT_MESSAGE_GROUP_ID
from sqs_workers.shutdown_policies import MaxTasksShutdown

from .helpers import (
    CallSpy,
    make_queue,
    process_until,
    queued_count,
    receive_n,
    run_in_thread,
)


def test_send_without_dedup_id_raises_before_sending(
    sqs: SQSEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = make_queue(sqs, "emails.fifo")
    sends = CallSpy(monkeypatch, sqs, "send_message")
    with pytest.raises(ClientError):
        queue.add_job("send_email", to="a")
    assert len(sends) == 0
    assert queued_count(queue) == 0


def test_dedup_id_and_default_group(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "emails.fifo")
    message_id = queue.add_job("send_email", _deduplication_id="d1", to="a")
    assert isinstance(message_id, str)
    (message,) = receive_n(queue, 1)
    assert message.attributes["MessageGroupId"] == DEFAULT_MESSAGE_GROUP_ID
    assert message.attributes["MessageGroupId"] == "default"
    assert message.attributes["MessageDeduplicationId"] == "d1"


def test_group_id(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "emails.fifo")

    @queue.processor("send_email")
    def send_email(to: str) -> None:
        pass

    send_email.delay(to="a", _deduplication_id="d1", _group_id="user@example.com")
    (message,) = receive_n(queue, 1)
    assert message.attributes["MessageGroupId"] == "user@example.com"
    assert message.attributes["MessageDeduplicationId"] == "d1"


def test_same_dedup_id_is_sent_once(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "emails.fifo")
    queue.add_job("send_email", _deduplication_id="same", to="a")
    queue.add_job("send_email", _deduplication_id="same", to="b")
    assert queued_count(queue) == 1


def test_content_based_deduplication(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "cb.fifo", content_based_deduplication=True)
    queue.add_job("send_email", _content_type="json", to="a")
    queue.add_job("send_email", _content_type="json", to="a")
    queue.add_job("send_email", _content_type="json", to="b")
    assert queued_count(queue) == 2


def test_order_is_kept_within_a_group(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "order.fifo")
    seen: list[int] = []
    queue.connect_processor("job", lambda n: seen.append(n))
    for n in range(6):
        queue.add_job("job", _deduplication_id=str(n), _group_id="g", n=n)
    process_until(queue, lambda: len(seen) == 6)
    assert seen == list(range(6))
    assert queued_count(queue) == 0


def test_fifo_batch_keeps_ids(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "batch.fifo")
    with queue.add_batch():
        for n in range(3):
            queue.add_job("job", _deduplication_id=f"d{n}", _group_id=f"g{n}", n=n)
        assert queued_count(queue) == 0
    messages = receive_n(queue, 3)
    ids = sorted(
        (m.attributes["MessageGroupId"], m.attributes["MessageDeduplicationId"])
        for m in messages
    )
    assert ids == [("g0", "d0"), ("g1", "d1"), ("g2", "d2")]


def test_raw_fifo_queue(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "raw.fifo", RawQueue)
    message_id = queue.add_raw_job("hello", deduplication_id="x")
    assert isinstance(message_id, str)
    queue.add_raw_job("other", deduplication_id="y", group_id="mine")
    messages = {m.body: m for m in receive_n(queue, 2)}
    assert messages["hello"].attributes["MessageGroupId"] == "default"
    assert messages["hello"].attributes["MessageDeduplicationId"] == "x"
    assert messages["other"].attributes["MessageGroupId"] == "mine"


def test_fifo_processing(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "proc.fifo")
    seen: list[Any] = []

    @queue.processor("job")
    def job(x: int) -> None:
        seen.append(x)

    job.delay(x=1, _deduplication_id="a")
    job.delay(x=2, _deduplication_id="b")
    process_until(queue, lambda: seen == [1, 2])
    assert queued_count(queue) == 0


def test_process_queue_keeps_the_order_within_a_group(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "worker.fifo")
    seen: list[tuple[str, int]] = []

    @queue.processor("job")
    def job(group: str, n: int) -> None:
        seen.append((group, n))

    with queue.add_batch():
        for n in range(4):
            for group in ("a", "b"):
                job.delay(
                    group=group, n=n, _group_id=group, _deduplication_id=f"{group}{n}"
                )
    run_in_thread(
        lambda: queue.process_queue(shutdown_policy=MaxTasksShutdown(8), wait_second=1)
    )
    for group in ("a", "b"):
        assert [n for g, n in seen if g == group] == [0, 1, 2, 3]


def test_content_based_fifo_by_url_needs_no_get_queue_attributes(
    sqs: SQSEnv, random_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Least-privilege IAM: SendMessage on a queue given by URL, nothing else.
    from sqs_workers import create_fifo_queue

    url = create_fifo_queue(sqs, "cb.fifo", content_based_deduplication=True)
    env = SQSEnv(session=sqs.session, queue_prefix=sqs.queue_prefix)

    def denied(**kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}},
            "GetQueueAttributes",
        )

    clients = [env.sqs_client, getattr(env.sqs_resource.meta, "client", None)]
    for client in filter(None, clients):
        monkeypatch.setattr(client, "get_queue_attributes", denied)
        monkeypatch.setattr(client, "get_queue_url", denied)
    queue = env.queue("cb.fifo", queue_url=url)
    assert isinstance(queue.add_job("job", _content_type="json", x=1), str)
    queue.add_job("job", _content_type="json", x=1)  # same content: deduplicated
    monkeypatch.undo()
    assert queued_count(sqs.queue("cb.fifo")) == 1
