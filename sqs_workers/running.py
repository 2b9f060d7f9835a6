"""Running a job: the one path from a received message to its outcome.

Every way user code is called goes through here — sync and ``async def``
handlers, ``BatchMessages`` lists, raw queues, ``process_batch`` and the
worker at any concurrency — so each step happens once, in one place::

    arrive(queue, msg)    long delay not due: send it on; S3 payload: fetch
    check(job)            before_decode hooks; accepted content types
    (the queue decodes)   Processor.decode_job: kwargs, context
    call_sync/call_async  before_job hooks; around_job contexts; the call
    conclude(job, ...)    result or exception -> Outcome; logs; after_job

The queue (``sqs_workers.queue``) strings these together per kind of queue;
what an outcome means for the message (delete, or hide for the backoff) is
``sqs_workers.outcomes.acknowledge``.

Log records keep the original package's logger names, messages and
``extra`` fields (``message_id`` or ``message_ids``, ``queue_name``,
``job_name``, ``job_content_type``, ``backoff_policy``), which users' log
pipelines filter on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Literal

from sqs_workers import delays, payloads, time_limits
from sqs_workers.middleware import (
    DROP,
    ERROR,
    REFUSED,
    RETRY,
    SUCCESS,
    JobOutcome,
    JobRun,
    MessageRefused,
    MiddlewareStack,
    log_failure,
)
from sqs_workers.outcomes import DropJob, Outcome, ProcessingResult, RetryJob
from sqs_workers.sqs.message import string_value

# The original package logged jobs on these two loggers.
job_logger = logging.getLogger("sqs_workers.processors")
raw_logger = logging.getLogger("sqs_workers.queue")

_DEBUG = logging.DEBUG


def log_extra(job: JobRun) -> dict[str, Any]:
    """The ``extra`` fields of a log record about ``job`` (built only to log)."""
    extra: dict[str, Any] = {"queue_name": job.queue_name}
    if len(job.messages) == 1:
        extra["message_id"] = job.messages[0].message_id
    else:
        extra["message_ids"] = [m.message_id for m in job.messages]
    if job.job_name is not None:
        extra["job_name"] = job.job_name
    if job.content_type is not None:
        extra["job_content_type"] = job.content_type
    extra["receive_count"] = job.receive_count
    return extra


def label(job: JobRun) -> str:
    """How log messages name a job, in the original's words: ``queue.job``,
    ``batch for queue.job``; raw queues: ``queue.message_id``, ``queue for
    ids [...]``."""
    many = len(job.messages) > 1
    if job.job_name is not None:
        name = f"{job.queue_name}.{job.job_name}"
        return f"batch for {name}" if many else name
    if many:
        return f"{job.queue_name} for ids {[m.message_id for m in job.messages]}"
    return f"{job.queue_name}.{job.messages[0].message_id}"


def details(job: JobRun) -> str:
    """What an operator needs to find the message(s) of a failure."""
    ids = ", ".join(str(m.message_id) for m in job.messages)
    return f"message {ids}, receive count {job.receive_count}"


# -- on arrival: before a message is a job ----------------------------------------

_DUE = delays.DUE_ATTRIBUTE
_SIZE = payloads.SIZE_ATTRIBUTE
_LEGACY_SIZE = payloads.LEGACY_SIZE_ATTRIBUTE


def needs_arrival(message: Any) -> bool:
    """Whether ``arrive`` has anything to do for ``message`` (a long delay or
    an S3 payload); the one check every other message pays."""
    attributes = message.message_attributes
    return bool(attributes) and (
        _DUE in attributes or _SIZE in attributes or _LEGACY_SIZE in attributes
    )


def arrive(queue: Any, message: Any, job_name: str | None) -> Outcome | None:
    """What happens before ``message`` may run, in order:

    1. a long-delayed message not due yet is sent on (``sqs_workers.delays``):
       ``True`` (delete this copy), or ``False`` if the send failed (it comes
       back after the backoff); no job hooks fire for it;
    2. an S3 payload is fetched into ``message.body``
       (``sqs_workers.payloads``); one that cannot be is refused (the
       outcome of a ``MessageRefused``, reported to ``after_job``).

    None: the message is ready to be checked, decoded and run.
    """
    attributes = message.message_attributes
    due = delays.due_at(attributes)
    if due is not None:
        remaining = due - delays.clock_of(queue.client)()
        if remaining > 0:
            return send_on(queue, message, remaining)
    if payloads.is_offloaded(attributes):
        store = queue.env.payload_store
        try:
            if store is None:
                raise payloads.no_store_refusal(message.message_id)
            store.fetch(message)
        except MessageRefused as refusal:
            job = JobRun(queue.name, job_name, [message])
            return conclude(job, queue.env.middleware_stack, error=refusal)
    return None


def send_on(queue: Any, message: Any, remaining: float) -> Outcome:
    """One hop of a long delay: the same message again, delayed further."""
    entry = delays.hop_entry(message, remaining)
    try:
        queue.client.send_message(QueueUrl=queue.get_queue_url(), **entry)
    except Exception:
        raw_logger.exception(
            "Could not send on long-delayed message %s of %s (due in %.0f s); "
            "it comes back after the backoff",
            message.message_id,
            queue.name,
            remaining,
        )
        return False
    if raw_logger.isEnabledFor(_DEBUG):
        raw_logger.debug(
            "Message %s of %s is due in %.0f s: sent on with a delay of %s s",
            message.message_id,
            queue.name,
            remaining,
            entry["DelaySeconds"],
        )
    return True


# -- before decoding -----------------------------------------------------------


def check(
    job: JobRun, stack: MiddlewareStack, accepted: Collection[str] | None
) -> None:
    """Refuse what must not be decoded: raise ``MessageRefused``.

    Middleware (signatures, allow-lists) looks first; then each message's
    ``ContentType`` must be one this env accepts (raw queues: ``None``, no
    check), since decoding a pickle runs code chosen by whoever sent it.
    """
    if stack.before_decode:
        stack.decode_check(job)
    if accepted is not None:
        for message in job.messages:
            content_type = string_value(message.message_attributes, "ContentType")
            if content_type not in accepted:
                raise MessageRefused(
                    f"content type {content_type!r} of message "
                    f"{message.message_id} is not accepted by this worker "
                    f"(accepted: {', '.join(sorted(accepted))}); set "
                    "SQSEnv(accept_content=[...]) to change that"
                )


# -- calling the handler -----------------------------------------------------


def call_sync(
    job: JobRun,
    stack: MiddlewareStack,
    call: Callable[[], Any],
    time_limit: float | None = None,
) -> Any:
    """``call()`` inside the job's middleware; exceptions propagate.

    ``time_limit`` (the processor's or the queue's; else the worker's, see
    ``sqs_workers.time_limits``) bounds the call: past it the handler sees
    ``JobTimeLimitExceeded``.
    """
    if job_logger.isEnabledFor(_DEBUG):
        announce(job)
    if stack.before_job:
        stack.call("before_job", job)
    limit = time_limits.effective(time_limit)
    if limit is not None:
        return _call_limited(job, stack, call, limit)
    if not stack.around_job:
        return call()
    with around(job, stack):
        return call()


def _call_limited(
    job: JobRun, stack: MiddlewareStack, call: Callable[[], Any], limit: float
) -> Any:
    watch = time_limits.arm(job, stack, limit)
    try:
        if not stack.around_job:
            result = call()
        else:
            with around(job, stack):
                result = call()
    except BaseException as error:
        state = time_limits.release(watch)
        translated = watch.translate(error, state)
        if translated is error:
            raise
        raise translated from error
    if time_limits.release(watch) == time_limits.ABANDONED:
        raise time_limits.JobAbandoned()
    return result


async def call_async(
    job: JobRun,
    stack: MiddlewareStack,
    call: Callable[[], Awaitable[Any]],
    time_limit: float | None = None,
) -> Any:
    """``await call()`` inside the job's middleware, on the running loop;
    past ``time_limit`` the task is cancelled and ``JobTimeLimitExceeded``
    raised instead."""
    if job_logger.isEnabledFor(_DEBUG):
        announce(job)
    if stack.before_job:
        stack.call("before_job", job)
    limit = time_limits.effective(time_limit)
    if limit is not None:
        return await _await_limited(job, stack, call, limit)
    if not stack.around_job:
        return await call()
    with around(job, stack):
        return await call()


async def _await_limited(
    job: JobRun,
    stack: MiddlewareStack,
    call: Callable[[], Awaitable[Any]],
    limit: float,
) -> Any:
    watch = time_limits.arm_task(job, stack, limit)
    try:
        if not stack.around_job:
            result = await call()
        else:
            with around(job, stack):
                result = await call()
    except BaseException as error:
        state = watch.disarm()
        translated = watch.translate(error, state)
        if translated is error:
            raise
        raise translated from error
    if watch.disarm() == time_limits.ABANDONED:
        raise time_limits.JobAbandoned()
    return result


def announce(job: JobRun) -> None:
    """The original's DEBUG record as a job starts."""
    logger = job_logger if job.job_name is not None else raw_logger
    verb = "Processing" if len(job.messages) > 1 else "Process"
    logger.debug("%s %s", verb, label(job), extra=log_extra(job))


