"""Receivers that scale with the round trip (issue 9): the adaptive rule on a
fake clock, then a worker growing them on a deep queue and shedding them on
an empty one, and a stop at full speed with several receives in flight."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqs_faults import FaultInjector

from sqs_workers import create_fifo_queue, create_standard_queue
from sqs_workers.sqs.acking import MAX_IN_FLIGHT
from sqs_workers.worker.receiver import (
    GROWTH_HOLD,
    JUDGED_RECEIVES,
    MAX_ADAPTIVE_RECEIVERS,
    SCALE_COOLDOWN,
    SLOW_RECEIVE,
    ReceiverScaler,
)

from .helpers import (
    first_seen,
    queue_counts,
    running_worker,
    stop_mid_drain,
    wait_until,
)

SLOW = SLOW_RECEIVE * 5  # a receive that took a real round trip
STEP = SCALE_COOLDOWN * 1.5  # past the cooldown


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def window(clock: Clock, scaler: ReceiverScaler, got: int = 10) -> list[int]:
    """A round trip (STEP) of receivers limited by the round trip: each
    working receiver's receive returns, spread over it (each bringing
    ``got``), so the rate grows with the receivers. The scaler's answers."""
    receivers = scaler.active
    answers = []
    for _ in range(receivers):
        clock.now += STEP / receivers
        answers.append(scaler.after_receive(got, 10, starved=True, took=SLOW))
    return answers


def test_full_slow_receives_that_found_the_jobs_starved_add_receivers() -> None:
    clock = Clock()
    scaler = ReceiverScaler(clock=clock)
    assert scaler.after_receive(10, 10, starved=True, took=SLOW) == 1
    assert scaler.active == 2
    # Within the cooldown: not even an empty receive changes anything yet.
    assert scaler.after_receive(0, 10, starved=True, took=SLOW) == 0
    for _ in range(40):
        window(clock, scaler)
    assert scaler.active == scaler.peak == MAX_ADAPTIVE_RECEIVERS


def test_a_receiver_that_brings_no_more_messages_goes_and_growth_waits() -> None:
    # Receives looked slow and full, but the rate did not rise with another
    # receiver: the round trip was not the limit (the CPU or the server is).
    clock = Clock()
    scaler = ReceiverScaler(clock=clock)
    clock.now += STEP
    assert scaler.after_receive(10, 10, starved=True, took=SLOW) == 1
    # Two receivers, each receive now taking twice as long: one returns per
    # STEP, the same rate as with one. (The first receive of each receiver
    # after the change settles; the window starts after them.)
    for _ in range(2 + JUDGED_RECEIVES * 2 - 1):
        clock.now += STEP
        assert scaler.after_receive(10, 10, starved=True, took=SLOW) == 0
    clock.now += STEP
    assert scaler.after_receive(10, 10, starved=True, took=SLOW) == -1
    assert scaler.active == 1
    undone_at = clock.now
    while clock.now + STEP < undone_at + GROWTH_HOLD:
        assert window(clock, scaler) == [0]  # held: no receiver added
    clock.now = undone_at + GROWTH_HOLD
    assert scaler.after_receive(10, 10, starved=True, took=SLOW) == 1  # tries again


@pytest.mark.parametrize(
    ("got", "starved", "took"),
    [
        (10, False, SLOW),  # the jobs still had work: receives keep up
        (10, True, SLOW_RECEIVE / 10),  # a fast receive: the CPU limits
        (7, True, SLOW),  # not full: the queue has no more to give
    ],
)
def test_no_receiver_is_added_when_more_would_not_help(
    got: int, starved: bool, took: float
) -> None:
    scaler = ReceiverScaler(clock=Clock())
    assert scaler.after_receive(got, 10, starved, took) == 0
    assert scaler.active == 1


def test_poor_receives_shed_receivers_down_to_one() -> None:
    clock = Clock()
    scaler = ReceiverScaler(clock=clock)
    while scaler.active < 4:
        window(clock, scaler)
    assert scaler.active == 4
    window(clock, scaler)  # each receiver's first receive since the change
    clock.now += STEP
    assert scaler.after_receive(5, 10, starved=True, took=SLOW) == 0  # half: kept
    assert scaler.after_receive(4, 10, starved=True, took=SLOW) == -1
    assert scaler.active == 3
    for _ in range(10):
        clock.now += STEP
        scaler.after_receive(0, 10, starved=True, took=SLOW)
    assert scaler.active == 1  # the last receiver always stays
    assert scaler.peak == 4


