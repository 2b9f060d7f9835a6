"""Recording how each job ended, while ``run_until_idle`` runs.

``OutcomeRecorder`` is a ``Middleware``: its ``after_job`` hook sees each
job's outcome (kind and exception) on the processing path the worker uses.
It is installed once per env and records only while a run is active, so it
costs nothing between runs.

``LogRecorder`` reads the same from the ``sqs_workers`` log records, for an
env without middleware hooks on its processing path.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from sqs_workers.middleware import (
    DROP,
    ERROR,
    REFUSED,
    RETRY,
    SUCCESS,
    JobOutcome,
    JobRun,
    Middleware,
)


@dataclass(frozen=True)
class JobEnded:
    """One handler call's outcome: ``kind`` is success/retry/drop/error/refused."""

    queue_name: str
    job_name: str | None
    kind: str
    exception: BaseException | None = None


class Recorder(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def take(self, queue_name: str, succeeded: int, failed: int) -> list[JobEnded]:
        """What ended since the last call (one processed batch of that queue)."""
        ...


class OutcomeRecorder(Middleware):
    """Keeps the outcome of each job that ends while recording is on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._ended: list[JobEnded] = []

    def after_job(self, job: JobRun, outcome: JobOutcome) -> None:
        if not self._active:
            return
        ended = JobEnded(job.queue_name, job.job_name, outcome.kind, outcome.exception)
        with self._lock:
            self._ended.append(ended)

    def start(self) -> None:
        with self._lock:
            self._active += 1

    def stop(self) -> None:
        with self._lock:
            self._active = max(0, self._active - 1)

    def take(self, queue_name: str, succeeded: int, failed: int) -> list[JobEnded]:
        with self._lock:
            ended, self._ended = self._ended, []
        return ended


class LogRecorder(logging.Handler):
    """Reads outcomes off the ``sqs_workers`` log records.

    Errors carry their exception in ``exc_info``; drops and missing
    processors have messages of their own; successes and intended retries
    are what remains of the batch's counts.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._ended: list[JobEnded] = []
        self._active = 0
        self._logger = logging.getLogger("sqs_workers")

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        queue_name = str(args[0]) if args else ""
        job_name = str(args[1]) if len(args) > 1 else None
        if record.exc_info and record.exc_info[1] is not None:
            kind, exception = ERROR, record.exc_info[1]
        elif text.startswith("Dropping"):
            kind, exception = DROP, None
        elif text.startswith("Could not find an SQS processor"):
            kind, exception = REFUSED, None
        else:
            return
        self._ended.append(JobEnded(queue_name, job_name, kind, exception))

    def start(self) -> None:
        if not self._active:
            self._logger.addHandler(self)
        self._active += 1

    def stop(self) -> None:
        self._active = max(0, self._active - 1)
        if not self._active:
            self._logger.removeHandler(self)

    def take(self, queue_name: str, succeeded: int, failed: int) -> list[JobEnded]:
        ended, self._ended = self._ended, []
        drops = sum(1 for e in ended if e.kind == DROP)
        failures = sum(1 for e in ended if e.kind in (ERROR, REFUSED))
        ended += [JobEnded(queue_name, None, SUCCESS)] * (succeeded - drops)
        ended += [JobEnded(queue_name, None, RETRY)] * (failed - failures)
        return ended


_LOG_RECORDER = LogRecorder()


def recorder_of(env: Any) -> Recorder:
    """The env's recorder, installed on first use."""
    stack = getattr(env, "middleware_stack", None)
    if stack is None:
        return _LOG_RECORDER
    for middleware in stack:
        if isinstance(middleware, OutcomeRecorder):
            return middleware
    recorder = OutcomeRecorder()
    env.add_middleware(recorder)
    return recorder