class around:
    """Enter every ``around_job`` context (first added outermost).

    A context sees the handler's exception but cannot swallow it (the
    outcome would lie); one that fails on entry or exit is logged and
    skipped, so a broken middleware never changes what happens to the job.
    A class rather than a generator: it is entered once per job.
    """

    __slots__ = ("_entered", "_job", "_stack")

    def __init__(self, job: JobRun, stack: MiddlewareStack) -> None:
        self._job = job
        self._stack = stack
        self._entered: list[tuple[Any, Any]] = []

    def __enter__(self) -> None:
        entered = self._entered
        for m in self._stack.around_job:
            try:
                context = m.around_job(self._job)
                if context is not None:
                    context.__enter__()
                    entered.append((m, context))
            except Exception:
                log_failure(m, "around_job")

    def __exit__(
        self, kind: Any, error: BaseException | None, trace: Any
    ) -> Literal[False]:
        for m, context in reversed(self._entered):
            try:
                context.__exit__(kind, error, trace)
            except Exception as failure:
                if failure is not error:
                    log_failure(m, "around_job")
        return False  # never swallow the handler's exception


def run_to_completion(awaitable: Awaitable[Any]) -> Any:
    """Run a coroutine a sync caller got from a handler (outside the worker's
    loop), so that an ``async def`` job is never acked unrun."""

    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())


