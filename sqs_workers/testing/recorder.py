"""Recording how each job ended, while ``run_until_idle`` runs.

``OutcomeRecorder`` is a ``Middleware``: its ``after_job`` hook sees each
job's outcome (kind and exception) on the processing path the worker uses.
It is installed once per env and records only while a run is active, so it
costs one call per job between runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqs_workers.middleware import JobOutcome, JobRun, Middleware


@dataclass(frozen=True)
class JobEnded:
    """One handler call's outcome: ``kind`` is success/retry/drop/error/refused."""

    queue_name: str
    job_name: str | None
    kind: str
    exception: BaseException | None = None
    kwargs: Any = None


class OutcomeRecorder(Middleware):
    """Keeps the outcome of each job that ends while recording is on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._ended: list[JobEnded] = []

    def after_job(self, job: JobRun, outcome: JobOutcome) -> None:
        if not self._active:
            return
        ended = JobEnded(
            job.queue_name, job.job_name, outcome.kind, outcome.exception, job.kwargs
        )
        with self._lock:
            self._ended.append(ended)

    def start(self) -> None:
        with self._lock:
            self._active += 1

    def stop(self) -> None:
        with self._lock:
            self._active = max(0, self._active - 1)

    def take(self) -> list[JobEnded]:
        """What ended since the last call."""
        with self._lock:
            ended, self._ended = self._ended, []
        return ended


def recorder_of(env: Any) -> OutcomeRecorder:
    """The env's recorder, installed (innermost) on first use."""
    for middleware in env.middleware_stack:
        if isinstance(middleware, OutcomeRecorder):
            return middleware
    recorder = OutcomeRecorder()
    env.add_middleware(recorder)
    return recorder
