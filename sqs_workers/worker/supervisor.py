"""The supervisor: worker processes for several queues, kept alive and fresh.

For each queue it runs ``processes`` worker processes (forked, like the
original ``process_queues``). A process that ends because its shutdown policy
said so stays ended; one that reaches ``max_jobs_per_process`` exits with
``RECYCLED`` and is replaced at once (a guard against leaks), and so does
one whose worker lost a thread to a job stuck past its hard time limit
(``Worker.recycle_when_slot_lost``; the stuck thread goes with the
process); one that
crashes is replaced after a delay that doubles while crashes repeat. A queue
that does not exist is a configuration error: its process exits with
``CONFIG_ERROR`` and is not restarted.

Signals: SIGTERM/SIGINT to the supervisor are forwarded to every child as
SIGTERM (once per signal, so a second one makes the children stop cold), and
no process is started after. Children run in their own process group, so a
Ctrl-C on the terminal reaches them once, through the supervisor.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import wait as wait_for_sentinels
from multiprocessing.process import BaseProcess
from typing import Any

from sqs_workers.shutdown_policies import MaxTasksShutdown, OrShutdown, ShutdownPolicy
from sqs_workers.worker.options import SupervisorOptions, WorkerOptions
from sqs_workers.worker.receiver import is_fatal
from sqs_workers.worker.signals import SignalCounter, may_install, stop_signals
from sqs_workers.worker.worker import Worker

logger = logging.getLogger(__name__)

RECYCLED = 3
CONFIG_ERROR = 78  # EX_CONFIG
# A process that lived this long before crashing resets the restart delay.
STABLE_SECONDS = 60.0
POLL = 0.2


@dataclass
class _Slot:
    """One place for a worker process of one queue."""

    queue_name: str
    index: int
    process: BaseProcess | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    crashes: int = 0
    done: bool = False
    recycles: int = 0


class Supervisor:
    def __init__(
        self,
        env: Any,
        queue_names: Sequence[str],
        shutdown_policy_maker: Callable[[], ShutdownPolicy],
        options: SupervisorOptions | None = None,
        handle_signals: bool | None = None,
    ) -> None:
        self.env = env
        self.queue_names = list(queue_names)
        self.shutdown_policy_maker = shutdown_policy_maker
        self.options = options or SupervisorOptions()
        self._handle_signals = handle_signals
        self._context = multiprocessing.get_context("fork")
        self._slots = [
            _Slot(name, i)
            for name in self.queue_names
            for i in range(self.options.processes)
        ]
        self._signals = SignalCounter()
        self._requested = 0  # stop requests from stop(): 1 warm, 2 cold
        self._forwarded = 0
        self._wakeup = threading.Event()
        self.started = threading.Event()

    # -- public -------------------------------------------------------------

    def run(self) -> None:
        """Start the processes; return when all have ended for good."""
        for name in self.queue_names:
            self.env.queue(name).get_queue_url()  # a missing queue fails here
        with stop_signals(self._signals, may_install(self._handle_signals)):
            for slot in self._slots:
                self._start(slot)
            self.started.set()
            while not all(slot.done for slot in self._slots):
                self._step()

    def stop(self, cold: bool = False) -> None:
        """Stop every process (warm: jobs finish; cold: at once); start no more."""
        self._requested = max(self._requested, 2 if cold else 1)
        self._wakeup.set()

    def pids(self) -> list[int]:
        return [
            slot.process.pid
            for slot in self._slots
            if slot.process is not None and slot.process.pid is not None
        ]

    def recycles(self) -> int:
        return sum(slot.recycles for slot in self._slots)

    def restarts(self) -> int:
        return sum(slot.crashes for slot in self._slots)

    # -- the loop -----------------------------------------------------------

    @property
    def _stopping(self) -> bool:
        return self._signals.count > 0 or self._requested > 0

    def _step(self) -> None:
        sentinels = [
            s.process.sentinel for s in self._slots if s.process and not s.done
        ]
        if sentinels:
            wait_for_sentinels(sentinels, timeout=POLL)
        else:
            self._wakeup.wait(POLL)
        self._wakeup.clear()
        self._forward_stops()
        now = time.monotonic()
        for slot in self._slots:
            if slot.done:
                continue
            if slot.process is not None and slot.process.exitcode is not None:
                self._reap(slot, now)
            if slot.restart_at is not None and not slot.done:
                if self._stopping:
                    slot.done = True
                elif now >= slot.restart_at:
                    self._start(slot)

    def _forward_stops(self) -> None:
        wanted = max(self._signals.count, self._requested)
        while self._forwarded < wanted:
            self._forwarded += 1
            logger.info(
                "Stopping worker processes (%s)",
                "warm" if self._forwarded == 1 else "cold",
            )
            for slot in self._slots:
                process = slot.process
                if process is not None and process.exitcode is None and process.pid:
                    try:
                        os.kill(process.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass

    def _reap(self, slot: _Slot, now: float) -> None:
        assert slot.process is not None
        code = slot.process.exitcode
        slot.process.join()
        slot.process = None
        if code == RECYCLED and not self._stopping:
            slot.recycles += 1
            logger.info("Recycling the worker of %s #%d", slot.queue_name, slot.index)
            slot.restart_at = now
            return
        if code in (0, RECYCLED) or self._stopping:
            slot.done = True
            return
        if code == CONFIG_ERROR:
            logger.error(
                "Worker of %s: configuration error; not restarting", slot.queue_name
            )
            slot.done = True
            return
        if not self.options.restart_crashed:
            logger.error("Worker of %s exited with %s", slot.queue_name, code)
            slot.done = True
            return
        if now - slot.started_at >= STABLE_SECONDS:
            slot.crashes = 0
        delay = min(
            self.options.max_restart_delay,
            self.options.restart_delay * 2**slot.crashes,
        )
        slot.crashes += 1
        logger.error(
            "Worker of %s exited with %s; restarting in %.1fs",
            slot.queue_name,
            code,
            delay,
        )
        slot.restart_at = now + delay

    def _start(self, slot: _Slot) -> None:
        queue = self.env.queue(slot.queue_name)
        process = self._context.Process(
            target=_child_main,
            args=(
                queue,
                self.shutdown_policy_maker,
                self.options.max_jobs_per_process,
                self.options.worker,
                os.getpid(),
            ),
            name=f"sqs-worker-{slot.queue_name}-{slot.index}",
        )
        process.start()
        slot.process = process
        slot.started_at = time.monotonic()
        slot.restart_at = None


def _child_main(
    queue: Any,
    make_policy: Callable[[], ShutdownPolicy],
    max_jobs: int | None,
    options: WorkerOptions,
    parent_pid: int,
) -> None:
    """A worker process: one Worker on one queue; the exit code tells why it ended."""
    # Until the worker installs its handlers, a stop signal just ends us
    # (nothing is held yet); and Ctrl-C reaches us through the supervisor only.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setpgrp()
    _fresh_connections(queue.client)
    user_policy = make_policy()
    recycle = MaxTasksShutdown(max_jobs) if max_jobs else None
    policy: ShutdownPolicy = (
        OrShutdown(user_policy, recycle) if recycle else user_policy
    )
    worker = Worker(
        [queue],
        policy,
        replace(options, shutdown=replace(options.shutdown, handle_signals=True)),
    )
    # A thread stuck past its job's hard time limit is only replaced in the
    # worker: recycling the process is what frees it.
    worker.recycle_when_slot_lost = True
    _watch_parent(worker, parent_pid)
    try:
        worker.run()
    except Exception as error:
        if is_fatal(error):
            logger.error("%s", error)
            sys.exit(CONFIG_ERROR)
        raise
    if worker.recycle_requested.is_set():
        sys.exit(RECYCLED)
    if (
        recycle is not None
        and recycle.need_shutdown()
        and not user_policy.need_shutdown()
    ):
        sys.exit(RECYCLED)


def _fresh_connections(client: Any) -> None:
    """Drop pooled HTTP connections inherited through fork.

    The parent and sibling processes hold the same sockets; sharing one
    connection between processes garbles responses.
    """
    try:
        client._endpoint.http_session.close()
    except Exception:  # not a botocore client (e.g. the in-memory one)
        pass


def _watch_parent(worker: Worker, parent_pid: int) -> None:
    """Stop the worker if the supervisor dies (we would be orphaned)."""

    def watch() -> None:
        while not worker.finished.wait(1.0):
            if os.getppid() != parent_pid:
                logger.warning("Supervisor %d is gone: stopping", parent_pid)
                worker.stop()
                return

    threading.Thread(target=watch, name="sqs-parent-watch", daemon=True).start()
