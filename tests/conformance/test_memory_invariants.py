"""Random operation sequences against the in-memory SQS, checking its books.

Memory only: these look inside the engine (counters, timer heap, FIFO
groups) after every step, which a server cannot show.  Seeds are fixed so a
failure replays exactly.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from sqs_workers.memory.fifo import MemoryFifoQueue
from sqs_workers.memory.message import DELAYED, GONE, INFLIGHT, VISIBLE
from sqs_workers.memory.queue import MemoryQueue
from sqs_workers.memory_sqs import FakeClock, MemoryAWS, MemorySession


def check_books(queue: MemoryQueue) -> None:
    states = [m.state for m in queue.messages.values()]
    assert GONE not in states
    assert queue.n_visible == states.count(VISIBLE)
    assert queue.n_inflight == states.count(INFLIGHT)
    assert queue.n_delayed == states.count(DELAYED)
    items = queue.timers._items
    assert len(items) == queue.n_inflight + queue.n_delayed
    for index, message in enumerate(items):
        assert message.heap_pos == index
        assert message.state in (INFLIGHT, DELAYED)
        if index:
            assert not message < items[(index - 1) // 2]
    if isinstance(queue, MemoryFifoQueue):
        for group in queue.groups.values():
            live = [m for m in group.messages if m.state != GONE]
            assert group.inflight == sum(m.state == INFLIGHT for m in live)
            assert live or group.queued  # empty groups are forgotten
    else:
        visible_in_deque = {id(m) for m in queue.visible if m.state == VISIBLE}
        assert len(visible_in_deque) == queue.n_visible


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_random_operations_keep_the_books(seed: int, fifo: bool) -> None:
    rng = random.Random(seed)
    clock = FakeClock()
    aws = MemoryAWS(clock=clock)
    client = MemorySession(aws).client("sqs")
    dlq = client.create_queue(
        QueueName="dlq.fifo" if fifo else "dlq",
        Attributes={"FifoQueue": "true"} if fifo else {},
    )["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    attributes = {
        "MessageRetentionPeriod": "600",
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
        ),
    }
    if fifo:
        attributes.update(FifoQueue="true", ContentBasedDeduplication="true")
    url = client.create_queue(
        QueueName="q.fifo" if fifo else "q", Attributes=attributes
    )["QueueUrl"]
    handles: list[str] = []
    sent = 0
    for _ in range(400):
        action = rng.random()
        if action < 0.3:
            sent += 1
            kwargs: dict[str, Any] = {"QueueUrl": url, "MessageBody": f"m{sent}"}
            if fifo:
                kwargs["MessageGroupId"] = rng.choice("ABC")
            elif rng.random() < 0.3:
                kwargs["DelaySeconds"] = rng.randint(0, 50)
            client.send_message(**kwargs)
        elif action < 0.55:
            response = client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=rng.randint(1, 10),
                VisibilityTimeout=rng.choice([0, 5, 30, 60]),
            )
            handles += [m["ReceiptHandle"] for m in response.get("Messages", [])]
        elif action < 0.75 and handles:
            handle = handles.pop(rng.randrange(len(handles)))
            client.delete_message(QueueUrl=url, ReceiptHandle=handle)
        elif action < 0.85 and handles:
            handle = rng.choice(handles)
            try:
                client.change_message_visibility(
                    QueueUrl=url,
                    ReceiptHandle=handle,
                    VisibilityTimeout=rng.randint(0, 90),
                )
            except client.exceptions.MessageNotInflight:
                pass
            except client.exceptions.ClientError as error:
                assert "expired" in str(error)
        elif action < 0.93:
            clock.advance(rng.choice([1, 5, 20, 45, 120]))
        elif action < 0.96:
            response = client.receive_message(
                QueueUrl=dlq,
                MaxNumberOfMessages=10,
                VisibilityTimeout=rng.choice([0, 30]),
            )
            for message in response.get("Messages", []):
                if rng.random() < 0.5:
                    client.delete_message(
                        QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"]
                    )
        elif action < 0.99:
            try:
                client.start_message_move_task(
                    SourceArn=dlq_arn,
                    **(
                        {"MaxNumberOfMessagesPerSecond": 1}
                        if rng.random() < 0.5
                        else {}
                    ),
                )
            except client.exceptions.ClientError as error:
                assert "already a task running" in str(error)
        else:
            try:
                client.purge_queue(QueueUrl=url)
            except client.exceptions.PurgeQueueInProgress:
                pass
        for queue in aws.queues.values():
            queue.tick(clock.now())
            check_books(queue)
