"""Concurrency 1 on an endpoint that hardly waits: the run() thread receives
and sends full ack batches itself, the receivers parked (InlineReceiver).

First the rule, on fake clocks with a real queue (the wait of a receive is
its wall time less its CPU time; a client hook adds a round trip to the
wall clock), then the worker choosing it on its own, and a stop mid-drain.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqs_faults import FaultInjector

from sqs_workers import create_standard_queue
from sqs_workers.sqs.acking import Acker
from sqs_workers.worker.dispatcher import Dispatcher
from sqs_workers.worker.jobs import Job, QueueRuntime
from sqs_workers.worker.receiver import (
    INLINE_HOLD,
    INLINE_RETRY,
    INLINE_WAIT,
    SLOW_IN_A_ROW,
    InlineReceiver,
)

from .helpers import (
    CallCounter,
    queue_counts,
    running_worker,
    stop_mid_drain,
    wait_until,
)


class Clocks:
    """A wall clock and a CPU clock that move only when told to; each
    ReceiveMessage call adds ``round_trip`` to the wall clock only (a wait)."""

    def __init__(self, client: Any) -> None:
        self.wall = 100.0
        self.cpu = 5.0
        self.round_trip = 0.0
        client.meta.events.register("before-call.sqs.ReceiveMessage", self._call)

    def _call(self, **_: Any) -> None:
        self.wall += self.round_trip
        self.cpu += 0.00005  # the call's own CPU does not count as waiting


class Rig:
    """One queue's runtime, a dispatcher at concurrency 1 and an
    InlineReceiver, driven by hand: ``run_started`` finishes the jobs the
    dispatcher started, as the run() thread would."""

    def __init__(self, sqs: Any, name: str, count: int, prefetch: int = 20) -> None:
        create_standard_queue(sqs, name, visibility_timeout=30)
        queue = sqs.queue(name)
        with queue.add_batch():
            for n in range(count):
                queue.add_job("job", n=n)
        self.queue = queue
        self.clocks = Clocks(queue.client)
        url = queue.get_queue_url()
        acker = Acker(queue.client, url, queue.name, max_delay=0.05)
        self.runtime = QueueRuntime(queue, url, 30, acker)
        self.started: list[Job] = []
        # Whether started jobs are the run() thread's (sync handlers) or run
        # elsewhere (async ones, on the event loop).
        self.runs_here = True
        self.released: list[Job] = []
        self.dispatcher = Dispatcher(
            [self.runtime], 1, prefetch, self.started.extend, self.released.extend
        )
        self.inline = InlineReceiver(
            self.runtime,
            self.dispatcher,
            lambda _runtime, jobs: self.released.extend(jobs),
            lambda: self.runs_here and bool(self.started),
            clock=lambda: self.clocks.wall,
            cpu_clock=lambda: self.clocks.cpu,
        )
        self.calls = CallCounter(queue.client).calls

    def run_started(self) -> int:
        """Finish every started job (and those the dispatcher starts next)."""
        ran = 0
        while self.started:
            job = self.started.pop()
            self.dispatcher.done(job, True)
            ran += 1
        return ran

    def parked(self) -> bool:
        """Whether a receiver asking for room now would wait (the check a
        receiver makes in ``wait_for_room``)."""
        with self.dispatcher._lock:
            return not self.dispatcher._receivable(id(self.runtime))

    def close(self) -> None:
        self.runtime.acker.close()


@pytest.fixture
def rig(sqs: Any) -> Any:
    rigs: list[Rig] = []

    def make(name: str, count: int, prefetch: int = 20) -> Rig:
        rigs.append(Rig(sqs, name, count, prefetch))
        return rigs[-1]

    yield make
    for made in rigs:
        made.close()


def test_a_deep_queue_is_received_on_the_run_thread_receivers_parked(
    rig: Any,
) -> None:
    r = rig("deep", 25)
    assert r.inline.feed()  # 10 received here, the first started
    assert r.inline.active
    assert r.parked()
    assert r.runtime.acker.send_full_here
    assert r.run_started() == 10
    assert r.inline.feed() and r.run_started() == 10
    # 5 left: a short receive means drained; the receivers take over again
    # (they long-poll and report the queue empty), not held.
    assert r.inline.feed() and r.run_started() == 5
    assert not r.inline.active
    assert not r.parked()
    assert not r.runtime.acker.send_full_here
    assert r.calls["ReceiveMessage"] == 3
    assert not r.inline.feed()  # looks drained: the receivers' turn
    assert r.calls["ReceiveMessage"] == 3


def test_a_first_receive_that_waits_hands_the_queue_back_and_holds(
    rig: Any,
) -> None:
    # No quick receive yet: the first one that waits is a round trip (a
    # remote endpoint), and each more try would cost one.
    r = rig("slow", 200)
    r.clocks.round_trip = INLINE_WAIT * 5
    assert r.inline.feed()
    r.run_started()
    assert not r.inline.active
    assert not r.parked()
    # Held for INLINE_RETRY, then twice as long after each try that fails
    # in turn, up to INLINE_HOLD: a deep queue is not received here meanwhile.
    holds = []
    hold = INLINE_RETRY
    while len(holds) < 6:
        holds.append(hold)
        receives = r.calls["ReceiveMessage"]
        r.clocks.wall += hold * 0.9
        assert not r.inline.feed()
        assert r.calls["ReceiveMessage"] == receives
        r.clocks.wall += hold * 0.2
        assert r.inline.feed()  # tried again: one receive, slow again
        r.run_started()
        assert r.calls["ReceiveMessage"] == receives + 1
        assert not r.inline.active
        hold = min(hold * 2, INLINE_HOLD)
    assert holds[-1] == INLINE_HOLD
    # The endpoint came close: the next try keeps the queue, and the hold
    # starts again from INLINE_RETRY.
    r.clocks.wall += INLINE_HOLD * 1.1
    r.clocks.round_trip = 0.0
    assert r.inline.feed()
    assert r.inline.active
    r.run_started()
    r.clocks.round_trip = INLINE_WAIT * 5
    for _ in range(SLOW_IN_A_ROW):
        assert r.inline.feed()
        r.run_started()
    assert not r.inline.active
    r.clocks.wall += INLINE_RETRY * 1.1
    r.clocks.round_trip = 0.0
    assert r.inline.feed()
    assert r.inline.active


def test_after_quick_receives_only_several_slow_ones_in_a_row_hand_back(
    rig: Any,
) -> None:
    # Once receives were quick, one that looks slow may be a GIL wait or a
    # pause; SLOW_IN_A_ROW in a row are a round trip.
    r = rig("spiky", 100)
    pattern = [False] + [True] * (SLOW_IN_A_ROW - 1) + [False]
    pattern += [True] * (SLOW_IN_A_ROW - 1)
    for slow in pattern:
        r.clocks.round_trip = INLINE_WAIT * 5 if slow else 0.0
        assert r.inline.feed()
        r.run_started()
        assert r.inline.active
    assert r.inline.feed()  # the SLOW_IN_A_ROW-th in a row
    r.run_started()
    assert not r.inline.active


def test_a_failed_receive_gives_the_room_back_and_the_queue_to_the_receivers(
    rig: Any,
) -> None:
    r = rig("failing", 30)
    faults = FaultInjector(
        r.queue.client, rate=1.0, lost_share=0.0, actions={"ReceiveMessage"}
    )
    assert not r.inline.feed()
    assert not r.inline.active
    assert not r.parked()  # they retry with backoff (and report a lost queue)
    assert faults.injected
    # Room given back: a receiver may take a full receive.
    assert r.dispatcher._free(id(r.runtime)) == r.dispatcher.capacity
    faults.enabled = False
    assert not r.inline.feed()  # held after a failure
    r.clocks.wall += INLINE_HOLD * 1.1
    assert r.inline.feed()


def test_no_room_for_jobs_run_elsewhere_gives_the_queue_back(rig: Any) -> None:
    r = rig("full", 30, prefetch=9)  # capacity 10: one receive fills it
    assert r.inline.feed()
    assert r.inline.active
    # No room, taken by jobs handed to the run() thread: it runs them and
    # comes back; the receivers stay parked.
    assert not r.inline.feed()
    assert r.inline.active
    # No room, taken by jobs that run elsewhere (async handlers on the event
    # loop, or a paused worker): the receivers wait for room instead.
    r.runs_here = False
    assert not r.inline.feed()
    assert not r.inline.active
    assert not r.dispatcher._parked[id(r.runtime)]
    assert r.calls["ReceiveMessage"] == 1


def test_a_full_ack_batch_is_sent_by_the_thread_that_filled_it(sqs: Any) -> None:
    create_standard_queue(sqs, "here", visibility_timeout=30)
    queue = sqs.queue("here")
    with queue.add_batch():
        for n in range(10):
            queue.add_job("job", n=n)
    messages = queue.get_raw_messages(wait_seconds=0, max_messages=10)
    callers: list[int] = []
    queue.client.meta.events.register(
        "before-call.sqs.DeleteMessageBatch",
        lambda **_: callers.append(threading.get_ident()),
    )
    acker = Acker(queue.client, queue.get_queue_url(), queue.name, max_delay=60)
    acker.send_full_here = True
    try:
        for message in messages:
            acker.delete(message)
        # Sent before the tenth delete() returned, from this thread, and
        # confirmed (no timer, no sender thread).
        assert callers == [threading.get_ident()]
        assert acker.pending() == 0
        assert queue_counts(queue) == (0, 0)
    finally:
        acker.close()


def drain_recording_threads(
    queue: Any, count: int, latency: float = 0.0, **options: Any
) -> tuple[int, list[int], list[int], list[int]]:
    """Drain ``count`` no-op jobs with a worker (its defaults, or
    ``options``; every call held ``latency`` seconds first); the run()
    thread, the threads that received and deleted (one entry per call), and
    the jobs that ran."""
    runner: list[int] = []
    done: list[int] = []

    @queue.processor("noop")
    def noop(n: int) -> None:
        runner[:] = [threading.get_ident()]
        done.append(n)

    with queue.add_batch():
        for n in range(count):
            noop.delay(n=n)
    receives: list[int] = []
    deletes: list[int] = []
    events = queue.client.meta.events
    events.register(
        "before-call.sqs.ReceiveMessage",
        lambda **_: receives.append(threading.get_ident()),
    )
    events.register(
        "before-call.sqs.DeleteMessageBatch",
        lambda **_: deletes.append(threading.get_ident()),
    )
    if latency:
        FaultInjector(queue.client, rate=0.0, latency=latency)
    with running_worker(queue, wait_seconds=0, **options):
        wait_until(lambda: len(done) >= count, what="all jobs")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="all deleted")
    (run_thread,) = runner
    return run_thread, receives, deletes, done


def test_in_memory_the_default_receives_and_deletes_on_the_run_thread(
    sqs: Any, backend: str
) -> None:
    # A receive from the in-memory SQS waits for nothing: the run() thread
    # receives and deletes itself from the first receive to the last full
    # one. (The moto server's waits depend on the machine: see the next
    # test for a round trip.)
    if backend != "memory":
        pytest.skip("an in-process SQS only: a server's waits vary")
    count = 500
    create_standard_queue(sqs, "near", visibility_timeout=30)
    queue = sqs.queue("near")
    run_thread, receives, deletes, done = drain_recording_threads(queue, count)
    assert receives[: count // 10] == [run_thread] * (count // 10)
    assert deletes.count(run_thread) == count // 10
    assert sorted(done) == list(range(count))


def test_a_round_trip_keeps_the_receives_on_the_receiver_threads(
    sqs: Any, backend: str
) -> None:
    # Every call held 5 ms: a round trip worth overlapping with the jobs.
    # The run() thread tries one receive, then hands the queue back to the
    # receivers and does not try again for INLINE_HOLD.
    count = 150 if backend == "memory" else 40
    create_standard_queue(sqs, "far", visibility_timeout=30)
    queue = sqs.queue("far")
    run_thread, receives, _, done = drain_recording_threads(queue, count, 0.005)
    assert receives.count(run_thread) == 1
    assert len(receives) > 2
    # moto may hand a message out again when its delete races a receive (its
    # race, not SQS's): each job ran, maybe one twice.
    assert set(done) == set(range(count))


def test_fixed_receivers_keep_receiving_themselves(sqs: Any) -> None:
    create_standard_queue(sqs, "fixed", visibility_timeout=30)
    queue = sqs.queue("fixed")
    run_thread, receives, _, done = drain_recording_threads(queue, 30, receivers=1)
    assert run_thread not in receives
    assert set(done) == set(range(30))


def test_a_stop_mid_drain_on_the_run_thread_loses_nothing(
    sqs: Any, backend: str
) -> None:
    # At the defaults in memory the run() thread receives and deletes: a
    # warm stop halfway through still deletes each job that ran once, and
    # leaves the rest receivable at once.
    count = 400 if backend == "memory" else 40
    create_standard_queue(sqs, "stop", visibility_timeout=30)
    queue = sqs.queue("stop")
    ran, deleted = stop_mid_drain(queue, backend, count, 0.0005, wait_seconds=0)
    assert len(ran) < count, "stopped too late to be a stop mid-drain"
    assert all(times == 1 for times in deleted.values())
    assert len(deleted) == len(ran) == len(set(ran))
    assert queue_counts(queue) == (count - len(ran), 0)
