"""Many threads on one SQS: no message lost, none processed twice.

Volume runs on memory; moto gets a small queue (it reads the clock once per
stored message on each call, and races concurrent DeleteMessage calls so a
deleted message can come back: on moto we check nothing is lost and that
every message was processed at least once).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from sqs_workers.memory_sqs import MemorySession

from .helpers import Backend


@pytest.fixture
def live(sqs: Backend) -> Backend:
    """The backend with real time: workers long-poll, and on a fake clock a
    long poll of an empty queue would wait for a clock.advance() forever."""
    if not sqs.memory:
        return sqs
    backend = Backend("memory", MemorySession().client("sqs"), None)
    backend.prefix = sqs.prefix
    return backend


def volume(sqs: Backend, memory: int, moto: int) -> int:
    return memory if sqs.memory else moto


def send_all(sqs: Backend, url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        response = sqs.client.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)
            ],
        )
        assert len(response["Successful"]) == len(chunk)


def consume(
    sqs: Backend, url: str, expected: int, threads: int, seen: Counter[str]
) -> None:
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            idle = 0
            while idle < 3:
                with lock:
                    if len(seen) >= expected:
                        return
                batch = sqs.receive(
                    url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    VisibilityTimeout=300,
                )
                if not batch:
                    idle += 1
                    continue
                idle = 0
                with lock:
                    seen.update(m["Body"] for m in batch)
                sqs.client.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(batch)
                    ],
                )
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in workers)


def test_every_message_processed_once(live: Backend) -> None:
    sqs = live
    queue = sqs.create()
    count = volume(sqs, 20_000, 60)
    bodies = [f"m{i}" for i in range(count)]
    send_all(sqs, queue, bodies)
    seen: Counter[str] = Counter()
    consume(sqs, queue, count, volume(sqs, 8, 4), seen)
    assert set(seen) == set(bodies)
    if sqs.memory:
        assert max(seen.values()) == 1
        assert sqs.counts(queue) == (0, 0, 0)


def test_producers_and_consumers_at_once(live: Backend) -> None:
    sqs = live
    queue = sqs.create()
    per_producer = volume(sqs, 3_000, 20)
    producers = 4
    expected = [f"p{p}-{i}" for p in range(producers) for i in range(per_producer)]
    seen: Counter[str] = Counter()

    def produce(p: int) -> None:
        send_all(sqs, queue, [f"p{p}-{i}" for i in range(per_producer)])

    senders = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in senders:
        thread.start()
    consume(sqs, queue, len(expected), volume(sqs, 6, 3), seen)
    for thread in senders:
        thread.join(timeout=60)
    if len(seen) < len(expected):  # consumers went idle before the last sends
        consume(sqs, queue, len(expected), 2, seen)
    assert set(seen) == set(expected)
    if sqs.memory:
        assert max(seen.values()) == 1


def test_fifo_groups_stay_ordered_under_concurrency(live: Backend) -> None:
    sqs = live
    url = sqs.create(fifo=True)
    groups = volume(sqs, 20, 3)
    per_group = volume(sqs, 200, 5)
    for i in range(per_group):
        entries = [
            {
                "Id": f"g{g}",
                "MessageBody": f"g{g}:{i}",
                "MessageGroupId": f"g{g}",
                "MessageDeduplicationId": f"g{g}-{i}",
            }
            for g in range(groups)
        ]
        for start in range(0, len(entries), 10):
            sqs.client.send_message_batch(
                QueueUrl=url, Entries=entries[start : start + 10]
            )
    order: dict[str, list[int]] = {f"g{g}": [] for g in range(groups)}
    lock = threading.Lock()
    total = groups * per_group
    done = threading.Event()

    def worker() -> None:
        idle = 0
        while not done.is_set() and idle < 5:
            batch = sqs.receive(url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            if not batch:
                idle += 1
                continue
            idle = 0
            with lock:
                for message in batch:
                    group, index = message["Body"].split(":")
                    order[group].append(int(index))
                if sum(map(len, order.values())) >= total:
                    done.set()
            for message in batch:
                sqs.client.delete_message(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
                )

    workers = [threading.Thread(target=worker) for _ in range(volume(sqs, 6, 3))]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    for indexes in order.values():
        assert indexes == list(range(per_group))


def test_failed_handlers_get_messages_back_exactly_once(memory_only: Backend) -> None:
    """Threads that do not delete (failing handlers) leave messages to come
    back after the visibility timeout; with the fake clock every message is
    redelivered once and then deleted once.  Memory only: it needs the fake
    clock to expire thousands of visibility timeouts at once."""
    sqs = memory_only
    url = sqs.create(VisibilityTimeout=30)
    count = 5_000
    send_all(sqs, url, [f"m{i}" for i in range(count)])
    attempts: Counter[str] = Counter()
    deleted: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        while True:
            batch = sqs.receive(url, MaxNumberOfMessages=10)
            if not batch:
                return
            for message in batch:
                with lock:
                    attempts[message["Body"]] += 1
                    first_try = attempts[message["Body"]] == 1
                if first_try:
                    continue  # the handler "failed": leave it in flight
                sqs.client.delete_message(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
                )
                with lock:
                    deleted[message["Body"]] += 1

    for _ in range(2):
        workers = [threading.Thread(target=worker) for _ in range(6)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=60)
        sqs.pass_time(30)
    assert len(attempts) == count
    assert set(attempts.values()) == {2}
    assert set(deleted.values()) == {1}
    assert len(deleted) == count
    assert sqs.counts(url) == (0, 0, 0)
