"""Where jobs run: the run() thread itself, a pool of worker threads, and
one asyncio event loop.

At concurrency 1, sync jobs run inline on the thread that called
``Worker.run()`` (as the original package did), so its thread-local state and
``signal`` handlers apply to them. Otherwise they run on the pool. The pool
and the loop are started lazily (a queue of async jobs never starts a thread
pool, and the other way round) and both are long-lived: no thread is created
per job. The pool grows up to its size only while all its threads are busy.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from sqs_workers.worker.jobs import Job

logger = logging.getLogger(__name__)

_STOP = None


class ThreadRunners:
    """Up to ``size`` threads, each running ``run(job)`` for one job at a time.

    ``run`` may return the next job to run on the same thread (the
    dispatcher's continuation), which then needs no hand-over.
    """

    def __init__(self, size: int, run: Callable[[Job], Job | None], name: str) -> None:
        self._size = size
        self._run = run
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._busy = 0  # submitted and not finished
        self._spawned = 0
        # Threads given up on (a job past its hard time limit, stuck): they
        # no longer count, and exit if their job ever returns.
        self._lost: set[int] = set()

    def submit(self, job: Job) -> None:
        with self._lock:
            self._busy += 1
            if self._busy > len(self._threads) and len(self._threads) < self._size:
                self._spawn()
        self._jobs.put(job)

    def _spawn(self) -> None:
        thread = threading.Thread(
            target=self._loop,
            name=f"{self._name}-{self._spawned}",
            daemon=True,  # a cold stop must not wait for a stuck handler
        )
        self._spawned += 1
        self._threads.append(thread)
        thread.start()

    def _loop(self) -> None:
        get, run, lock = self._jobs.get, self._run, self._lock
        while True:
            job = get()
            if job is None:
                return
            while job is not None:  # run() may hand back the next job
                try:
                    job = run(job)
                except BaseException:  # never lose the thread (or the slot count)
                    logger.exception("Worker thread failed running %s", job)
                    job = None
            with lock:
                if self._lost and threading.get_ident() in self._lost:
                    # Replaced while stuck: the replacement keeps the slot.
                    self._lost.discard(threading.get_ident())
                    return
                self._busy -= 1

    def abandon(self, ident: int) -> bool:
        """The thread ``ident`` is stuck in a job given up on: stop counting
        it, so the next job starts a replacement (concurrency is kept; the
        stuck thread exits if its job ever returns). False if not ours."""
        with self._lock:
            for index, thread in enumerate(self._threads):
                if thread.ident == ident:
                    del self._threads[index]
                    self._lost.add(ident)
                    self._busy -= 1
                    return True
        return False

    @property
    def lost(self) -> int:
        """Threads given up on that are still stuck."""
        return len(self._lost)

    def close(self, timeout: float | None = None) -> None:
        """Let each thread finish its job and exit (it has none when idle)."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(_STOP)
        for thread in threads:
            thread.join(timeout)

    @property
    def thread_count(self) -> int:
        return len(self._threads)


class InlineRunner:
    """Runs ``run(job)`` on the run() thread, which calls ``run_pending``.

    ``submit`` (from any thread: a receiver, the event loop) queues the job
    and calls ``wake``. ``run`` may return the next job to run at once (the
    dispatcher's continuation). Before each job, ``run_pending`` asks
    ``stop_wanted``: once a stop is wanted, jobs not begun stay queued and
    the ordered stop takes them back (``close``), as it does prefetched ones.
    """

    def __init__(
        self,
        run: Callable[[Job], Job | None],
        wake: Callable[[], None],
        refuse: Callable[[list[Job]], None],
    ) -> None:
        self._run = run
        self._wake = wake
        self._refuse = refuse
        self._jobs: deque[Job] = deque()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job: Job) -> None:
        with self._lock:
            if not self._closed:
                self._jobs.append(job)
                refused = False
            else:  # started by a receiver racing the ordered stop
                refused = True
        if refused:
            self._refuse([job])
        else:
            self._wake()

    def run_pending(self, stop_wanted: Callable[[], bool]) -> None:
        """Run queued jobs (and their continuations) until none or a stop."""
        jobs, run = self._jobs, self._run
        while jobs:
            job: Job | None = jobs.popleft()
            while job is not None:
                if stop_wanted():
                    jobs.appendleft(job)
                    return
                try:
                    job = run(job)
                except Exception:  # the slot was given back by run's finally
                    logger.exception("Failed running %s", job)
                    job = None

    def has_work(self) -> bool:
        """Whether jobs wait for ``run_pending`` (a snapshot)."""
        return bool(self._jobs)

    def close(self, timeout: float | None = None) -> list[Job]:
        """Accept no more jobs; return those queued and not begun."""
        with self._lock:
            self._closed = True
            pending = list(self._jobs)
            self._jobs.clear()
        return pending

    @property
    def thread_count(self) -> int:
        return 0


class LoopRunner:
    """An event loop on its own thread awaiting ``run(job)`` for many jobs."""

    def __init__(
        self, run: Callable[[Job], Coroutine[Any, Any, None]], name: str
    ) -> None:
        self._run = run
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Strong references: the loop itself keeps only weak ones to tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, jobs: list[Job]) -> None:
        loop = self._loop or self._start()
        if self._thread is threading.current_thread():
            self._create_tasks(jobs)
        else:
            loop.call_soon_threadsafe(self._create_tasks, jobs)

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()
                self._thread = threading.Thread(
                    target=self._serve,
                    args=(loop, started),
                    name=self._name,
                    daemon=True,
                )
                self._thread.start()
                started.wait()
                self._loop = loop
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _create_tasks(self, jobs: list[Job]) -> None:
        loop, tasks, run = self._loop, self._tasks, self._run
        assert loop is not None
        for job in jobs:
            task = loop.create_task(run(job))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def close(self, cancel: bool) -> None:
        """Stop the loop; ``cancel`` first cancels jobs still awaited (cold stop)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if cancel:
            loop.call_soon_threadsafe(self._cancel_all)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    def _cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    @property
    def started(self) -> bool:
        return self._loop is not None
