"""The receivers: threads per queue that long-poll while there is room.

Each asks the dispatcher for room first, so the worker never holds more than
its bounded prefetch, then receives up to 10 messages in one call. A queue's
receivers are a ``ReceiverPool``: a fixed number (``receivers=N``), or by
default as many as the round trip calls for (``ReceiverScaler``): one more
while receives come back full and the jobs ran out of work before they
arrived (kept only if the receive rate then rises), one fewer while they
come back less than half full. SQS
errors never end it: transient ones (throttling, 5xx, timeouts, dropped
connections) and any other are logged and retried with jittered backoff;
only a queue that does not exist is reported as fatal (a configuration
error, not something waiting can fix).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from sqs_workers.exceptions import NOT_FOUND_CODES
from sqs_workers.sqs.receiving import receive_messages, receive_up_to
from sqs_workers.sqs.retrying import backoff_delay, is_transient
from sqs_workers.worker.dispatcher import RECEIVE_BATCH, Dispatcher
from sqs_workers.worker.jobs import Job, QueueRuntime

logger = logging.getLogger(__name__)

# After an empty receive with no long-poll wait, pause this long before the
# next one: polling an empty queue in a tight loop burns CPU and API calls.
EMPTY_POLL_PAUSE = 0.1
# Pauses after failed receives: jittered, doubling from ~0.1 s up to 5 s.
# The first is short: one failed call in a flaky spell (a dropped connection,
# one throttled request) should not idle the worker for long.
RETRY_BASE = 0.05
RETRY_CAP = 5.0


# Adaptive receivers (the default): at most this many per queue. Eight
# receives of 10 in flight cover ~80 messages per round trip: 5,000 jobs/s
# at 15 ms, more than one process's CPU handles.
MAX_ADAPTIVE_RECEIVERS = 8
# At most one change (a receiver added or shed) per queue this often, so
# the effect of the last one is seen (a few round trips) before the next.
SCALE_COOLDOWN = 0.05
# Only receives slower than this call for another receiver: a quicker one
# (an in-memory or same-host SQS) is not what limits the jobs; the CPU is,
# and another thread would only compete for it.
SLOW_RECEIVE = 0.002
# A receiver added must pay for itself: over the next window the queue's
# receive rate must rise by at least GROWTH_PAYS of the (n+1)/n an added
# round trip in flight would bring (not all of it: a window of a few
# receives is noisy). When it does not, the limit is not the round trip (it
# is the client's CPU, the GIL, or the server: a receive that looked slow
# was waiting for those), so the receiver goes again and none is added for
# GROWTH_HOLD seconds. A window starts once every receiver has brought one
# receive since the last change (those were begun before it) and is judged
# once it holds JUDGED_RECEIVES receives per receiver (fewer would make the
# rate too coarse to compare).
GROWTH_HOLD = 5.0
GROWTH_PAYS = 0.4
JUDGED_RECEIVES = 3


class ReceiverScaler:
    """When to add or shed a receiver of one queue (thread-safe; the clock is
    injectable so the rule is testable without threads or time)."""

    def __init__(
        self,
        maximum: int = MAX_ADAPTIVE_RECEIVERS,
        cooldown: float = SCALE_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = maximum
        self.active = 1
        self.peak = 1  # the most at once so far (for logs and tests)
        self._cooldown = cooldown
        self._clock = clock
        self._changed = float("-inf")
        # The current window: messages received since it began (the last
        # change, or now); and the last growth under judgement: the rate
        # before it and the receivers it was made from.
        self._since = clock()
        self._settling = 0  # receives still to skip before the window starts
        self._received = 0
        self._receives = 0
        self._judging: tuple[float, int] | None = None
        self._hold_until = float("-inf")
        self._lock = threading.Lock()

    def after_receive(
        self, got: int, asked: int, starved: bool, took: float = SLOW_RECEIVE
    ) -> int:
        """+1: add a receiver; -1: the caller should exit; 0: as they are.

        Full receives that found the jobs out of work: the round trip, not
        the jobs, may limit throughput; one more receive in flight helps,
        which the next window checks (see GROWTH_HOLD). Receives that bring
        less than half what they asked: the queue has less than the
        receivers can take; each extra one only costs calls.
        """
        full = got >= asked >= RECEIVE_BATCH and starved and took >= SLOW_RECEIVE
        poor = got * 2 < asked
        with self._lock:
            if self._settling:
                # Receives begun before the last change: the new window
                # starts once each receiver has brought one.
                self._settling -= 1
                if not self._settling:
                    self._since = self._clock()
                return 0
            self._received += got
            self._receives += 1
            if not full and not poor:
                return 0
            now = self._clock()
            if now - self._changed < self._cooldown:
                return 0
            if full:
                return self._grow(now)
            if self.active > 1:
                self._judging = None
                return self._change(now, -1)
            return 0

    def _grow(self, now: float) -> int:
        elapsed = now - self._since
        rate = self._received / elapsed if elapsed > 0 else None
        if self._judging is not None and (
            self._receives < JUDGED_RECEIVES * self.active
        ):
            return 0  # too few receives yet to tell whether the last one paid
        judging, self._judging = self._judging, None
        if judging is not None and rate is not None:
            before, receivers = judging
            if rate < before * (1 + GROWTH_PAYS / receivers):
                self._hold_until = now + GROWTH_HOLD
                return self._change(now, -1)
        if now < self._hold_until or self.active >= self.maximum:
            return 0
        if rate is not None:
            self._judging = (rate, self.active)
        return self._change(now, 1)

    def _change(self, now: float, step: int) -> int:
        self.active += step
        self.peak = max(self.peak, self.active)
        self._changed = self._since = now
        self._settling = self.active
        self._received = self._receives = 0
        return step


def is_fatal(error: BaseException) -> bool:
    """A missing queue: stop the worker and say so, instead of retrying."""
    return (
        isinstance(error, ClientError)
        and error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES
    )


def receive_jobs(runtime: QueueRuntime, room: int, wait: int) -> list[Job]:
    """One receive of up to ``room`` messages (a ``BatchMessages`` queue: up
    to its batch size, as one job), as jobs; notes whether the queue looked
    drained."""
    asked = runtime.receive_visibility
    if runtime.batch_size:
        messages = receive_up_to(
            runtime.client, runtime.url, runtime.batch_size, wait, asked
        )
        runtime.looks_drained = len(messages) < runtime.batch_size
        if not messages:
            return []
        received_at = time.monotonic()
        deadline = received_at + runtime.visibility_timeout
        return [Job(runtime, messages[0], received_at, deadline, messages)]
    messages = receive_messages(runtime.client, runtime.url, room, wait, asked)
    runtime.looks_drained = len(messages) < room
    # SQS starts a message's visibility clock when it hands it out, at the
    # end of the long poll, not when the poll began: reckoning from the
    # start would judge a message that arrived late in a long poll stale at
    # once.
    received_at = time.monotonic()
    deadline = received_at + runtime.visibility_timeout
    return [Job(runtime, m, received_at, deadline) for m in messages]


def announce(runtime: QueueRuntime, jobs: list[Job]) -> None:
    """Middleware's ``after_receive``, once per message received."""
    stack = runtime.queue.middleware_stack
    if stack.after_receive:
        name = runtime.name
        for job in jobs:
            for message in job.all_messages():
                stack.call("after_receive", name, message)


