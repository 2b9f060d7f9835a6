"""The Dispatcher's own rules, on its injected clock (no threads, no SQS):
concurrency, prefetch expiry, FIFO groups, fairness between queues."""

from __future__ import annotations

import pytest

from sqs_workers import MemorySession, SQSEnv
from sqs_workers.sqs.message import Message
from sqs_workers.worker.dispatcher import Dispatcher
from sqs_workers.worker.jobs import Job, QueueRuntime

VISIBILITY = 30


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A dispatcher whose started and released jobs land in lists."""

    def __init__(self, names: list[str], concurrency: int, prefetch: int = 20):
        env = SQSEnv(session=MemorySession())
        self.clock = Clock()
        self.runtimes = [
            QueueRuntime(env.queue(name), f"url/{name}", VISIBILITY, None)  # type: ignore[arg-type]
            for name in names
        ]
        self.started: list[Job] = []
        self.released: list[Job] = []
        self.dispatcher = Dispatcher(
            self.runtimes,
            concurrency,
            prefetch,
            self.started.extend,
            self.released.extend,
            clock=self.clock,
        )
        self._ids = 0

    def job(self, runtime: QueueRuntime, group: str | None = None) -> Job:
        self._ids += 1
        attributes = {"MessageGroupId": group} if group is not None else {}
        raw = {
            "MessageId": f"{runtime.name}-{self._ids}",
            "ReceiptHandle": f"rh-{self._ids}",
            "Body": "{}",
            "Attributes": attributes,
        }
        message = Message(None, runtime.url, raw)
        now = self.clock.now
        return Job(runtime, message, now, now + VISIBILITY)

    def put(self, runtime: QueueRuntime, jobs: list[Job]) -> None:
        asked = self.dispatcher.wait_for_room(runtime)
        assert asked >= len(jobs)
        refused, _ = self.dispatcher.put(runtime, jobs, asked)
        assert refused == []

    def names(self, jobs: list[Job]) -> list[str]:
        return [job.message.message_id for job in jobs]


def test_at_most_concurrency_jobs_start_and_a_finished_one_makes_room() -> None:
    h = Harness(["a"], concurrency=2)
    (a,) = h.runtimes
    jobs = [h.job(a) for _ in range(5)]
    h.put(a, jobs)
    assert h.started == jobs[:2]
    released, following = h.dispatcher.done(jobs[0], True, take_next=True)
    assert released == [] and following is jobs[2]  # handed to the same thread
    assert h.started == jobs[:2]
    assert h.dispatcher.running() == 2


def test_a_job_that_waited_past_its_visibility_is_released_not_started() -> None:
    h = Harness(["a"], concurrency=1)
    (a,) = h.runtimes
    first, stale, fresh = h.job(a), h.job(a), h.job(a)
    fresh.deadline = h.clock.now + 2 * VISIBILITY  # the heartbeat extended it
    h.put(a, [first, stale, fresh])
    assert h.started == [first]
    h.clock.now += VISIBILITY  # ``stale`` waited its whole visibility timeout
    h.dispatcher.done(first, True)
    assert h.started == [first, fresh]
    assert h.released == [stale]  # made visible again at once, not left to loop
    assert h.dispatcher.holds(a) == 1  # only ``fresh``


def test_a_job_close_to_its_visibility_end_is_not_started() -> None:
    h = Harness(["a"], concurrency=1)
    (a,) = h.runtimes
    first, late = h.job(a), h.job(a)
    h.put(a, [first, late])
    h.clock.now += VISIBILITY - 0.5  # within the margin (1 s) of its end
    h.dispatcher.done(first, True)
    assert h.released == [late]


def test_fifo_groups_run_one_job_at_a_time_in_order() -> None:
    h = Harness(["a.fifo"], concurrency=4)
    (a,) = h.runtimes
    g1 = [h.job(a, "g1") for _ in range(3)]
    g2 = [h.job(a, "g2")]
    h.put(a, [g1[0], g1[1], g2[0], g1[2]])
    assert h.names(h.started) == h.names([g1[0], g2[0]])
    h.dispatcher.done(g1[0], True)
    assert h.started[-1] is g1[1]
    h.dispatcher.done(g1[1], True)
    assert h.started[-1] is g1[2]


def test_a_failed_fifo_job_releases_the_rest_of_its_group() -> None:
    h = Harness(["a.fifo"], concurrency=4)
    (a,) = h.runtimes
    g1 = [h.job(a, "g1") for _ in range(3)]
    h.put(a, g1)
    assert h.started == [g1[0]]
    released, _ = h.dispatcher.done(g1[0], False)
    # Its later jobs must not overtake it: back to SQS, in order.
    assert released == g1[1:]
    assert h.started == [g1[0]]
    assert h.dispatcher.holds_nothing()


def test_a_stale_fifo_job_releases_its_group_mates_too() -> None:
    h = Harness(["a.fifo"], concurrency=1)
    (a,) = h.runtimes
    blocker = h.job(a, "other")
    g1 = [h.job(a, "g1") for _ in range(2)]
    h.put(a, [blocker, *g1])
    h.clock.now += VISIBILITY
    h.dispatcher.done(blocker, True)
    assert h.released == g1
    assert h.dispatcher.holds_nothing()


def test_queues_take_turns() -> None:
    h = Harness(["a", "b"], concurrency=1)
    a, b = h.runtimes
    a_jobs = [h.job(a) for _ in range(3)]
    b_jobs = [h.job(b) for _ in range(3)]
    h.put(a, a_jobs)
    h.put(b, b_jobs)
    for _ in range(5):
        h.dispatcher.done(h.started[-1], True)
    # A busy queue cannot starve the other: they alternate.
    assert [job.runtime.name for job in h.started] == ["a", "b", "a", "b", "a", "b"]


@pytest.mark.parametrize("paused", [True, False])
def test_stop_hands_back_every_job_not_started(paused: bool) -> None:
    h = Harness(["a"], concurrency=1)
    (a,) = h.runtimes
    jobs = [h.job(a) for _ in range(3)]
    h.put(a, jobs)
    if paused:
        h.dispatcher.pause()
    unstarted = h.dispatcher.stop()
    assert unstarted == jobs[1:]
    assert h.dispatcher.wait_for_room(a) == 0  # receivers stop
    h.dispatcher.done(jobs[0], True)
    assert h.dispatcher.holds_nothing()
