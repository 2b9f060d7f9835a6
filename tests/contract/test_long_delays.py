"""Delays longer than SQS's 15 minutes (issue 11): hops, then one run.

In memory on a fake clock: a 2-hour delay, step by step. On the moto server:
the hop length made small (``sqs_workers.delays.HOP_SECONDS``), a few
seconds of "long" delay.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_testing import CallCounter

from sqs_workers import IMMEDIATE_RETURN, MemorySession, SQSEnv
from sqs_workers.delays import DUE_ATTRIBUTE
from sqs_workers.memory import FakeClock, MemoryAWS
from sqs_workers.middleware import JobOutcome, JobRun, Middleware
from sqs_workers.payloads import LargePayloads
from sqs_workers.signing import SigningMiddleware

from .helpers import make_queue, process_until, queued_count, receive_n

TWO_HOURS = 2 * 60 * 60


class Seen(Middleware):
    """What the job hooks saw: receive counts at the start, outcome kinds."""

    def __init__(self) -> None:
        self.receive_counts: list[int] = []
        self.kinds: list[str] = []
        self.decoded = 0

    def before_decode(self, job: JobRun) -> None:
        self.decoded += 1

    def before_job(self, job: JobRun) -> None:
        self.receive_counts.append(job.receive_count)

    def after_job(self, job: JobRun, outcome: JobOutcome) -> None:
        self.kinds.append(outcome.kind)


def fake_clock_env(clock: FakeClock, **options: Any) -> SQSEnv:
    return SQSEnv(session=MemorySession(MemoryAWS(clock=clock)), **options)


def test_a_two_hour_delay_runs_once_when_due_and_never_reaches_the_dlq() -> None:
    clock = FakeClock()
    seen = Seen()
    env = fake_clock_env(clock, middleware=[seen])
    dlq = make_queue(env, "q-dlq")
    queue = make_queue(env, "q", redrive_policy=env.redrive_policy("q-dlq", 2))
    runs: list[float] = []
    queue.connect_processor("job", lambda: runs.append(clock.now()))
    queue.backoff_policy = IMMEDIATE_RETURN
    counter = CallCounter(env.sqs_client)
    due = clock.now() + TWO_HOURS
    queue.add_job("job", _delay_seconds=TWO_HOURS)
    while clock.now() < due + 120:
        queue.process_batch()
        clock.advance(60)
    assert len(runs) == 1
    assert due <= runs[0] < due + 60
    # Seven hops (at 15, 30, ..., 105 minutes), each a new message: the run
    # sees a first receive, and the redrive (2 receives) never triggered.
    assert counter.calls["SendMessage"] == 1 + 7
    assert seen.receive_counts == [1]
    assert seen.kinds == ["success"]  # no job hook for the hops
    assert seen.decoded == 1
    assert queued_count(queue) == 0
    assert queued_count(dlq) == 0


def test_a_long_delay_hops_on_the_due_time_attribute() -> None:
    clock = FakeClock()
    env = fake_clock_env(clock)
    queue = make_queue(env, "q")
    queue.add_job("job", _delay_seconds=TWO_HOURS)
    clock.advance(900)
    [message] = receive_n(queue, 1)
    assert float(message.message_attributes[DUE_ATTRIBUTE]["StringValue"]) == (
        clock.now() - 900 + TWO_HOURS
    )


def test_a_long_delayed_big_payload_is_fetched_once_when_due() -> None:
    clock = FakeClock()
    env = fake_clock_env(
        clock, codec="json", large_payloads=LargePayloads("b", threshold=1024)
    )
    s3 = env.session.client("s3")
    s3.create_bucket(Bucket="b")
    fetched: list[str] = []
    get_object = s3.get_object

    def counting_get(**kwargs: Any) -> Any:
        fetched.append(kwargs["Key"])
        return get_object(**kwargs)

    env.payload_store.client.get_object = counting_get  # type: ignore[union-attr]
    queue = make_queue(env, "q")
    runs: list[str] = []
    queue.connect_processor("job", lambda text: runs.append(text))
    queue.add_job("job", _delay_seconds=3600, text="x" * 4096)
    for _ in range(5):
        clock.advance(900)
        queue.process_batch()
    assert runs == ["x" * 4096]
    assert len(fetched) == 1  # hops carry the pointer on, unread
    assert s3.store.objects("b") == {}


def test_a_fifo_queue_refuses_a_long_delay_clearly(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "f.fifo")
    with pytest.raises(ClientError, match="FIFO"):
        queue.add_job("job", _deduplication_id="1", _delay_seconds=TWO_HOURS)
    assert queued_count(queue) == 0


def test_a_short_long_delay_hops_and_runs_once(
    sqs: SQSEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hops of at most 1 s: a 3 s delay takes at least two of them.
    monkeypatch.setattr("sqs_workers.delays.HOP_SECONDS", 1)
    seen = Seen()
    sqs.add_middleware(seen)
    dlq = make_queue(sqs, "q-dlq")
    queue = make_queue(sqs, "q", redrive_policy=sqs.redrive_policy("q-dlq", 2))
    queue.backoff_policy = IMMEDIATE_RETURN
    runs: list[float] = []
    queue.connect_processor("job", lambda: runs.append(time.time()))
    counter = CallCounter(sqs.sqs_client)
    sent_at = time.time()
    queue.add_job("job", _delay_seconds=3)
    process_until(queue, lambda: runs)
    assert runs[0] >= sent_at + 3  # never early (its due time is rounded up)
    assert counter.calls["SendMessage"] >= 3  # the send and two hops at least
    for _ in range(3):
        queue.process_batch()
    assert len(runs) == 1
    assert seen.receive_counts == [1]
    assert seen.kinds == ["success"]
    assert queued_count(dlq) == 0


def test_a_signed_long_delayed_job_keeps_its_signature_across_hops() -> None:
    clock = FakeClock()
    seen = Seen()
    env = fake_clock_env(clock, middleware=[SigningMiddleware(b"s" * 32), seen])
    queue = make_queue(env, "q")
    runs: list[int] = []
    queue.connect_processor("job", lambda n: runs.append(n))
    queue.add_job("job", _delay_seconds=3600, n=7)
    for _ in range(5):
        clock.advance(900)
        queue.process_batch()
    assert runs == [7]
    assert seen.kinds == ["success"]
