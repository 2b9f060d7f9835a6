"""The heartbeat: keep held messages invisible while their jobs need them.

Every ``interval`` it looks for held messages (running or prefetched, and
finished ones whose delete SQS has not confirmed yet) whose visibility ends
within half an extension, and extends them all with one
ChangeMessageVisibilityBatch per 10 messages per queue. A job may then run
far longer than its queue's visibility timeout and still run once.

The batches of one beat go out in parallel (at most ``MAX_IN_FLIGHT`` at
once), each tried once: a slow or failing call holds up neither the other
queues nor the other batches, and never sleeps through a backoff. What
failed is tried again at the next beat, which comes sooner after a failure
(``RETRY_INTERVAL``); the extension horizon leaves at least a beat and a
half of margin for that.

SQS refuses to keep a message invisible more than 12 hours after its
receipt. The last extension stops at that cap (less a margin), and a log line
says the message will become visible again while its job still runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES
from sqs_workers.worker.dispatcher import Dispatcher
from sqs_workers.worker.jobs import Job, QueueRuntime
from sqs_workers.worker.options import HeartbeatOptions

logger = logging.getLogger(__name__)

MIN_INTERVAL = 0.2
MAX_INTERVAL = 30.0
# Never ask for less than this: an extension of a second or two would be
# spent before it arrives.
MIN_EXTENSION = 2
# Extension batches in flight at once (all queues of the worker together).
MAX_IN_FLIGHT = 4
# After a beat in which a call failed, the next one comes this soon (or at
# the usual interval, if shorter).
RETRY_INTERVAL = 1.0


def plan_extension(
    now: float, received_at: float, extend_by: int, max_visibility: float
) -> int | None:
    """Seconds to extend a message by now, or None once the cap is reached.

    The new visibility ends ``extend_by`` seconds from now, but never past
    ``received_at + max_visibility``.
    """
    remaining = max_visibility - (now - received_at)
    if remaining < MIN_EXTENSION:
        return None
    return int(min(extend_by, remaining))


def interval_for(options: HeartbeatOptions, visibility_timeout: int) -> float:
    if options.interval is not None:
        return options.interval
    return min(MAX_INTERVAL, max(MIN_INTERVAL, visibility_timeout / 4))


class Heartbeat:
    def __init__(
        self,
        runtimes: Sequence[QueueRuntime],
        dispatcher: Dispatcher,
        options: HeartbeatOptions,
        visibility_timeout: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runtimes = list(runtimes)
        self._dispatcher = dispatcher
        self._options = options
        self._clock = clock
        self._extend_by = {
            id(rt): max(
                MIN_EXTENSION,
                options.extend_by or visibility_timeout or rt.visibility_timeout,
            )
            for rt in runtimes
        }
        self.interval = min(
            interval_for(options, visibility_timeout or rt.visibility_timeout)
            for rt in runtimes
        )
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="sqs-heartbeat", daemon=True
        )
        # Started on the first beat with two batches or more to send.
        self._pool: ThreadPoolExecutor | None = None
        self._failed = False  # a call failed in the last beat

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(10)
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def _loop(self) -> None:
        while not self._stopped.wait(self._next_wait()):
            try:
                self.beat()
            except Exception:  # a missed beat is retried next interval
                logger.exception("Heartbeat failed")

    def _next_wait(self) -> float:
        if self._failed:
            return min(self.interval, RETRY_INTERVAL)
        return self.interval

    def beat(self) -> int:
        """Extend every held message that needs it now; how many were extended."""
        sends: list[tuple[QueueRuntime, list[tuple[Job, Any, int]], float]] = []
        for runtime in self._runtimes:
            extend_by = self._extend_by[id(runtime)]
            # Extend while at least a beat and a half of margin remains.
            horizon = max(extend_by / 2, self.interval * 1.5)
            now = self._clock()
            before = now + horizon
            due = self._dispatcher.due_for_extension(runtime, before)
            # Finished jobs whose delete SQS has not confirmed yet: hidden
            # too, or a slow or failing delete would mean a second run.
            due.extend(runtime.acker.guarded_due(before))
            if due:
                sends.extend(
                    (runtime, batch, now)
                    for batch in self._extend(runtime, due, now, extend_by)
                )
        self._failed = False
        if len(sends) <= 1:  # the common case: no thread hand-over
            return sum(self._send(*send) for send in sends)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(MAX_IN_FLIGHT, "sqs-heartbeat-send")
        futures = [self._pool.submit(self._send, *send) for send in sends]
        return sum(future.result() for future in futures)

    def _extend(
        self, runtime: QueueRuntime, jobs: list[Job], now: float, extend_by: int
    ) -> list[list[tuple[Job, Any, int]]]:
        """The batches (10 entries at most) extending ``jobs``' messages."""
        entries: list[tuple[Job, Any, int]] = []
        for job in jobs:
            seconds = plan_extension(
                now, job.received_at, extend_by, self._options.max_visibility
            )
            if seconds is None:
                self._give_up(job, now)
                continue
            entries.extend((job, m, seconds) for m in job.all_messages())
        return [
            entries[start : start + MAX_BATCH_ENTRIES]
            for start in range(0, len(entries), MAX_BATCH_ENTRIES)
        ]

    def _give_up(self, job: Job, now: float) -> None:
        job.capped = True
        logger.warning(
            "%s has been invisible for %.0fs: SQS caps visibility at 12 hours "
            "since receipt, so the heartbeat stops extending it; it becomes "
            "visible again (and may run twice) if its job is still running then",
            job,
            now - job.received_at,
            extra=job.log_extra(),
        )

    def _send(
        self, runtime: QueueRuntime, batch: list[tuple[Job, Any, int]], now: float
    ) -> int:
        request = [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": s}
            for i, (_, m, s) in enumerate(batch)
        ]
        try:  # once: what fails is tried again at the next (sooner) beat
            response = runtime.client.change_message_visibility_batch(
                QueueUrl=runtime.url, Entries=request
            )
        except Exception as error:
            self._failed = True
            logger.warning(
                "Heartbeat for %s failed (%s: %s); trying again in %.1fs",
                runtime.name,
                type(error).__name__,
                error,
                min(self.interval, RETRY_INTERVAL),
            )
            return 0
        failed = {f["Id"] for f in response.get("Failed", ())}
        extended = 0
        for i, (job, _, seconds) in enumerate(batch):
            if str(i) in failed:
                # Usually the job just finished and its message is gone.
                if logger.isEnabledFor(logging.DEBUG) and self._dispatcher.is_held(job):
                    logger.debug("Heartbeat could not extend %s", job)
                continue
            job.deadline = now + seconds
            extended += 1
        return extended
