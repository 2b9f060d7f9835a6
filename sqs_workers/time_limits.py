"""Job time limits: a handler that runs too long is interrupted, then given up on.

A limit comes from the processor (``@queue.processor(..., time_limit=...)``),
else the queue (``sqs.queue(name, time_limit=...)``), else the worker
(``process_queue(time_limit=...)``); none by default. ``running.call_sync``
and ``running.call_async`` arm a ``Watch`` around the handler call only; one
watchdog thread keeps every armed watch's deadlines and acts when one passes:

- at the limit (soft), ``JobTimeLimitExceeded`` is raised in the handler,
  which may catch it to clean up: in a worker thread with
  ``PyThreadState_SetAsyncExc`` (delivered between bytecodes, so a thread
  blocked in C does not see it until it gets back to Python), on the main
  thread with a SIGALRM sent to it (which also interrupts ``time.sleep``,
  lock waits and socket reads), and for ``async def`` handlers by
  cancelling the task (the ``CancelledError`` becomes the limit exception);
- ``grace`` seconds later (hard), ``JobHardTimeLimitExceeded`` is raised the
  same way, and inside a worker the job is given up on: its message is
  released for another worker, its slot is replaced (``Worker._give_up``)
  and, whenever the call finally returns, its outcome is discarded
  (``JobAbandoned``), so the message is never acked by this run.

The watchdog itself does not raise anything anywhere when no limit is set:
no watch, no thread, one ``ContextVar.get`` per job.
"""

from __future__ import annotations

import asyncio
import ctypes
import heapq
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

logger = logging.getLogger(__name__)

# Seconds between the soft limit and the hard one, unless the worker's
# ``time_limit_grace`` option says otherwise.
DEFAULT_GRACE = 5.0


class JobTimeLimitExceeded(Exception):
    """A job ran past its time limit (the soft one); the job fails and is
    retried after the queue's backoff, like any error.

    Raised inside the handler, which may catch it to clean up and re-raise.
    ``time_limit``: the limit in seconds (set once the exception leaves the
    handler).
    """

    time_limit: float | None = None

    def __init__(self, *args: Any) -> None:
        # No arguments when Python raises it asynchronously in a thread.
        super().__init__(*(args or ("the job ran past its time limit",)))


class JobHardTimeLimitExceeded(JobTimeLimitExceeded):
    """The job still ran ``grace`` seconds after its soft limit: the worker
    gave up on it (its message is released for another worker)."""


class JobAbandoned(BaseException):
    """The worker gave up on this job while it ran: what it returns or raises
    now must not be recorded (its message was released). A BaseException,
    so that nothing between the handler and the worker reports it as the
    job's outcome."""


# -- validation ----------------------------------------------------------------


def checked(time_limit: float | None, what: str = "time_limit") -> float | None:
    """``time_limit`` if it is None or a positive number; ValueError otherwise."""
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {time_limit!r}")
    if time_limit <= 0:
        raise ValueError(f"{what} must be > 0 seconds (or None), got {time_limit}")
    return float(time_limit)


# -- what the worker adds ------------------------------------------------------


class WorkerScope:
    """A worker's part in its jobs' limits: its default limit, the grace
    before the hard limit, and what to do at the hard limit: ``claim(job)``
    (False if the job's outcome is being recorded already: too late to give
    up on it), then ``give_up(job, thread)`` on the watchdog thread, with
    the worker's job and the ident of the thread the handler runs on (None
    for an ``async def`` job)."""

    __slots__ = ("claim", "default", "give_up", "grace")

    def __init__(
        self,
        default: float | None,
        grace: float,
        claim: Callable[[Any], bool],
        give_up: Callable[[Any, int | None], None],
    ) -> None:
        self.default = default
        self.grace = grace
        self.claim = claim
        self.give_up = give_up


# (worker scope, worker job) of the job running in this thread or task; set
# by the worker around each job only when some limit may apply.
CURRENT: ContextVar[tuple[WorkerScope, Any] | None] = ContextVar(
    "sqs_workers_job_limits", default=None
)


def effective(time_limit: float | None) -> float | None:
    """The limit of a job: ``time_limit`` (processor or queue), else the worker's."""
    if time_limit is not None:
        return time_limit
    scope = CURRENT.get()
    return scope[0].default if scope is not None else None


# -- one armed call ------------------------------------------------------------

ARMED = 0
SOFT = 1  # the soft limit fired
HARD = 2  # the hard limit fired (no worker to give up: only raised again)
ABANDONED = 3  # the worker gave up on the job
DONE = 4  # the call returned (or raised) before anything more happened