def settle(result: Any) -> Any:
    """A handler's return value, run to completion if it is awaitable."""
    # None (what most handlers return) first: isawaitable() is an ABC check.
    if result is not None and inspect.isawaitable(result):
        return run_to_completion(result)
    return result


# -- after the call ---------------------------------------------------------------


def conclude(
    job: JobRun,
    stack: MiddlewareStack,
    result: Any = None,
    error: BaseException | None = None,
) -> Outcome:
    """The outcome of a job that returned ``result`` or raised ``error``.

    Logged the way its kind deserves (as the original package did), then
    reported to ``after_job`` hooks.
    """
    backoff = None
    if error is None:
        if isinstance(result, ProcessingResult):
            outcome: Outcome = result
            kind = SUCCESS if result.success else RETRY
            backoff = result.backoff_policy
        else:
            outcome, kind = True, SUCCESS
    else:
        outcome, kind, backoff = _outcome_of_error(job, error)
    if stack.after_job:
        duration = time.monotonic() - job.started
        stack.call("after_job", job, JobOutcome(kind, duration, error, backoff))
    return outcome


def _outcome_of_error(job: JobRun, error: BaseException) -> tuple[Outcome, str, Any]:
    logger = job_logger if job.job_name is not None else raw_logger
    if isinstance(error, RetryJob):
        extra = log_extra(job)
        if error.backoff_policy is not None:
            extra["backoff_policy"] = error.backoff_policy
        logger.info("Retrying %s", label(job), extra=extra)
        policy = error.backoff_policy
        return ProcessingResult(success=False, backoff_policy=policy), RETRY, policy
    if isinstance(error, DropJob):
        logger.warning(
            "Dropping %s without retry (%s): %s",
            label(job),
            details(job),
            error,
            extra=log_extra(job),
        )
        return True, DROP, None
    if isinstance(error, MessageRefused):
        logger.error(
            "Refused %s (%s): %s; it comes back after the backoff and goes to "
            "the dead-letter queue by the redrive policy",
            label(job),
            details(job),
            error,
            extra=log_extra(job),
        )
        return False, REFUSED, None
    logger.error(
        "Error while processing %s (%s)",
        label(job),
        details(job),
        exc_info=error,
        extra=log_extra(job),
    )
    return False, ERROR, None
