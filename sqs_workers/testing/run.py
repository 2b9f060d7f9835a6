"""``run_until_idle``: run every due job and the jobs they enqueue, until none is due.

It drives the queues' own ``process_batch`` (receive, run, ack), so each
job takes the path a worker gives it: the same decoding, middleware, retries
with the queue's backoff, and redrive to the dead-letter queue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqs_workers.middleware import ERROR, REFUSED
from sqs_workers.queue import GenericQueue, JobQueue, RawQueue
from sqs_workers.testing.recorder import JobEnded, recorder_of

DEFAULT_MAX_ROUNDS = 1000


class RunawayJobs(RuntimeError):
    """``run_until_idle`` processed ``max_rounds`` batches and jobs were still due."""


class JobNotProcessed(RuntimeError):
    """A job was received but not run: no processor for its name, or refused."""


@dataclass(frozen=True)
class JobError:
    """A handler's exception, collected by ``run_until_idle(raise_errors=False)``."""

    queue_name: str
    job_name: str | None
    exception: BaseException
    kwargs: Any = None  # the job's decoded arguments (None if not decoded)

    def __repr__(self) -> str:
        return f"JobError({self.queue_name!r}, {self.job_name!r}, {self.exception!r})"


@dataclass
class RunResult:
    """What one ``run_until_idle`` call did.

    ``outcomes`` counts jobs by how they ended (``"success"``, ``"retry"``,
    ``"drop"``, ``"error"``, ``"refused"``); a job is one handler call, so a
    ``BatchMessages`` list counts once. ``errors`` holds the handlers'
    exceptions when they were collected rather than raised; ``rounds`` the
    batches received.
    """

    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[JobError] = field(default_factory=list)
    rounds: int = 0

    @property
    def processed(self) -> int:
        """Jobs run (or refused) in all."""
        return sum(self.outcomes.values())


def run_until_idle(
    target: Any,
    *,
    raise_errors: bool = True,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    result: RunResult | None = None,
) -> RunResult:
    """Process ``target`` (a queue, or an env: all its queues with processors)
    until no job is due.

    Jobs enqueued by the jobs run are run too. A job whose handler raises is
    retried by the queue's rules (hidden for the backoff); with
    ``raise_errors`` (the default) its exception is then raised here, with
    the handler's traceback; otherwise it is collected in ``errors``.
    A job that is not run (no processor for its name) raises
    ``JobNotProcessed`` likewise. After ``max_rounds`` batches with jobs
    still due, ``RunawayJobs`` is raised (a job re-enqueueing itself).
    ``result``: a ``RunResult`` to add to (it keeps the counts even when
    the run ends with an exception).

    A delayed job, or a retry waiting out its backoff, is not due yet:
    move the clock (``SQSTestKit.advance``) and call this again.
    """
    env, queues = _target(target)
    recorder = recorder_of(env)
    if result is None:
        result = RunResult()
    rounds = 0
    recorder.start()
    try:
        while True:
            busy = False
            for queue in queues():
                batch = queue.process_batch(wait_seconds=0)
                if not batch.total_count():
                    continue
                busy = True
                rounds += 1
                result.rounds += 1
                ended = recorder.take()
                _record(result, ended, raise_errors)
                if rounds > max_rounds:
                    raise _runaway(max_rounds, queue, ended)
            if not busy:
                return result
    finally:
        recorder.stop()


def _target(target: Any) -> tuple[Any, Any]:
    """The env, and a function giving the queues to process on each pass."""
    if isinstance(target, GenericQueue):
        return target.env, lambda: [target]
    if hasattr(target, "queues") and hasattr(target, "sqs_client"):
        return target, lambda: [q for q in list(target.queues.values()) if _runs(q)]
    raise TypeError(
        f"run_until_idle() takes a queue or an SQSEnv, got {target!r}; "
        "for a queue by name, write run_until_idle(env.queue(name))"
    )


def _runs(queue: GenericQueue) -> bool:
    """Whether a queue has something to run its jobs with.

    A queue object made only to send to, or to look at (a dead-letter
    queue), is left alone: receiving there would count receives and, with
    no processor, fail its messages.
    """
    if isinstance(queue, JobQueue):
        return bool(queue.processors)
    if isinstance(queue, RawQueue):
        return queue.processor is not None
    return True


def _record(result: RunResult, ended: list[JobEnded], raise_errors: bool) -> None:
    for job in ended:
        result.outcomes[job.kind] += 1
    for job in ended:
        if job.kind == ERROR and job.exception is not None:
            if raise_errors:
                raise job.exception
            result.errors.append(
                JobError(job.queue_name, job.job_name, job.exception, job.kwargs)
            )
        elif job.kind == REFUSED:
            error = _not_processed(job)
            if raise_errors:
                raise error
            result.errors.append(
                JobError(job.queue_name, job.job_name, error, job.kwargs)
            )


def _not_processed(job: JobEnded) -> JobNotProcessed:
    # The refusal says why (no processor, a content type not accepted, a
    # middleware's check) and what to do.
    return JobNotProcessed(
        f"job {job.job_name!r} on queue {job.queue_name!r} was not run: {job.exception}"
    )


def _runaway(
    max_rounds: int, queue: GenericQueue, ended: list[JobEnded]
) -> RunawayJobs:
    names = sorted({str(j.job_name) for j in ended if j.job_name})
    return RunawayJobs(
        f"run_until_idle() processed {max_rounds} batches and jobs were still due "
        f"(last on queue {queue.name!r}: {', '.join(names) or 'raw messages'}). "
        "A job probably enqueues itself again, or keeps failing with no backoff. "
        "If this many jobs is expected, pass max_rounds= a larger number."
    )