class Watch:
    """One handler call under a limit; its state changes under ``lock``."""

    __slots__ = (
        "grace",
        "job",
        "limit",
        "lock",
        "loop",
        "on_main",
        "scope",
        "stack",
        "state",
        "task",
        "thread",
    )

    def __init__(
        self, job: Any, stack: Any, limit: float, scope: tuple[WorkerScope, Any] | None
    ) -> None:
        self.job = job  # the JobRun (log fields, after_job)
        self.stack = stack
        self.limit = limit
        self.scope = scope
        self.grace = scope[0].grace if scope is not None else DEFAULT_GRACE
        self.thread = threading.get_ident()
        self.task: asyncio.Task[Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_main = False
        self.state = ARMED
        self.lock = threading.Lock()

    # -- on the watchdog thread --

    def expire(self, phase: int) -> None:
        with self.lock:
            if self.state == DONE or self.state >= phase:
                return
            give_up = phase == HARD and self.scope is not None
            if give_up and not self.scope[0].claim(self.scope[1]):  # type: ignore[index]
                # The job ended (its outcome is being recorded) although the
                # call was not seen to return: nothing to interrupt any more.
                self.state = DONE
                return
            self.state = ABANDONED if give_up else phase
            self._interrupt(JobHardTimeLimitExceeded if phase == HARD else None)
        if phase == SOFT:
            self._log_soft()
            WATCHDOG.add(time.monotonic() + self.grace, self, HARD)
            return
        self._log_hard(give_up)
        if give_up:
            self._report_hard()
            scope, worker_job = self.scope  # type: ignore[misc]
            try:
                scope.give_up(worker_job, None if self.task else self.thread)
            except Exception:
                logger.exception("Giving up on %s failed", worker_job)

    def _interrupt(self, exception: type[BaseException] | None) -> None:
        """Raise ``exception`` (the soft one if None) in the handler (lock held)."""
        exception = exception or JobTimeLimitExceeded
        if self.task is not None and self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self.task.cancel)
            except RuntimeError:  # the loop is closed: nothing left to cancel
                pass
        elif self.on_main:
            _MAIN.pending = exception
            signal.pthread_kill(self.thread, signal.SIGALRM)
        else:
            _set_async_exc(self.thread, exception)

    def _log_soft(self) -> None:
        from sqs_workers import running

        logger.warning(
            "%s ran past its time limit of %gs: %s raised in it (%s)",
            running.label(self.job),
            self.limit,
            "the task cancelled and JobTimeLimitExceeded"
            if self.task is not None
            else "JobTimeLimitExceeded",
            running.details(self.job),
            extra=self._extra(),
        )

    def _log_hard(self, give_up: bool) -> None:
        from sqs_workers import running

        if give_up:
            logger.error(
                "%s still runs %gs after its time limit of %gs (hard limit): "
                "giving up on it; its message is released for another worker "
                "and whatever it returns is discarded (%s)",
                running.label(self.job),
                self.grace,
                self.limit,
                running.details(self.job),
                extra=self._extra(),
            )
        else:
            logger.error(
                "%s still runs %gs after its time limit of %gs (hard limit): "
                "JobHardTimeLimitExceeded raised in it (%s)",
                running.label(self.job),
                self.grace,
                self.limit,
                running.details(self.job),
                extra=self._extra(),
            )

    def _extra(self) -> dict[str, Any]:
        from sqs_workers import running

        extra = running.log_extra(self.job)
        extra["time_limit"] = self.limit
        return extra

    def _report_hard(self) -> None:
        """after_job for a job given up on: an error with the hard exception
        (the handler's own outcome, if it ever comes, is discarded)."""
        stack = self.stack
        if not stack.after_job:
            return
        from sqs_workers.middleware import ERROR, JobOutcome

        error = JobHardTimeLimitExceeded(
            f"gave up on the job {self.grace:g}s after its time limit of "
            f"{self.limit:g}s"
        )
        error.time_limit = self.limit
        duration = time.monotonic() - self.job.started
        stack.call("after_job", self.job, JobOutcome(ERROR, duration, error))

    # -- on the handler's thread --

    def disarm(self) -> int:
        """The call is over: nothing fires any more; the state it ended in."""
        with self.lock:
            state = self.state
            if state in (ARMED, SOFT, HARD):
                self.state = DONE
            if state != ARMED:
                # An exception sent but not delivered yet must not surface
                # later, in the worker's own code or the next job.
                if self.on_main:
                    _MAIN.pending = None
                elif self.task is None:
                    _set_async_exc(self.thread, None)
        if state == ARMED:
            WATCHDOG.forget()
        return state

    def translate(self, error: BaseException, state: int) -> BaseException:
        """What the call raised, as the job's outcome should see it."""
        if state == ABANDONED:
            return JobAbandoned()
        if state == ARMED:
            return error
        if isinstance(error, asyncio.CancelledError):
            if self.task is not None:
                uncancel = getattr(self.task, "uncancel", None)
                if uncancel is not None:  # Python 3.11+: no longer cancelling
                    uncancel()
            error = (
                JobHardTimeLimitExceeded if state == HARD else JobTimeLimitExceeded
            )()
        if isinstance(error, JobTimeLimitExceeded):
            error.time_limit = self.limit
            hard = isinstance(error, JobHardTimeLimitExceeded)
            error.args = (
                f"the job ran past its {'hard ' if hard else ''}time limit of "
                f"{self.limit + (self.grace if hard else 0):g}s",
            )
        return error