def test_adaptive_receivers_grow_on_a_deep_queue_and_shrink_on_an_empty_one(
    sqs: Any, backend: str
) -> None:
    count = 400 if backend == "memory" else 60
    create_standard_queue(sqs, "deep", visibility_timeout=30)
    queue = sqs.queue("deep")
    done: list[int] = []
    held: list[int] = []  # messages the worker held, seen from each job
    holds: list[Any] = []

    @queue.processor("noop")
    def noop(n: int) -> None:
        done.append(n)
        if holds:
            held.append(holds[0]())

    with queue.add_batch():
        for n in range(count):
            noop.delay(n=n)
    # Every call takes a round trip (10 ms), as a real endpoint's would.
    FaultInjector(queue.client, rate=0.0, latency=0.01)
    with running_worker(queue) as worker:
        wait_until(worker.started.is_set, what="worker started")
        (runtime,) = worker._runtimes
        holds.append(lambda: worker._dispatcher.holds(runtime))
        (pool,) = worker._receivers
        wait_until(lambda: len(done) >= count, what="all jobs")
        assert pool.scaler is not None
        assert pool.scaler.peak >= 2
        # The prefetch bound grew with the receivers, and held.
        assert max(held) <= 1 + 10 * (pool.scaler.peak + 1)
        # Empty long polls (1 s) shed the extra receivers one by one.
        wait_until(lambda: pool.active() == 1, what="back to one receiver")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="all deleted")
    if backend == "memory":
        assert sorted(done) == list(range(count))
    else:  # moto may hand one message to two concurrent receives
        assert set(done) == set(range(count))


def test_a_fixed_number_of_receivers_stays_fixed(sqs: Any) -> None:
    create_standard_queue(sqs, "q", visibility_timeout=30)
    queue = sqs.queue("q")
    with running_worker(queue, receivers=3) as worker:
        wait_until(worker.started.is_set, what="worker started")
        (pool,) = worker._receivers
        assert pool.scaler is None
        assert pool.active() == 3


def test_a_stop_at_full_speed_with_receives_in_flight_loses_nothing(
    sqs: Any, backend: str
) -> None:
    # Adaptive receivers at a 10 ms round trip: several receives and ack
    # batches in flight when the warm stop comes. Each job that ran is
    # deleted once; the rest are receivable again at once.
    count = 400 if backend == "memory" else 50
    create_standard_queue(sqs, "drain", visibility_timeout=30)
    queue = sqs.queue("drain")
    FaultInjector(queue.client, rate=0.0, latency=0.01)
    # moto may hand one message to two concurrent receives (a race of its
    # own): one receive at a time there; in memory, adaptive receivers.
    receivers = None if backend == "memory" else 1
    ran, deleted = stop_mid_drain(
        queue, backend, count, 0.001, concurrency=4, wait_seconds=0, receivers=receivers
    )
    assert len(ran) < count, "stopped too late to be a stop mid-drain"
    assert all(times == 1 for times in deleted.values())
    assert len(deleted) == len(ran) == len(set(ran))
    assert queue_counts(queue) == (count - len(ran), 0)


def test_fifo_order_holds_with_receives_in_flight(sqs: Any, backend: str) -> None:
    create_fifo_queue(sqs, "f.fifo", content_based_deduplication=True)
    queue = sqs.queue("f.fifo")
    events: list[tuple[str, int]] = []
    lock = threading.Lock()

    @queue.processor("step")
    def step(group: str, seq: int) -> None:
        with lock:
            events.append((group, seq))

    groups = [f"g{n}" for n in range(6)]
    with queue.add_batch():
        for seq in range(8):
            for group in groups:
                step.delay(group=group, seq=seq, _group_id=group)
    FaultInjector(queue.client, rate=0.0, latency=0.01)
    # moto's FIFO receive checks the groups in flight without a lock, so two
    # concurrent receives may share a group (its race, not SQS's): one
    # receive at a time there; adaptive receivers in memory.
    receivers = None if backend == "memory" else 1
    with running_worker(queue, concurrency=4, receivers=receivers):
        wait_until(
            lambda: sum(len(v) for v in first_seen(events).values()) == 48,
            what="all jobs",
        )
    assert first_seen(events) == {g: list(range(8)) for g in groups}


def test_deletes_in_flight_keep_up_with_eight_receivers(sqs: Any, backend: str) -> None:
    # Each full receive becomes a delete batch a round trip later: with 8
    # receives in flight, deletes need about as many in flight, not the
    # acker's default 4 (which capped a queue at 40 deletes per round trip).
    if backend != "memory":
        pytest.skip("moto serves a few hundred jobs/s: one delete in flight does")
    count = 1200
    create_standard_queue(sqs, "wide", visibility_timeout=30)
    queue = sqs.queue("wide")
    done: list[int] = []

    @queue.processor("noop")
    def noop(n: int) -> None:
        done.append(n)

    with queue.add_batch():
        for n in range(count):
            noop.delay(n=n)
    deletes = {"now": 0, "most": 0}
    lock = threading.Lock()

    def round_trip(model: Any, **_: Any) -> None:
        # Every call takes 20 ms; deletes are counted while they take it.
        delete = model.name == "DeleteMessageBatch"
        if delete:
            with lock:
                deletes["now"] += 1
                deletes["most"] = max(deletes["most"], deletes["now"])
        time.sleep(0.02)
        if delete:
            with lock:
                deletes["now"] -= 1

    queue.client.meta.events.register("before-call.sqs.*", round_trip)
    with running_worker(queue, receivers=8, wait_seconds=0):
        wait_until(lambda: len(done) >= count, what="all jobs")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="all deleted")
    assert deletes["most"] > MAX_IN_FLIGHT
    assert sorted(done) == list(range(count))
