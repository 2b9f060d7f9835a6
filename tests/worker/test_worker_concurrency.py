"""Concurrency: N sync jobs really overlap; async jobs share one event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from sqs_workers import create_standard_queue
from sqs_workers.processors import Processor

from .helpers import running_worker, wait_until


def make_queue(sqs: Any, name: str = "q") -> Any:
    create_standard_queue(sqs, name, visibility_timeout=30)
    return sqs.queue(name)


def test_sync_jobs_overlap_up_to_concurrency(sqs: Any) -> None:
    queue = make_queue(sqs)
    concurrency = 4
    barrier = threading.Barrier(concurrency, timeout=10)
    lock = threading.Lock()
    active, peak, done = [0], [0], []

    @queue.processor("meet")
    def meet(n: int) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            if n < concurrency:  # passes only if `concurrency` jobs run at once
                barrier.wait()
        finally:
            with lock:
                active[0] -= 1
        done.append(n)

    with queue.add_batch():
        for n in range(concurrency + 6):
            meet.delay(n=n)
    with running_worker(queue, concurrency=concurrency):
        wait_until(lambda: len(set(done)) == concurrency + 6, what="all jobs")
    assert peak[0] == concurrency  # all of them, and never more


def test_async_jobs_run_together_on_one_loop_thread(sqs: Any) -> None:
    queue = make_queue(sqs)
    count = 40
    started: list[int] = []
    threads: set[int] = set()

    @queue.processor("gather")
    async def gather(n: int) -> None:
        started.append(n)
        threads.add(threading.get_ident())
        deadline = time.monotonic() + 10
        while len(started) < count:  # needs all `count` in flight at once
            if time.monotonic() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.005)

    with queue.add_batch():
        for n in range(count):
            gather.delay(n=n)
    with running_worker(queue, concurrency=count) as worker:
        wait_until(lambda: len(set(started)) >= count, what="all started")
        wait_until(lambda: worker.running_jobs() == 0, what="all finished")
        wait_until(lambda: worker.holds_nothing(), what="all acked")
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert worker._threads.thread_count == 0  # no thread pool for async jobs


def test_sync_and_async_share_a_queue(sqs: Any) -> None:
    queue = make_queue(sqs)
    async_ran = threading.Event()
    order: list[str] = []

    @queue.processor("blocking")
    def blocking() -> None:
        # Blocks a worker thread until the async job ran: both must be live.
        assert async_ran.wait(10)
        order.append("sync")

    @queue.processor("awaiting")
    async def awaiting() -> None:
        await asyncio.sleep(0)
        order.append("async")
        async_ran.set()

    blocking.delay()
    awaiting.delay()
    with running_worker(queue, concurrency=2):
        wait_until(lambda: len(order) == 2, what="both jobs")
    assert order == ["async", "sync"]


def test_custom_processor_subclass_still_called(sqs: Any) -> None:
    calls: list[Any] = []

    class Wrapping(Processor):
        def process(self, job_kwargs: dict[str, Any]) -> Any:  # type: ignore[override]
            calls.append(dict(job_kwargs))
            return super().process(job_kwargs)

    sqs.processor_maker = Wrapping
    queue = make_queue(sqs)
    ran: list[int] = []

    @queue.processor("coro")
    async def coro(n: int) -> None:  # run through the override, in a thread
        ran.append(n)

    coro.delay(n=7)
    with running_worker(queue, concurrency=4):
        wait_until(lambda: ran == [7], what="the job")
    assert calls == [{"n": 7}]


def test_raw_queue_with_async_processor(sqs: Any) -> None:
    from sqs_workers import RawQueue

    create_standard_queue(sqs, "raw", visibility_timeout=30)
    queue = sqs.queue("raw", RawQueue)
    bodies: list[str] = []

    @queue.raw_processor()
    async def handle(message: Any) -> None:
        await asyncio.sleep(0)
        bodies.append(message.body)

    for body in ("a", "b", "c"):
        queue.add_raw_job(body)
    with running_worker(queue, concurrency=3):
        wait_until(lambda: len(bodies) == 3, what="raw jobs")
    assert sorted(bodies) == ["a", "b", "c"]


def test_default_process_queue_still_one_at_a_time(sqs: Any) -> None:
    from sqs_workers.shutdown_policies import IdleShutdown

    queue = make_queue(sqs)
    lock = threading.Lock()
    active, peak, done = [0], [0], []

    @queue.processor("one")
    def one(n: int) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1
        done.append(n)

    with queue.add_batch():
        for n in range(12):
            one.delay(n=n)
    queue.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
    assert sorted(set(done)) == list(range(12))
    assert peak[0] == 1