def _set_async_exc(thread: int, exception: type[BaseException] | None) -> None:
    """Raise ``exception`` in ``thread`` at its next bytecode (None: clear)."""
    argument = ctypes.py_object(exception) if exception is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), argument)


# -- the main thread: SIGALRM ------------------------------------------------------


class _MainThread:
    """The exception a SIGALRM should raise on the main thread, if ours."""

    pending: type[BaseException] | None = None
    previous: Any = None


_MAIN = _MainThread()


def _on_alarm(signum: int, frame: Any) -> None:
    """SIGALRM while a limited job runs on the main thread.

    Unlike the worker's stop signals (whose handlers only count), this one
    raises: interrupting the handler where it is, sleep and blocking calls
    included, is its whole purpose, and Python delivers signal handlers on
    the main thread only, which is where the job runs. An alarm that is not
    ours (the user's own ``signal.alarm``) goes to the handler it replaced.
    """
    exception = _MAIN.pending
    if exception is not None:
        _MAIN.pending = None
        raise exception()
    previous = _MAIN.previous
    if callable(previous):
        previous(signum, frame)


def _can_signal() -> bool:
    return (
        hasattr(signal, "pthread_kill")
        and threading.current_thread() is threading.main_thread()
    )


# -- arming ----------------------------------------------------------------------


def arm(job: Any, stack: Any, limit: float) -> Watch:
    """Start watching a sync call on this thread (call ``release`` after it)."""
    watch = Watch(job, stack, limit, CURRENT.get())
    if _can_signal():
        watch.on_main = True
        _MAIN.pending = None
        _MAIN.previous = signal.signal(signal.SIGALRM, _on_alarm)
    WATCHDOG.add(time.monotonic() + limit, watch, SOFT)
    return watch


def release(watch: Watch) -> int:
    """Stop watching; the state the call ended in."""
    state = watch.disarm()
    if watch.on_main:
        previous = _MAIN.previous
        _MAIN.previous = None
        signal.signal(
            signal.SIGALRM, previous if previous is not None else signal.SIG_DFL
        )
    return state


def arm_task(job: Any, stack: Any, limit: float) -> Watch:
    """Start watching the current asyncio task."""
    watch = Watch(job, stack, limit, CURRENT.get())
    watch.task = asyncio.current_task()
    watch.loop = asyncio.get_running_loop()
    WATCHDOG.add(time.monotonic() + limit, watch, SOFT)
    return watch


# -- the watchdog thread -------------------------------------------------------------


class Watchdog:
    """One thread, one heap of deadlines (started on first use).

    A watch disarmed before its deadline stays in the heap until the heap
    is rebuilt without such entries, once they are most of it (so jobs with
    long limits finishing fast do not pile up entries).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Watch, int]] = []
        self._order = itertools.count()
        self._dead = 0
        self._thread: threading.Thread | None = None

    def add(self, when: float, watch: Watch, phase: int) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), watch, phase))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="sqs-time-limits", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._cond.notify()  # a new earliest deadline

    def forget(self) -> None:
        """A watch was disarmed before its deadline."""
        with self._cond:
            self._dead += 1
            if self._dead > 64 and self._dead * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e[2].state != DONE]
                heapq.heapify(self._heap)
                self._dead = 0

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, watch, phase = heapq.heappop(self._heap)
                        break
                    self._cond.wait(wait)
            if watch.state == DONE:
                with self._cond:
                    self._dead = max(0, self._dead - 1)
                continue
            try:
                watch.expire(phase)
            except Exception:  # never lose the watchdog
                logger.exception("Time limit watchdog failed")


WATCHDOG = Watchdog()


def _after_fork() -> None:
    """A forked child has no watchdog thread (nor the parent's watches)."""
    global WATCHDOG
    WATCHDOG = Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
