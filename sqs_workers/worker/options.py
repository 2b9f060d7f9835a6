"""The worker's options, grouped by concern in small frozen dataclasses.

Every option has a default that keeps a bare ``queue.process_queue()`` working
like the original (one job at a time), only with batched acks. Options can be
given as dataclasses or as flat keywords, which ``worker_options_from``
sorts into the right group::

    queue.process_queue(concurrency=16)
    queue.process_queue(options=WorkerOptions(concurrency=16))
    queue.process_queue(concurrency=16, heartbeat=HeartbeatOptions(enabled=False))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sqs_workers.sqs.limits import MAX_VISIBILITY_SECONDS, MAX_WAIT_SECONDS
from sqs_workers.time_limits import DEFAULT_GRACE, checked

SQS_MAX_VISIBILITY_SECONDS = MAX_VISIBILITY_SECONDS


@dataclass(frozen=True)
class HeartbeatOptions:
    """Keeping messages of running (and prefetched) jobs invisible.

    ``enabled``: on unless False (None, the default, means on). Without it a
    prefetched message that waits longer than the visibility timeout is
    released unrun, and a job that outlasts it may run twice.
    ``interval``: seconds between checks; None means a quarter of the
    queue's visibility timeout (at least 0.2 s, at most 30 s).
    ``extend_by``: seconds of visibility each extension grants; None means
    the queue's visibility timeout (so a crashed worker's messages come back
    as soon as they would have without a heartbeat).
    ``max_visibility``: stop extending once a message has been invisible
    this long since its receipt (SQS refuses more than 12 hours).
    """

    enabled: bool | None = None
    interval: float | None = None
    extend_by: int | None = None
    max_visibility: float = SQS_MAX_VISIBILITY_SECONDS - 60


@dataclass(frozen=True)
class ShutdownOptions:
    """How the worker stops (signal, ``Worker.stop()`` or shutdown policy).

    ``grace_period``: seconds running jobs get to finish on a warm stop; past
    it the worker returns and their messages reappear after their visibility
    timeout. ``handle_signals``: install SIGTERM/SIGINT handlers; None means
    only when the worker runs in the main thread.
    """

    grace_period: float = 30.0
    handle_signals: bool | None = None


@dataclass(frozen=True)
class WorkerOptions:
    """How one worker receives, runs and acknowledges jobs.

    ``concurrency``: jobs running at once: sync handlers in a thread pool of
    that size (threads started on demand), async handlers on the worker's
    event loop.
    ``prefetch``: received messages held ready beyond the running ones;
    None means max(10 * (receivers + 1), concurrency) (with adaptive
    receivers, for those working at the time): room for a full
    receive of 10 per receiver beyond the ones being run, so the next
    receive overlaps the jobs of the previous one.
    ``receivers``: receive calls in flight at once per queue (one thread
    each); more than 1 helps when the SQS round trip, not the jobs, limits
    throughput (a remote region, a slow emulator). None (the default):
    adaptive, from 1 up to 8 per queue: one more while receives come back
    full and the jobs had run out of work, one fewer while receives come
    back less than half full; at concurrency 1, while receives wait less
    than 1 ms (an in-memory SQS, one on the same host), the thread running
    the jobs receives and deletes itself instead (no hand-over between
    threads; see ``sqs_workers.worker.receiver.InlineReceiver``).
    ``wait_seconds``: the long-poll wait of each ReceiveMessage (0-20).
    ``visibility_timeout``: asked for on each receive; None uses the queue's.
    ``ack_delay``: longest a finished job's delete waits to share a batch.
    ``startup_timeout``: how long transient SQS errors (throttling, 5xx,
    dropped connections) at start, while looking up the queues, are retried
    before ``run()`` gives up and raises them. A missing queue or denied
    access raises at once.
    ``time_limit``: seconds a job may run when neither its processor nor its
    queue sets a limit; None (the default): no limit. Past it the handler
    sees ``JobTimeLimitExceeded`` (``sqs_workers.time_limits``).
    ``time_limit_grace``: seconds after the limit before the hard one: the
    worker gives up on a job still running then (its message is released
    for another worker, its slot replaced).
    """

    concurrency: int = 1
    prefetch: int | None = None
    receivers: int | None = None
    wait_seconds: float = 10
    visibility_timeout: int | None = None
    ack_delay: float = 0.05
    startup_timeout: float = 60.0
    heartbeat: HeartbeatOptions = field(default_factory=HeartbeatOptions)
    shutdown: ShutdownOptions = field(default_factory=ShutdownOptions)
    time_limit: float | None = None
    time_limit_grace: float = DEFAULT_GRACE

    def __post_init__(self) -> None:
        checked(self.time_limit)
        checked(self.time_limit_grace, "time_limit_grace")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.receivers is not None and self.receivers < 1:
            raise ValueError(f"receivers must be >= 1, got {self.receivers}")
        if self.prefetch is not None and self.prefetch < 0:
            raise ValueError(f"prefetch must be >= 0, got {self.prefetch}")
        if self.startup_timeout < 0:
            raise ValueError(
                f"startup_timeout must be >= 0, got {self.startup_timeout}"
            )
        if not 0 <= self.wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError(
                f"wait_seconds must be in [0, {MAX_WAIT_SECONDS}], "
                f"got {self.wait_seconds}"
            )

    @property
    def prefetch_count(self) -> int:
        if self.prefetch is not None:
            return self.prefetch
        return max(10 * ((self.receivers or 1) + 1), self.concurrency)

    @property
    def heartbeat_enabled(self) -> bool:
        return self.heartbeat.enabled is not False


@dataclass(frozen=True)
class SupervisorOptions:
    """``SQSEnv.process_queues``: the worker processes and their lifecycle.

    ``processes``: worker processes per queue. ``max_jobs_per_process``:
    recycle (stop and replace) a process after that many jobs, a guard
    against leaks; None never recycles. ``restart_crashed``: replace a
    process that died; ``restart_delay`` is the first wait before doing so,
    doubled on each crash in a row up to ``max_restart_delay``.
    """

    processes: int = 1
    max_jobs_per_process: int | None = None
    restart_crashed: bool = True
    restart_delay: float = 0.5
    max_restart_delay: float = 30.0
    worker: WorkerOptions = field(default_factory=WorkerOptions)

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ValueError(f"processes must be >= 1, got {self.processes}")


def _names(cls: type[Any]) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def worker_options_from(
    options: WorkerOptions | None = None, **kwargs: Any
) -> WorkerOptions:
    """``options`` (or the defaults) with flat keywords applied to their group.

    Heartbeat fields take a ``heartbeat_`` prefix (``heartbeat_interval=5``);
    ``heartbeat=False``/``True`` is short for ``HeartbeatOptions(enabled=...)``;
    ``grace_period`` and ``handle_signals`` land in ``ShutdownOptions``.
    Unknown names raise ``TypeError`` at once rather than being ignored.
    """
    base = options or WorkerOptions()
    top: dict[str, Any] = {}
    heartbeat: dict[str, Any] = {}
    shutdown: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name == "heartbeat" and isinstance(value, bool):
            heartbeat["enabled"] = value
        elif name in _names(WorkerOptions):
            top[name] = value
        elif name.startswith("heartbeat_") and name[10:] in _names(HeartbeatOptions):
            heartbeat[name[10:]] = value
        elif name in _names(ShutdownOptions):
            shutdown[name] = value
        else:
            raise TypeError(f"unknown worker option {name!r}")
    if heartbeat:
        top["heartbeat"] = dataclasses.replace(
            top.get("heartbeat", base.heartbeat), **heartbeat
        )
    if shutdown:
        top["shutdown"] = dataclasses.replace(
            top.get("shutdown", base.shutdown), **shutdown
        )
    return dataclasses.replace(base, **top)


def supervisor_options_from(
    options: SupervisorOptions | None = None, **kwargs: Any
) -> SupervisorOptions:
    """Like ``worker_options_from``; worker keywords go to the children's options."""
    base = options or SupervisorOptions()
    own = {k: kwargs.pop(k) for k in list(kwargs) if k in _names(SupervisorOptions)}
    worker_base = own.pop("worker", base.worker)
    if kwargs:
        own["worker"] = worker_options_from(worker_base, **kwargs)
    elif worker_base is not base.worker:
        own["worker"] = worker_base
    return dataclasses.replace(base, **own)
