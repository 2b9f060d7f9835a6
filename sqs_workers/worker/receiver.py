"""The receiver: one thread per queue that long-polls while there is room.

It asks the dispatcher for room first, so the worker never holds more than
its bounded prefetch, then receives up to 10 messages in one call. SQS
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
from sqs_workers.worker.dispatcher import Dispatcher
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


def is_fatal(error: BaseException) -> bool:
    """A missing queue: stop the worker and say so, instead of retrying."""
    return (
        isinstance(error, ClientError)
        and error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES
    )


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
    ) -> None:
        self._runtime = runtime
        self._dispatcher = dispatcher
        self._wait = int(wait_seconds)
        self._release = release
        self._on_empty = on_empty
        self._on_fatal = on_fatal
        self._stopped = stopped
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
            try:
                jobs = self._receive(room)
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
                if self._wait == 0:
                    self._pause_while_empty()
                continue
            self._announce(jobs)
            refused = self._dispatcher.put(self._runtime, jobs, room)
            if refused:  # the worker began stopping during the long poll
                self._release(self._runtime, refused)

    def _announce(self, jobs: list[Job]) -> None:
        """Middleware's ``after_receive``, once per message received."""
        stack = self._runtime.queue.middleware_stack
        if stack.after_receive:
            name = self._runtime.name
            for job in jobs:
                for message in job.all_messages():
                    stack.call("after_receive", name, message)

    def _pause_while_empty(self) -> None:
        """After an empty receive without long polling: do not spin.

        With jobs still running, poll again as soon as they are done (an
        empty poll then tells the shutdown policy the worker is idle); with
        none, pause briefly.
        """
        if not self._dispatcher.wait_drained(self._runtime, EMPTY_POLL_PAUSE):
            self._stopped.wait(EMPTY_POLL_PAUSE)

    def _receive(self, room: int) -> list[Job]:
        runtime = self._runtime
        asked = runtime.receive_visibility
        if runtime.batch_size:
            messages = receive_up_to(
                runtime.client, runtime.url, runtime.batch_size, self._wait, asked
            )
            runtime.looks_drained = len(messages) < runtime.batch_size
            if not messages:
                return []
            received_at = time.monotonic()
            deadline = received_at + runtime.visibility_timeout
            return [Job(runtime, messages[0], received_at, deadline, messages)]
        messages = receive_messages(
            runtime.client, runtime.url, room, self._wait, asked
        )
        runtime.looks_drained = len(messages) < room
        # SQS starts a message's visibility clock when it hands it out, at
        # the end of the long poll, not when the poll began: reckoning from
        # the start would judge a message that arrived late in a long poll
        # stale at once.
        received_at = time.monotonic()
        deadline = received_at + runtime.visibility_timeout
        return [Job(runtime, m, received_at, deadline) for m in messages]

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