class Receiver:
    def __init__(
        self,
        runtime: QueueRuntime,
        dispatcher: Dispatcher,
        wait_seconds: float,
        release: Callable[[QueueRuntime, list[Job]], None],
        on_empty: Callable[[], None],
        on_fatal: Callable[[BaseException], None],
        stopped: threading.Event,
        index: int = 0,
        pool: ReceiverPool | None = None,
    ) -> None:
        self._runtime = runtime
        self._dispatcher = dispatcher
        self._wait = int(wait_seconds)
        self._release = release
        self._on_empty = on_empty
        self._on_fatal = on_fatal
        self._stopped = stopped
        self._pool = pool
        self._thread = threading.Thread(
            target=self._loop,
            name=f"sqs-receiver-{runtime.name}-{index}",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        failures = 0
        while True:
            room = self._dispatcher.wait_for_room(self._runtime)
            if room == 0:
                return
            began = time.monotonic()
            try:
                jobs = receive_jobs(self._runtime, room, self._wait)
            except Exception as error:
                self._dispatcher.unreserve(self._runtime, room)
                if is_fatal(error):
                    self._on_fatal(error)
                    return
                failures += 1
                self._pause_after(error, failures)
                continue
            failures = 0
            if not jobs:
                self._dispatcher.unreserve(self._runtime, room)
                self._runtime.acker.flush_soon()  # nothing coming to fill a batch
                self._on_empty()
                if self._pool is not None and self._pool.shed(room):
                    return
                if self._wait == 0:
                    self._pause_while_empty()
                continue
            announce(self._runtime, jobs)
            refused, starved = self._dispatcher.put(self._runtime, jobs, room)
            if refused:  # the worker began stopping during the long poll
                self._release(self._runtime, refused)
            elif self._pool is not None and self._pool.after_receive(
                len(jobs), room, starved, time.monotonic() - began
            ):
                return

    def _pause_while_empty(self) -> None:
        """After an empty receive without long polling: do not spin.

        With jobs still running, poll again as soon as they are done (an
        empty poll then tells the shutdown policy the worker is idle); with
        none, pause briefly.
        """
        if not self._dispatcher.wait_drained(self._runtime, EMPTY_POLL_PAUSE):
            self._stopped.wait(EMPTY_POLL_PAUSE)

    def _pause_after(self, error: BaseException, failures: int) -> None:
        delay = backoff_delay(min(failures, 16), base=RETRY_BASE, cap=RETRY_CAP)
        level = logging.WARNING if is_transient(error) else logging.ERROR
        logger.log(
            level,
            "Receiving from %s failed (%s: %s); retrying in %.1fs",
            self._runtime.name,
            type(error).__name__,
            error,
            delay,
        )
        self._stopped.wait(delay)


class ReceiverPool:
    """One queue's receivers: ``fixed`` of them, or (None) adaptive, from one
    up to ``ReceiverScaler.maximum``, told to the dispatcher so that the
    default prefetch leaves each one room for a full receive."""

    def __init__(
        self,
        make: Callable[[int, ReceiverPool | None], Receiver],
        runtime: QueueRuntime,
        dispatcher: Dispatcher,
        stopped: threading.Event,
        fixed: int | None,
        scaler: ReceiverScaler | None = None,
    ) -> None:
        self._make = make
        self._runtime = runtime
        self._dispatcher = dispatcher
        self._stopped = stopped
        self.scaler = None if fixed is not None else scaler or ReceiverScaler()
        self._lock = threading.Lock()
        self._receivers: list[Receiver] = []
        self._initial = fixed or 1

    def start(self) -> None:
        for _ in range(self._initial):
            self._add()

    def _add(self) -> None:
        with self._lock:
            index = len(self._receivers)
            receiver = self._make(index, self if self.scaler else None)
            self._receivers.append(receiver)
        receiver.start()

    def after_receive(
        self, got: int, asked: int, starved: bool, took: float = 0.0
    ) -> bool:
        """Scale after a receive; True: the calling receiver should exit."""
        scaler = self.scaler
        if scaler is None:
            return False
        change = scaler.after_receive(got, asked, starved, took)
        if change == 0:
            return False
        self._dispatcher.set_receivers(self._runtime, scaler.active)
        if change < 0:
            return True
        if not self._stopped.is_set():
            self._add()
        return False

    def shed(self, asked: int) -> bool:
        """An empty receive: True if the calling receiver should exit."""
        return self.after_receive(0, asked, False)

    def active(self) -> int:
        """Receivers working now (fixed, or the scaler's count)."""
        return self.scaler.active if self.scaler else self._initial

    def join(self, timeout: float | None) -> bool:
        """Wait for every receiver to exit, ``timeout`` for them all."""
        with self._lock:
            receivers = list(self._receivers)
        deadline = None if timeout is None else time.monotonic() + timeout
        joined = True
        for receiver in receivers:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            joined = receiver.join(left) and joined
        return joined


# The run() thread receives for itself (InlineReceiver) only while its
# receives wait (on the network, or for the GIL) less than this: an endpoint
# in this process or on this host (0-0.3 ms), not one across a network. Its
# waits cost less than the threads would: a receiver and an acker sender
# working beside the run() thread cost 50-60 µs of CPU per job in GIL
# hand-overs here (each socket call of botocore's hands the GIL over), some
# 0.5 ms per batch of 10, against two waits of ~0.3 ms for a same-host
# endpoint. A real round trip (milliseconds) is worth overlapping instead.
# The first receive that waits that long hands the queue back to the
# receivers (each try at a remote endpoint costs a round trip with fewer
# receives in flight, paid again at each burst of a bursty queue); once
# receives have been quick, one slow receive may be a GIL wait or a pause,
# and it takes SLOW_IN_A_ROW of them. The run() thread then waits
# INLINE_RETRY seconds before it tries again, twice as long after each
# try that fails in turn, up to INLINE_HOLD: a same-host endpoint whose
# first receive met the start-up of the worker's threads gets its queue
# back within a second, a remote one costs a round trip every 10 s.
INLINE_WAIT = 0.001
SLOW_IN_A_ROW = 3
INLINE_RETRY = 1.0
INLINE_HOLD = 10.0


class InlineReceiver:
    """Concurrency 1: the run() thread receives for itself while that is cheaper.

    A receiver thread overlaps its receive with the jobs, which pays when
    the receive waits on the network. When it hardly waits (an in-memory
    SQS, an endpoint on the same host) the overlap saves little, and the
    hand-overs cost: every receive wakes the receiver, every full batch of
    acks an acker sender, and each then competes with the run() thread for
    the GIL (see INLINE_WAIT). So while the queue is deep, the run() thread,
    out of work, receives the next batch itself with no wait (the plain
    loop's shape), and sends full ack batches itself; the queue's receivers
    stay parked (the dispatcher gives them no room). It starts that way
    (``begin``), and hands the queue back to the receivers when a receive
    comes back short (the queue is drained: they long-poll and report it
    empty), when a receive waits ``INLINE_WAIT`` or more (after quick
    ones: ``SLOW_IN_A_ROW`` in a row; tried again after ``INLINE_RETRY``,
    doubling up to ``INLINE_HOLD``),
    when one fails (they retry with backoff, and report a missing queue),
    or when there is no room for jobs it would run (jobs held elsewhere:
    async handlers, a paused worker). It takes the queue again once the
    receivers find it deep.
    """

    def __init__(
        self,
        runtime: QueueRuntime,
        dispatcher: Dispatcher,
        release: Callable[[QueueRuntime, list[Job]], None],
        has_work: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self._runtime = runtime
        self._dispatcher = dispatcher
        self._release = release
        self._has_work = has_work
        self._clock = clock
        self._cpu_clock = cpu_clock
        self.active = False
        self._slow = 0  # receives in a row that waited INLINE_WAIT or more
        self._quick_seen = False  # a quick receive since it took the queue
        self._hold_until = float("-inf")
        self._hold = INLINE_RETRY  # the next hold; doubles while tries fail

    def begin(self) -> None:
        """Before the receivers start: the run() thread tries first (so the
        receivers do not prefetch a deep queue it would then wait out)."""
        self._hand(to_run_thread=True)

    def feed(self) -> bool:
        """Receive once for the run() thread, if it should; True if jobs came."""
        runtime, dispatcher = self._runtime, self._dispatcher
        if not self.active and (
            runtime.looks_drained or self._clock() < self._hold_until
        ):
            return False
        room = dispatcher.reserve_now(runtime)
        if not room:
            # Jobs handed to the run() thread meanwhile (what a receiver
            # brought before it was parked) take the room: it runs them and
            # comes back. Otherwise the room is held by jobs that run
            # elsewhere (async handlers) or may not start (a paused worker).
            if not self._has_work():
                self._hand(to_run_thread=False)
            return False
        self._hand(to_run_thread=True)
        began, cpu_began = self._clock(), self._cpu_clock()
        try:
            jobs = receive_jobs(runtime, room, 0)
        except Exception as error:
            dispatcher.unreserve(runtime, room)
            logger.debug("Inline receive from %s failed: %r", runtime.name, error)
            self._hand(to_run_thread=False, hold=True)
            return False
        waited = (self._clock() - began) - (self._cpu_clock() - cpu_began)
        if waited >= INLINE_WAIT:
            self._slow += 1
        else:
            self._slow = 0
            self._quick_seen = True
            self._hold = INLINE_RETRY
        if not jobs:
            dispatcher.unreserve(runtime, room)
            self._hand(to_run_thread=False)
            return False
        announce(runtime, jobs)
        refused, _ = dispatcher.put(runtime, jobs, room)
        if refused:  # the worker began stopping meanwhile
            self._release(runtime, refused)
        if runtime.looks_drained:
            self._hand(to_run_thread=False)
        elif self._slow >= (SLOW_IN_A_ROW if self._quick_seen else 1):
            self._hand(to_run_thread=False, hold=True)
        return not refused

    def _hand(self, to_run_thread: bool, hold: bool = False) -> None:
        """Receive on the run() thread, or give the queue back to its receivers."""
        if hold:
            self._hold_until = self._clock() + self._hold
            self._hold = min(self._hold * 2, INLINE_HOLD)
        if self.active != to_run_thread:
            self.active = to_run_thread
            self._slow = 0
            self._quick_seen = False
            self._runtime.acker.send_full_here = to_run_thread
            self._dispatcher.park_receivers(self._runtime, to_run_thread)
