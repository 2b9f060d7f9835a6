"""The dispatcher: which received job starts next, and when.

All scheduling state lives here, under one lock: the jobs each queue holds
(ready, parked behind their FIFO group, running), the number running, and
the room each receiver has left. It never runs a job itself: jobs that may
start are handed to ``start`` (outside the lock), which gives sync ones to the
run() thread (concurrency 1) or the thread pool, and async ones to the event
loop.

Rules it enforces:
- at most ``concurrency`` jobs run at once;
- each queue holds at most ``capacity`` jobs (running + ready), so memory stays
  flat however deep the queue;
- queues take turns (round robin), so a busy queue cannot starve another;
- FIFO queues: one job per MessageGroupId at a time, in receive order; when
  one fails, the group's later jobs are released (not run) so SQS redelivers
  the group in order;
- a job whose visibility ran out while it waited (no heartbeat, or one that
  SQS kept refusing) is not started, since another consumer may have it by
  now, and is handed to ``release`` to be made visible again at once, so it
  is neither lost for a visibility timeout nor refused over and over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES
from sqs_workers.worker.jobs import ASYNC, Job, QueueRuntime

logger = logging.getLogger(__name__)

# SQS returns at most 10 messages per receive: a receiver waits for that
# much room so that each call is worth it.
RECEIVE_BATCH = MAX_BATCH_ENTRIES


class Dispatcher:
    def __init__(
        self,
        runtimes: Sequence[QueueRuntime],
        concurrency: int,
        prefetch: int,
        start: Callable[[list[Job]], None],
        release: Callable[[list[Job]], None],
        clock: Callable[[], float] = time.monotonic,
        prefetch_per_receiver: bool = False,
    ) -> None:
        self._runtimes = list(runtimes)
        self._concurrency = concurrency
        self.capacity = concurrency + prefetch
        # The default prefetch (adaptive receivers): room for a full
        # receive per receiver beyond the running jobs, per queue, as its
        # receivers come and go (see set_receivers).
        self._per_receiver = prefetch_per_receiver
        self._capacity = {id(rt): self.capacity for rt in runtimes}
        self._margins = {id(rt): self._margin(rt) for rt in runtimes}
        # Receive when this much room is free: a full batch normally, a
        # single slot when the user asked for (almost) no prefetch.
        self._need = max(1, min(RECEIVE_BATCH, prefetch))
        self._start = start
        self._release = release
        self._clock = clock
        self._lock = threading.Lock()
        self._room = {id(rt): threading.Condition(self._lock) for rt in runtimes}
        self._idle = threading.Condition(self._lock)
        # Threads waiting on each condition and not notified yet (at most
        # too many, after a timed wait ran out). Every finished job may
        # free room, and at concurrency 1 every one leaves the worker idle:
        # Condition.notify checks the lock's ownership even with nobody to
        # wake, so it is called only when somebody waits.
        self._room_waiting = dict.fromkeys((id(rt) for rt in runtimes), 0)
        self._idle_waiting = 0
        self._held = dict.fromkeys((id(rt) for rt in runtimes), 0)
        self._reserved = dict.fromkeys((id(rt) for rt in runtimes), 0)
        # Queues whose receivers wait while the run() thread receives for
        # itself (see InlineReceiver).
        self._parked = dict.fromkeys((id(rt) for rt in runtimes), False)
        self._running = 0
        self._turn = 0
        self._stopping = False
        self._paused = False

    # -- receivers ------------------------------------------------------------

    def wait_for_room(self, runtime: QueueRuntime) -> int:
        """Block until a receive is worth making; reserve room for it.

        Returns how many messages to ask for (0: stop). The room stays
        reserved until ``put`` or ``unreserve``, so receivers of the same
        queue polling at once never take more than the capacity together.
        """
        key = id(runtime)
        with self._lock:
            room = self._room[key]
            while not self._stopping and not self._receivable(key):
                self._room_waiting[key] += 1
                room.wait()
            if self._stopping:
                return 0
            return self._reserve(key)

    def _reserve(self, key: int) -> int:
        """Reserve room for one receive in queue ``key`` (lock held)."""
        asked = min(RECEIVE_BATCH, self._free(key))
        self._reserved[key] += asked
        return asked

    def _free(self, key: int) -> int:
        return self._capacity[key] - self._held[key] - self._reserved[key]

    def _receivable(self, key: int) -> bool:
        """A receiver of queue ``key`` may receive now (lock held)."""
        return not self._parked[key] and self._free(key) >= self._need

    def reserve_now(self, runtime: QueueRuntime) -> int:
        """For the run() thread receiving itself: as ``wait_for_room``, without
        waiting; 0 when there is no room or no job may start (stopping, paused)."""
        key = id(runtime)
        with self._lock:
            if self._stopping or self._paused or self._free(key) < self._need:
                return 0
            return self._reserve(key)

    def park_receivers(self, runtime: QueueRuntime, parked: bool) -> None:
        """Keep ``runtime``'s receivers waiting (the run() thread receives
        for itself), or let them receive again."""
        key = id(runtime)
        with self._lock:
            self._parked[key] = parked
            if not parked:
                self._wake_all_receivers(key)

    def set_receivers(self, runtime: QueueRuntime, receivers: int) -> None:
        """``runtime`` has this many receivers now: with the default prefetch,
        its capacity follows (room for one full receive each, plus one)."""
        if not self._per_receiver:
            return
        key = id(runtime)
        prefetch = max(RECEIVE_BATCH * (receivers + 1), self._concurrency)
        with self._lock:
            self._capacity[key] = self._concurrency + prefetch
            self._wake_receiver(key)

    def unreserve(self, runtime: QueueRuntime, asked: int) -> None:
        """A receive brought nothing (or failed): give its room back."""
        key = id(runtime)
        with self._lock:
            self._reserved[key] -= asked
            self._wake_receiver(key)

    def put(
        self, runtime: QueueRuntime, jobs: list[Job], asked: int
    ) -> tuple[list[Job], bool]:
        """Take received jobs; start what may start.

        Returns the jobs refused (stopping), and whether the jobs had run out
        of work when these arrived (nothing ready, a slot free): the
        receives, not the jobs, were the limit.
        """
        key = id(runtime)
        with self._lock:
            self._reserved[key] -= asked
            if self._stopping:
                return jobs, False
            starved = not runtime.ready and self._running < self._concurrency
            self._held[key] += len(jobs)
            for job in jobs:
                runtime.jobs.add(job)
                self._enqueue(runtime, job)
            startable, stale = self._take_startable()
            if len(jobs) < asked:
                self._wake_receiver(key)  # another receiver may use the rest
        if stale:
            self._release(stale)
        if startable:
            self._start(startable)
        return [], starved

    def _enqueue(self, runtime: QueueRuntime, job: Job) -> None:
        group = job.group
        if group is not None:
            parked = runtime.groups.get(group)
            if parked is not None:  # the group is busy: wait behind it
                parked.append(job)
                return
            runtime.groups[group] = deque()
        runtime.ready.append(job)

    # -- runners --------------------------------------------------------------

    def done(
        self, job: Job, success: bool, take_next: bool = False
    ) -> tuple[list[Job], Job | None]:
        """A job finished: free its slot, start the next.

        Returns the jobs to release and, with ``take_next``, a sync job for
        the calling worker thread to run itself (saving a hand-over through
        the pool's queue, which costs a thread switch per job).
        """
        runtime = job.runtime
        with self._lock:
            self._running -= 1
            self._forget(runtime, job)
            group = job.group
            released = (
                [] if group is None else self._next_of_group(runtime, group, success)
            )
            startable, stale = self._take_startable()
            if self._running == 0 and self._idle_waiting:
                self._wake_idle_waiters()
        if stale:
            self._release(stale)
        following = None
        if take_next and startable and startable[0].kind != ASYNC:
            following = startable.pop(0)
        if startable:
            self._start(startable)
        return released, following

    def _next_of_group(
        self, runtime: QueueRuntime, group: str, success: bool
    ) -> list[Job]:
        """A job of FIFO ``group`` finished: its next one becomes ready, or
        (it failed) the group's later ones are handed back to be released."""
        parked = runtime.groups.get(group)
        if not parked:
            runtime.groups.pop(group, None)
            return []
        if not success:
            # Running the group's later jobs now would break its order: the
            # failed one comes back first once its backoff ends.
            del runtime.groups[group]
            for later in parked:
                self._forget(runtime, later)
            return list(parked)
        runtime.ready.append(parked.popleft())
        return []

    def _take_startable(self) -> tuple[list[Job], list[Job]]:
        """Jobs that may start now (lock held), counted as running; and the
        stale ones met on the way (forgotten, to be released)."""
        if self._paused or self._stopping or self._running >= self._concurrency:
            return [], []
        startable: list[Job] = []
        stale: list[Job] = []
        now = None
        margins = self._margins
        while self._running < self._concurrency:
            job = self._next_ready()
            if job is None:
                break
            if now is None:
                now = self._clock()
            if job.deadline - now < margins[id(job.runtime)]:
                self._drop_stale(job, stale)
                continue
            self._running += 1
            startable.append(job)
        return startable, stale

    def _next_ready(self) -> Job | None:
        runtimes = self._runtimes
        if len(runtimes) == 1:
            ready = runtimes[0].ready
            return ready.popleft() if ready else None
        count = len(runtimes)
        for step in range(count):
            runtime = runtimes[(self._turn + step) % count]
            if runtime.ready:
                self._turn = (self._turn + step + 1) % count
                return runtime.ready.popleft()
        return None

    @staticmethod
    def _margin(runtime: QueueRuntime) -> float:
        """Starting a job this close to its visibility's end is not worth it:
        the message may be someone else's before the job gets going."""
        return min(1.0, runtime.visibility_timeout * 0.1)

    def _drop_stale(self, job: Job, stale: list[Job]) -> None:
        """Forget a job whose visibility ran out while it waited (lock held)."""
        runtime = job.runtime
        logger.warning(
            "%s waited in prefetch past its visibility timeout (%ss): not "
            "starting it (another consumer may have it by now); released",
            job,
            runtime.visibility_timeout,
            extra=job.log_extra(),
        )
        self._forget(runtime, job)
        stale.append(job)
        if job.group is not None:
            # Its group-mates must not overtake it either.
            parked = runtime.groups.pop(job.group, None) or deque()
            for later in parked:
                self._forget(runtime, later)
                stale.append(later)

    def _forget(self, runtime: QueueRuntime, job: Job) -> None:
        runtime.jobs.discard(job)
        key = id(runtime)
        self._held[key] -= 1
        # Wake a receiver only once a receive is worth making: waking it
        # for every finished job would cost a thread switch per job.
        if self._room_waiting[key] and self._receivable(key):
            self._wake_receiver(key)

    def _wake_all_receivers(self, key: int) -> None:
        """Wake every thread waiting for room in the queue ``key`` (lock held;
        rare: a stop, or receivers let go by the run() thread)."""
        self._room_waiting[key] = 0
        self._room[key].notify_all()

    def _wake_receiver(self, key: int) -> None:
        """Wake one thread waiting for room (or for the queue to drain) in
        the queue ``key``, if any (lock held)."""
        if self._room_waiting[key]:
            self._room_waiting[key] -= 1
            self._room[key].notify()

    def wait_drained(self, runtime: QueueRuntime, timeout: float) -> bool:
        """If ``runtime`` holds jobs, wait until it holds none (or ``timeout``).

        True if it had jobs (and so waited); False at once if it had none.
        """
        key = id(runtime)
        with self._lock:
            if not self._held[key]:
                return False
            deadline = self._clock() + timeout
            while self._held[key] and not self._stopping:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                self._room_waiting[key] += 1
                self._room[key].wait(remaining)
            return True

    def holds(self, runtime: QueueRuntime) -> int:
        """How many jobs ``runtime`` holds (a snapshot, read without the lock)."""
        return self._held[id(runtime)]

    # -- heartbeat -----------------------------------------------------------

    def due_for_extension(self, runtime: QueueRuntime, before: float) -> list[Job]:
        """Held jobs whose visibility ends before ``before`` (monotonic)."""
        with self._lock:
            return [
                job for job in runtime.jobs if job.deadline < before and not job.capped
            ]

    def is_held(self, job: Job) -> bool:
        with self._lock:
            return job in job.runtime.jobs

    # -- shutdown ---------------------------------------------------------------

    def stop(self) -> list[Job]:
        """Start nothing more, wake receivers; return every job not started."""
        with self._lock:
            self._stopping = True
            unstarted: list[Job] = []
            for runtime in self._runtimes:
                unstarted.extend(runtime.ready)
                for parked in runtime.groups.values():
                    unstarted.extend(parked)
                runtime.ready.clear()
                runtime.groups.clear()
                for job in unstarted:
                    if job.runtime is runtime:
                        self._forget(runtime, job)
            for key in self._room:
                self._wake_all_receivers(key)
            return unstarted

    def unstart(self, jobs: list[Job]) -> None:
        """Jobs counted as running that never began (stopping): forget them.

        The caller releases their messages, as ``stop`` does for ready ones.
        """
        if not jobs:
            return
        with self._lock:
            for job in jobs:
                self._running -= 1
                self._forget(job.runtime, job)
            if self._running == 0 and self._idle_waiting:
                self._wake_idle_waiters()

    def pause(self) -> None:
        """Start no more jobs (they stay held until ``stop`` hands them back)."""
        with self._lock:
            self._paused = True

    def _wake_idle_waiters(self) -> None:
        self._idle_waiting = 0
        self._idle.notify_all()

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until no job runs; False if ``timeout`` passed first."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._lock:
            while self._running:
                remaining = None if deadline is None else deadline - self._clock()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle_waiting += 1
                self._idle.wait(remaining)
            return True

    def running(self) -> int:
        return self._running

    def holds_nothing(self) -> bool:
        with self._lock:
            return not any(self._held.values())
