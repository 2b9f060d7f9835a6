"""The Worker: receives, runs and acknowledges jobs of one or more queues.

Threads of one worker, and what each does:

- one receiver per queue: long-polls while the dispatcher has room;
- the dispatcher (no thread of its own): decides which job starts next;
- worker threads (up to ``concurrency``, started on demand) for sync
  handlers when ``concurrency > 1``, and one event-loop thread for
  ``async def`` handlers;
- per queue, one acker flusher and acker senders (started as batches need
  them, up to as many as receives can be in flight): deletes and
  visibility changes, in batches, several in flight, failed ones retried;
- the heartbeat: extends the visibility of held messages (prefetched,
  running, and finished ones whose delete SQS has not confirmed yet);
- the thread that called ``run()``: at concurrency 1 runs the sync handlers
  itself (so thread-local state set up before ``run()``, such as
  ``SQSEnv.context``, and ``signal`` based job timeouts work as in the
  original package), and with adaptive receivers also receives and deletes
  itself while the endpoint answers without a round trip worth overlapping
  (``InlineReceiver``); between jobs it feeds the shutdown policy, watches
  for ``stop()`` and signals, and then performs the ordered stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqs_workers import time_limits
from sqs_workers.core import BatchProcessingResult
from sqs_workers.outcomes import Outcome, succeeded
from sqs_workers.shutdown_policies import (
    NEVER_SHUTDOWN,
    NeverShutdown,
    ShutdownPolicy,
)
from sqs_workers.sqs.acking import MAX_IN_FLIGHT, Acker
from sqs_workers.sqs.retrying import retry_for
from sqs_workers.worker.dispatcher import Dispatcher
from sqs_workers.worker.executors import InlineRunner, LoopRunner, ThreadRunners
from sqs_workers.worker.heartbeat import Heartbeat
from sqs_workers.worker.jobs import ASYNC, BATCH, Job, QueueRuntime
from sqs_workers.worker.options import WorkerOptions, worker_options_from
from sqs_workers.worker.receiver import (
    MAX_ADAPTIVE_RECEIVERS,
    InlineReceiver,
    Receiver,
    ReceiverPool,
)
from sqs_workers.worker.signals import SignalCounter, may_install, stop_signals

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Job.limit_state once a job is past its handler call (see _claim_to_record).
ENDED = 1
GIVEN_UP = 2

# How often the run() thread looks at signals and time-based policies when
# nothing else wakes it.
TICK = 0.2
# How long the ordered stop waits for a receiver still inside a long poll.
RECEIVER_JOIN = 0.5
DEFAULT_VISIBILITY_TIMEOUT = 30


class ResultSink:
    """Jobs finished since the shutdown policy last looked (one queue)."""

    def __init__(self, queue_name: str) -> None:
        self.queue_name = queue_name
        self._lock = threading.Lock()
        self._succeeded: list[Any] = []
        self._failed: list[Any] = []

    def update_with_message(self, message: Any, success: bool) -> None:
        with self._lock:
            (self._succeeded if success else self._failed).append(message)

    def drain(self) -> BatchProcessingResult | None:
        with self._lock:
            if not self._succeeded and not self._failed:
                return None
            result = BatchProcessingResult(
                self.queue_name, self._succeeded, self._failed
            )
            self._succeeded, self._failed = [], []
        return result


class NullSink:
    """For a policy that never stops: nothing to collect."""

    def update_with_message(self, message: Any, success: bool) -> None:
        pass


class Worker:
    """Process ``queues`` until the shutdown policy, ``stop()`` or a signal ends it.

    ``Worker([q1, q2], IdleShutdown(60), concurrency=8).run()``; options as in
    ``WorkerOptions`` (a dataclass, flat keywords, or both).
    """

    def __init__(
        self,
        queues: Sequence[Any] | Any,
        shutdown_policy: ShutdownPolicy = NEVER_SHUTDOWN,
        options: WorkerOptions | None = None,
        **option_kwargs: Any,
    ) -> None:
        self.queues: list[Any] = (
            list(queues) if isinstance(queues, (list, tuple)) else [queues]
        )
        if not self.queues:
            raise ValueError("a Worker needs at least one queue")
        self.shutdown_policy = shutdown_policy
        self.options = worker_options_from(options, **option_kwargs)
        self.started = threading.Event()  # set once receiving
        self.finished = threading.Event()  # set once run() is done
        self._stop_requested = threading.Event()
        self._cold = False
        self._signals = SignalCounter()
        self._wakeup = threading.Event()
        self._halt = threading.Event()  # interrupts receivers' pauses
        # Concurrency 1: wakes the stop watcher (see _watch_for_stop).
        self._watch = threading.Event()
        self._stop_lock = threading.Lock()
        self._stop_begun = False
        self._saw_empty = False
        self._fatal: BaseException | None = None
        self._sinks: dict[int, ResultSink] = {}
        self._policy_lock = threading.Lock()
        self._policy_says_stop = False
        # The default policy never stops: skip feeding it on the hot path.
        self._never_stops = isinstance(shutdown_policy, NeverShutdown)
        # Jobs given up on past their hard time limit (their slots were
        # replaced); the supervisor sets recycle_when_slot_lost, so that a
        # process with stuck threads is replaced once its other jobs are done.
        self.lost_slots = 0
        self.recycle_when_slot_lost = False
        self.recycle_requested = threading.Event()
        self._limit_scope: time_limits.WorkerScope | None = None

    # -- public ----------------------------------------------------------------

    def run(self) -> None:
        """Work until stopped; returns after the ordered stop (see ``_shut_down``).

        Raises the error of a queue that does not exist (at start or later).
        """
        stacks = self._middleware_stacks()
        for stack in stacks:
            stack.call("worker_started", self)
        try:
            self._run()
        finally:
            self.finished.set()
            for stack in stacks:
                stack.call("worker_stopped", self)
        if self._fatal is not None:
            raise self._fatal

    def _middleware_stacks(self) -> list[Any]:
        """The middleware of each distinct env among the queues."""
        stacks: dict[int, Any] = {}
        for queue in self.queues:
            stack = queue.middleware_stack
            stacks.setdefault(id(stack), stack)
        return list(stacks.values())

    def stop(self, cold: bool = False, wait: float | None = None) -> bool:
        """Ask the worker to stop, from any thread (not from a signal handler).

        Warm (default): stop receiving, release prefetched messages, let
        running jobs finish within the grace period, flush acks, return.
        Cold: the same without waiting for running jobs (their messages come
        back after their visibility timeout). ``wait``: seconds to wait for
        ``run()`` to return; True if it did.
        """
        self._cold = self._cold or cold
        self._stop_requested.set()
        self._wakeup.set()
        self._watch.set()
        if wait is None:
            return self.finished.is_set()
        return self.finished.wait(wait)

    def running_jobs(self) -> int:
        """Jobs running right now (0 before ``run()`` started)."""
        dispatcher = getattr(self, "_dispatcher", None)
        return dispatcher.running() if dispatcher is not None else 0

    def holds_nothing(self) -> bool:
        """No job held (running or prefetched); True before ``run()`` started."""
        dispatcher = getattr(self, "_dispatcher", None)
        return dispatcher.holds_nothing() if dispatcher is not None else True

    # -- setting up ------------------------------------------------------------

    def _run(self) -> None:
        self._build()
        install = may_install(self.options.shutdown.handle_signals)
        with stop_signals(self._signals, install):
            self._start_threads()
            try:
                cold = self._serve()
            except BaseException:
                # Raised by an inline job (SystemExit, KeyboardInterrupt
                # without our signal handlers): stop cold, then let it out.
                self._shut_down(True)
                raise
            self._shut_down(cold)
            if self._watcher is not None:
                self._watcher.join(1)

    def _build(self) -> None:
        """Make the parts (nothing started yet): per queue its runtime, then
        the executors, the dispatcher, the heartbeat and the receivers."""
        options = self.options
        runtimes = [self._runtime_for(queue) for queue in self.queues]
        self._sinks = {id(rt): ResultSink(rt.name) for rt in runtimes}
        # What record_outcome reports to (kept apart so NeverShutdown
        # workers do not accumulate every message they ever processed).
        self._reports: dict[int, ResultSink | NullSink] = {
            key: NullSink() if self._never_stops else sink
            for key, sink in self._sinks.items()
        }
        self._runtimes = runtimes
        self._threads: ThreadRunners | InlineRunner
        if options.concurrency == 1:
            self._threads = InlineRunner(self._run_sync, self._wakeup.set, self._refuse)
        else:
            self._threads = ThreadRunners(
                options.concurrency, self._run_sync, "sqs-worker"
            )
        self._loop = LoopRunner(self._run_async, "sqs-worker-loop")
        self._dispatcher = Dispatcher(
            runtimes,
            options.concurrency,
            options.prefetch_count,
            self._start_jobs,
            self._release_jobs,
            prefetch_per_receiver=options.prefetch is None,
        )
        self._heartbeat = (
            Heartbeat(
                runtimes,
                self._dispatcher,
                options.heartbeat,
                options.visibility_timeout,
            )
            if options.heartbeat_enabled
            else None
        )
        self._receivers = [
            ReceiverPool(
                self._receiver_maker(rt),
                rt,
                self._dispatcher,
                self._halt,
                options.receivers,
            )
            for rt in runtimes
        ]
        if self._limits_possible():
            self._limit_scope = time_limits.WorkerScope(
                options.time_limit,
                options.time_limit_grace,
                self._claim_for_give_up,
                self._give_up,
            )
        self._limit_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._inline_receivers: list[InlineReceiver] = []
        if isinstance(self._threads, InlineRunner):
            self._watcher = threading.Thread(
                target=self._watch_for_stop, name="sqs-worker-watch", daemon=True
            )
            if options.receivers is None:  # adaptive: see InlineReceiver
                self._inline_receivers = [
                    InlineReceiver(
                        rt, self._dispatcher, self._release, self._threads.has_work
                    )
                    for rt in runtimes
                ]

    def _receiver_maker(
        self, runtime: QueueRuntime
    ) -> Callable[[int, ReceiverPool | None], Receiver]:
        def make(index: int, pool: ReceiverPool | None) -> Receiver:
            return Receiver(
                runtime,
                self._dispatcher,
                self.options.wait_seconds,
                self._release,
                self._on_empty,
                self._on_fatal,
                self._halt,
                index,
                pool,
            )

        return make

    def _start_threads(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.start()
        for inline_receiver in self._inline_receivers:
            inline_receiver.begin()
        for receiver in self._receivers:
            receiver.start()
        if self._watcher is not None:
            self._watcher.start()
        options = self.options
        logger.info(
            "Worker started on %s (concurrency %d, prefetch %d, heartbeat %s)",
            ", ".join(rt.name for rt in self._runtimes),
            options.concurrency,
            options.prefetch_count,
            "on" if self._heartbeat else "off",
        )
        self.started.set()

    def _runtime_for(self, queue: Any) -> QueueRuntime:
        # A missing queue or denied access raises here at once, clearly;
        # throttling or a 5xx spell at start is waited out (startup_timeout).
        url = self._at_start(queue.get_queue_url, f"GetQueueUrl of {queue.name}")
        asked = self.options.visibility_timeout
        if asked is not None:
            visibility = asked
        else:
            known = self._queue_visibility(queue, url)
            # Unknown: ask SQS for the one we assume on every receive, so
            # the heartbeat and the prefetch expiry reckon with the truth.
            if known is None:
                visibility = asked = DEFAULT_VISIBILITY_TIMEOUT
            else:
                visibility = known
        acker = Acker(
            queue.client,
            url,
            queue.name,
            max_delay=self.options.ack_delay,
            max_in_flight=self._acks_in_flight(),
        )
        runtime = QueueRuntime(queue, url, visibility, acker)
        runtime.receive_visibility = asked
        return runtime

    def _acks_in_flight(self) -> int:
        """Ack batches in flight at once per queue: as many as receives can
        be (each full receive becomes a delete batch a round trip later), so
        deletes keep up with the receivers (4 of them capped a queue at 40
        deletes per round trip: ~2,700 jobs/s at 15 ms); senders start only
        as batches need them."""
        receivers = self.options.receivers or MAX_ADAPTIVE_RECEIVERS
        return max(MAX_IN_FLIGHT, receivers)

    def _at_start(self, fn: Callable[[], T], description: str) -> T:
        """``fn()`` with start-up retries; a stop request ends the waiting."""
        return retry_for(
            fn,
            description=description,
            timeout=self.options.startup_timeout,
            wait=self._stop_requested.wait,
        )

    def _queue_visibility(self, queue: Any, url: str) -> int | None:
        """The queue's VisibilityTimeout, or None when it cannot be read."""
        try:
            attributes = self._at_start(
                lambda: queue.client.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["VisibilityTimeout"]
                ),
                f"GetQueueAttributes of {queue.name}",
            )["Attributes"]
            return int(attributes["VisibilityTimeout"])
        except Exception as error:
            logger.warning(
                "Could not read the visibility timeout of %s (%s: %s); asking "
                "for %ds on every receive so that is what it is (set "
                "visibility_timeout to choose another)",
                queue.name,
                type(error).__name__,
                error,
                DEFAULT_VISIBILITY_TIMEOUT,
            )
            return None

    # -- the run() thread --------------------------------------------------------

    def _serve(self) -> bool:
        """Run inline jobs, or wait, until a reason to stop; True: stop cold."""
        inline = self._threads if isinstance(self._threads, InlineRunner) else None
        if self._inline_receivers:
            self._wakeup.set()  # receive on this thread at once (see begin())
        while True:
            self._wakeup.wait(TICK)
            self._wakeup.clear()  # before running: a later submit wakes us again
            if inline is not None:
                inline.run_pending(self._stop_wanted)
                while self._receive_inline():
                    inline.run_pending(self._stop_wanted)
            self._feed_policy(idle_poll=True)
            if self._fatal is not None:
                return False
            if self._signals.count:
                logger.info(
                    "Signal %s received: stopping (a second one stops at once)",
                    self._signals.last,
                )
                return self._signals.count > 1
            if self._stop_requested.is_set():
                return self._cold
            if self._policy_says_stop:
                logger.info("Shutdown policy %r says stop", self.shutdown_policy)
                return False

    def _receive_inline(self) -> bool:
        """Concurrency 1, out of work: receive for the run() thread itself
        where that is cheaper than a receiver's hand-over (see
        InlineReceiver); True if jobs came."""
        if not self._inline_receivers or self._stop_wanted():
            return False
        fed = False
        for receiver in self._inline_receivers:
            fed = receiver.feed() or fed
        return fed

    def _watch_for_stop(self) -> None:
        """Concurrency 1: begin the ordered stop while the run() thread is
        still busy with a job, so prefetched messages go back at once.

        The run() thread cannot do it before its job returns, and a signal
        handler only counts; this thread looks every TICK (or when woken).
        """
        while not self._stop_begun:
            if self._stop_wanted():
                self._begin_stop()
                return
            self._watch.wait(TICK)
            self._watch.clear()

    def _stop_wanted(self) -> bool:
        """Any reason for ``_serve`` to return (checked before each inline job)."""
        return bool(
            self._signals.count
            or self._policy_says_stop
            or self._fatal is not None
            or self._stop_requested.is_set()
        )

    def _feed_policy(self, idle_poll: bool = False) -> None:
        """Give the policy what finished since it last looked (or an idle poll).

        Called by each finishing job before its slot is given back, so that
        a policy such as MaxTasksShutdown(3) stops the worker after exactly
        three jobs when they run one at a time: no fourth one starts while
        the run() thread catches up.
        """
        if self._never_stops:
            return
        policy = self.shutdown_policy
        with self._policy_lock:
            fed = False
            for sink in self._sinks.values():
                result = sink.drain()
                if result is not None:
                    policy.update_state(result)
                    fed = True
            if idle_poll and not fed and self._saw_empty:
                self._saw_empty = False
                if self._dispatcher.holds_nothing():
                    policy.update_state(BatchProcessingResult(self.queues[0].name))
            if not self._policy_says_stop and policy.need_shutdown():
                self._policy_says_stop = True
                self._dispatcher.pause()  # start nothing more; run() stops us
                self._wakeup.set()

    def _on_empty(self) -> None:
        self._saw_empty = True
        self._wakeup.set()

    def _on_fatal(self, error: BaseException) -> None:
        if self._fatal is None:
            self._fatal = error
        self._wakeup.set()
        self._watch.set()

    # -- the ordered stop -------------------------------------------------------

    def _begin_stop(self) -> None:
        """Steps 1 and 2 of the ordered stop, once (run() thread or watcher)."""
        with self._stop_lock:
            if self._stop_begun:
                return
            dispatcher = self._dispatcher
            # 1. Receive and start nothing more. Receivers waiting for room
            #    wake up and exit; one inside a long poll hands back what it
            #    gets, which the dispatcher refuses and the receiver releases.
            unstarted = dispatcher.stop()
            self._halt.set()
            if isinstance(self._threads, InlineRunner):
                # Jobs handed to the run() thread but not begun: as prefetched.
                not_begun = self._threads.close()
                dispatcher.unstart(not_begun)
                unstarted.extend(not_begun)
            # 2. Prefetched jobs that never started go back to the queue now
            #    (visibility 0, batched) instead of after their visibility
            #    timeout.
            self._release_all(unstarted)
            self._stop_begun = True
        self._watch.set()

    def _shut_down(self, cold: bool) -> None:
        dispatcher = self._dispatcher
        self._begin_stop()  # steps 1 and 2 (maybe done already by the watcher)
        # 3. Running jobs finish (warm) within the grace period; their acks
        #    keep flowing, and the heartbeat keeps their messages hidden.
        if not cold:
            cold = not self._wait_for_running()
        if cold and dispatcher.running():
            logger.warning(
                "Stopping with %d jobs still running: their messages reappear "
                "after their visibility timeout",
                dispatcher.running(),
            )
        # 4. A receiver inside a long poll cannot be interrupted; waiting
        #    for it could hold the return for up to wait_seconds (20 s), so
        #    it gets a moment only. If it is still polling, it finishes on
        #    its own: what the poll brings is refused and released at once
        #    (the acker sends directly once closed). Should the process exit
        #    first, those messages reappear after their visibility timeout.
        for pool in self._receivers:
            pool.join(RECEIVER_JOIN)
        # 5. Idle executors exit; a cold stop cancels awaited jobs.
        self._loop.close(cancel=cold)
        if not cold:
            self._threads.close(timeout=1)
        # 6. Send every delete and visibility change recorded so far,
        #    retrying failed ones, while the heartbeat still keeps the
        #    finished jobs' messages invisible until their deletes succeed.
        for runtime in self._runtimes:
            runtime.acker.close()
        # 7. Only now the heartbeat may stop: it protected the running jobs
        #    and the unconfirmed deletes.
        if self._heartbeat is not None:
            self._heartbeat.stop()
        # 8. The policy sees every job that finished, even during the stop.
        self._feed_policy()
        logger.info("Worker stopped")

    def _wait_for_running(self) -> bool:
        """Wait for running jobs; False on a timeout or a second signal."""
        grace = self.options.shutdown.grace_period
        waited = 0.0
        while not self._dispatcher.wait_idle(TICK):
            waited += TICK
            if self._signals.count > 1 or self._cold or waited >= grace:
                return False
            self._feed_policy()
        return True

    def _release_all(self, jobs: list[Job]) -> None:
        by_runtime: dict[int, list[Job]] = {}
        for job in jobs:
            by_runtime.setdefault(id(job.runtime), []).append(job)
        for runtime in self._runtimes:
            released = by_runtime.get(id(runtime))
            if released:
                self._release(runtime, released)
                # On the acker's senders: batches in parallel, queues too,
                # bounded; close() (step 6) waits for them.
                runtime.acker.flush_soon()
        if jobs:
            logger.info("Released %d prefetched messages", len(jobs))

    def _refuse(self, jobs: list[Job]) -> None:
        """Jobs started (by a receiver) after the inline runner closed."""
        self._dispatcher.unstart(jobs)
        for job in jobs:
            self._release(job.runtime, [job])
            job.runtime.acker.flush()

    def _release_jobs(self, jobs: list[Job]) -> None:
        """Release jobs of any queues (the dispatcher's stale ones), at once."""
        runtimes: dict[int, QueueRuntime] = {}
        for job in jobs:
            self._release(job.runtime, [job])
            runtimes[id(job.runtime)] = job.runtime
        for runtime in runtimes.values():
            runtime.acker.flush_soon()

    def _release(self, runtime: QueueRuntime, jobs: list[Job]) -> None:
        """Make messages we will not run visible again at once."""
        acker = runtime.acker
        for job in jobs:
            for message in job.all_messages():
                acker.change_visibility(message, 0)

    # -- running jobs ---------------------------------------------------------------

    def _start_jobs(self, jobs: list[Job]) -> None:
        """Called by the dispatcher with jobs that may start now."""
        awaited = None
        submit = self._threads.submit
        for job in jobs:
            if job.kind == ASYNC:
                if awaited is None:
                    awaited = [job]
                else:
                    awaited.append(job)
            else:
                submit(job)
        if awaited:
            self._loop.submit(awaited)

    def _run_sync(self, job: Job) -> Job | None:
        """Run one job (pool or run() thread): handler, outcome, ack; maybe the next."""
        success = False
        abandoned = False
        scope = self._limit_scope
        token = time_limits.CURRENT.set((scope, job)) if scope is not None else None
        try:  # whatever happens, the job's slot is given back
            if job.kind == BATCH:
                success = self._process_list(job)
            else:
                try:
                    outcome = job.runtime.queue.process_message(job.message)
                except Exception:
                    logger.exception("Processing %s failed", job, extra=job.log_extra())
                    outcome = False
                if scope is not None:
                    self._claim_to_record(job)
                success = self._record(job.runtime, job.message, outcome)
        except time_limits.JobAbandoned:
            # Given up on past its hard time limit: its message was released
            # and its slot given back then; what it did now must not count.
            abandoned = True
        finally:
            if token is not None:
                time_limits.CURRENT.reset(token)
            following = (
                None if abandoned else self._finish(job, success, take_next=True)
            )
        return following

    def _process_list(self, job: Job) -> bool:
        runtime = job.runtime
        messages = job.messages or []
        try:
            pairs = runtime.queue.process_list(messages)
        except Exception:
            logger.exception(
                "Processing a batch of %s failed", runtime.name, extra=job.log_extra()
            )
            pairs = [(m, False) for m in messages]
        if self._limit_scope is not None:
            self._claim_to_record(job)
        success = True
        for message, outcome in pairs:
            success = self._record(runtime, message, outcome) and success
        return success

    async def _run_async(self, job: Job) -> None:
        """On the event loop: await one job's handler, then its outcome."""
        scope = self._limit_scope
        if scope is not None:  # the task's own context: no reset needed
            time_limits.CURRENT.set((scope, job))
        try:
            outcome = await self._await_handler(job)
        except time_limits.JobAbandoned:
            return  # given up on: released, slot given back, outcome discarded
        except Exception:
            logger.exception("Processing %s failed", job, extra=job.log_extra())
            outcome = False
        if scope is not None:
            try:
                self._claim_to_record(job)
            except time_limits.JobAbandoned:
                return
        # A cancelled job (cold stop) records nothing: CancelledError is not
        # an Exception, so it ends here and the message comes back later.
        success = False
        try:
            success = self._record(job.runtime, job.message, outcome)
        finally:
            self._finish(job, success)

    @staticmethod
    async def _await_handler(job: Job) -> Outcome:
        return await job.runtime.queue.process_message_async(job.message)

    def _record(self, runtime: QueueRuntime, message: Any, outcome: Outcome) -> bool:
        """Ack per the queue's rules (delete, or backoff visibility)."""
        runtime.queue.record_outcome(
            runtime.acker, self._reports[id(runtime)], message, outcome
        )
        return succeeded(outcome)

    # -- time limits ----------------------------------------------------------------

    def _limits_possible(self) -> bool:
        """Whether any job may run under a time limit (else no per-job cost)."""
        if self.options.time_limit is not None:
            return True
        for queue in self.queues:
            if getattr(queue, "time_limit", None) is not None:
                return True
            processors = getattr(queue, "processors", None) or {}
            if any(
                getattr(p, "time_limit", None) is not None for p in processors.values()
            ):
                return True
        return False

    def _claim_to_record(self, job: Job) -> None:
        """The job's outcome is about to be recorded: from now on it cannot
        be given up on; raise ``JobAbandoned`` if it was already (whatever
        the call returned, it must not be acked)."""
        with self._limit_lock:
            if job.limit_state == GIVEN_UP:
                raise time_limits.JobAbandoned()
            job.limit_state = ENDED

    def _claim_for_give_up(self, job: Job) -> bool:
        """The watchdog: may it give up on ``job``? Not once it has ended."""
        with self._limit_lock:
            if job.limit_state == ENDED:
                return False
            job.limit_state = GIVEN_UP
            return True

    def _give_up(self, job: Job, thread: int | None) -> None:
        """The watchdog thread: ``job`` still runs past its hard time limit.

        Its message is made visible again for another worker, the heartbeat
        stops extending it, and its slot is given back (what the handler
        does when it returns, if ever, is discarded: ``JobAbandoned``). A
        stuck worker thread is replaced, so concurrency is kept; the stuck
        one is counted in ``lost_slots``, and under the supervisor the
        process is recycled once its other jobs are done. At concurrency 1
        the stuck thread is the run() thread itself: nothing more can run,
        so the worker starts nothing more and stops (releasing what it
        holds); run() returns if the handler ever does.
        """
        inline = isinstance(self._threads, InlineRunner)
        if inline:
            self._dispatcher.pause()
        elif thread is not None:
            self._threads.abandon(thread)  # type: ignore[union-attr]
        job.capped = True  # not extended again, should a beat be under way
        runtime = job.runtime
        self._release(runtime, [job])
        runtime.acker.flush_soon()
        released, _ = self._dispatcher.done(job, False)
        if released:
            self._release_jobs(released)
        stuck = inline or thread is not None
        if stuck:
            self.lost_slots += 1
        if inline:
            what = "its thread is stuck: the worker can run nothing more and stops"
        elif stuck:
            what = f"its thread is stuck and was replaced ({self.lost_slots} so far)"
        else:
            what = "its task is left to end on its own"
        logger.error(
            "Gave up on %s past its hard time limit: message released; %s",
            job,
            what,
        )
        if stuck and self.recycle_when_slot_lost:
            self.recycle_requested.set()
            logger.warning("Asking the supervisor to recycle this process")
            self.stop()
        elif inline:
            self.stop()

    def _finish(self, job: Job, success: bool, take_next: bool = False) -> Job | None:
        if not self._never_stops:
            self._feed_policy()
        runtime = job.runtime
        released, following = self._dispatcher.done(job, success, take_next)
        # Its delete may still be on its way (batched, or retried): the
        # heartbeat keeps the message invisible until SQS confirmed it.
        runtime.acker.guard(job)
        if released:
            self._release_jobs(released)
        if runtime.looks_drained and not self._dispatcher.holds(runtime):
            # Nothing in hand and the queue looked drained: no job will fill
            # the batch soon, and waiting out ack_delay would only delay
            # the deletes. (Under load the batch fills up instead.)
            runtime.acker.flush_soon()
        # No wake-up of the run() thread per job: _feed_policy above wakes
        # it when the policy says stop, and a thread woken thousands of
        # times a second would compete with the jobs for the GIL.
        return following
