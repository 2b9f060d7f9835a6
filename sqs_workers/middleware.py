"""Middleware: one extension point for a job's whole life.

Subclass ``Middleware``, override the hooks you need (all default to doing
nothing) and install it with ``SQSEnv(middleware=[...])`` or
``env.add_middleware(m)``. Metrics, tracing, JSON logs, error reporting and
message signing are all built this way.

The life of a job, and the hook that sees each step::

    producer    before_send(outgoing)          may add message attributes
    worker      worker_started(worker)
                after_receive(queue_name, message)   once per message
                before_decode(job)             may refuse (raise MessageRefused)
                before_job(job)                job.kwargs decoded
                  around_job(job)              a context manager around the call
                after_job(job, outcome)        success/retry/drop/error/refused
                worker_stopped(worker)

Where each runs: ``before_send`` on the thread that sends; ``after_receive``
on the receiving thread; ``before_decode``, ``before_job``, ``around_job``
and ``after_job`` where the handler runs (its worker thread, or the event
loop's thread for ``async def`` handlers, inside the job's task, so a
``contextvars`` value set there is seen by the handler); the worker hooks on
the thread that called ``run()``.

A "job" is one handler call: one message, or on a ``BatchMessages`` queue
the list of messages (of one job name) handed over at once; ``after_receive``
and ``before_decode`` still fire once per message.

Order: the first middleware added is the outermost: its ``before_*`` hooks
run first, its ``after_*`` hooks last, its ``around_job`` encloses the others.

A hook that raises is logged with the middleware's name and otherwise
ignored (the job goes on, nothing is acked twice or lost), except
``MessageRefused`` from ``before_decode``: the message is not decoded, not
run, and takes the failure path (retried after the backoff, then the
dead-letter queue by the redrive policy).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqs_workers.backoff_policies import BackoffPolicy

logger = logging.getLogger(__name__)

# JobOutcome.kind values.
SUCCESS = "success"  # the handler returned: the message is deleted
RETRY = "retry"  # RetryJob or ProcessingResult(success=False): retried
DROP = "drop"  # DropJob: deleted without running again
ERROR = "error"  # the handler raised: retried after the backoff
REFUSED = "refused"  # not decoded nor run (content type, signature, no processor)


class MessageRefused(Exception):
    """Raised by ``before_decode`` (or the decoder) to refuse a message unread.

    The message is neither decoded nor run; it takes the failure path, so
    after ``maxReceiveCount`` receives the redrive policy moves it to the
    dead-letter queue, where an operator can look at it.
    """


class OutgoingMessage:
    """A message about to be sent (``before_send``).

    ``entry`` holds the SendMessage arguments (``MessageBody``,
    ``MessageAttributes``, ``DelaySeconds``, ...); add attributes with
    ``set_attribute`` so that size checks count them.
    """

    __slots__ = ("entry", "job_name", "queue_name")

    def __init__(
        self, queue_name: str, job_name: str | None, entry: dict[str, Any]
    ) -> None:
        self.queue_name = queue_name
        self.job_name = job_name
        self.entry = entry

    @property
    def body(self) -> str:
        return str(self.entry["MessageBody"])

    @property
    def attributes(self) -> dict[str, Any]:
        """The message attributes (SQS's shape: name -> {DataType, StringValue})."""
        attributes: dict[str, Any] = self.entry.setdefault("MessageAttributes", {})
        return attributes

    def set_attribute(self, name: str, value: str) -> None:
        self.attributes[name] = {"DataType": "String", "StringValue": value}

    def __repr__(self) -> str:
        return f"OutgoingMessage({self.queue_name!r}, {self.job_name!r})"


class JobRun:
    """One handler call as middleware sees it.

    ``messages``: the message(s) it runs for (one, or a ``BatchMessages``
    list); ``message`` the first. ``kwargs``/``content_type``: the decoded
    job (``None`` before decoding and for raw queues). ``state``: a dict for
    middleware to keep what it needs between hooks (a span, a start time).
    """

    __slots__ = (
        "_state",
        "content_type",
        "job_name",
        "kwargs",
        "messages",
        "queue_name",
        "started",
    )

    def __init__(
        self, queue_name: str, job_name: str | None, messages: list[Any]
    ) -> None:
        self.queue_name = queue_name
        self.job_name = job_name
        self.messages = messages
        self.kwargs: dict[str, Any] | list[dict[str, Any]] | None = None
        self.content_type: str | None = None
        self.started = _monotonic()
        self._state: dict[str, Any] | None = None

    @property
    def state(self) -> dict[str, Any]:
        # Made on first use: most jobs never need one.
        if self._state is None:
            self._state = {}
        return self._state

    @property
    def message(self) -> Any:
        return self.messages[0]

    @property
    def message_id(self) -> str:
        return str(self.messages[0].message_id)

    @property
    def receive_count(self) -> int:
        return int(self.messages[0].attributes.get("ApproximateReceiveCount", 0))

    def __repr__(self) -> str:
        return f"JobRun({self.queue_name!r}, {self.job_name!r}, {self.message_id!r})"


class JobOutcome:
    """How a job ended (``after_job``).

    ``kind``: ``"success"``, ``"retry"``, ``"drop"``, ``"error"`` or
    ``"refused"``; ``exception``: what the handler (or decoder) raised, if
    anything; ``backoff_policy``: the policy of an intended retry, if it gave
    one; ``duration``: seconds from the job's start to its outcome.
    """

    __slots__ = ("backoff_policy", "duration", "exception", "kind")

    def __init__(
        self,
        kind: str,
        duration: float,
        exception: BaseException | None = None,
        backoff_policy: BackoffPolicy | None = None,
    ) -> None:
        self.kind = kind
        self.duration = duration
        self.exception = exception
        self.backoff_policy = backoff_policy

    @property
    def succeeded(self) -> bool:
        """The message is deleted (success or drop)."""
        return self.kind in (SUCCESS, DROP)

    def __repr__(self) -> str:
        return f"JobOutcome({self.kind!r}, {self.duration:.6f})"


class Middleware:
    """Base class: every hook does nothing; override the ones you need."""

    def before_send(self, message: OutgoingMessage) -> None:
        """A message is about to be sent; may add attributes."""

    def after_receive(self, queue_name: str, message: Any) -> None:
        """A message was received (once per message, on the receiving thread)."""

    def before_decode(self, job: JobRun) -> None:
        """A message is about to be decoded; raise ``MessageRefused`` to refuse it."""

    def before_job(self, job: JobRun) -> None:
        """The job is decoded and about to run."""

    def around_job(self, job: JobRun) -> AbstractContextManager[Any] | None:
        """A context manager entered around the handler call, or None."""
        return None

    def after_job(self, job: JobRun, outcome: JobOutcome) -> None:
        """The job ended (whatever the outcome)."""

    def worker_started(self, worker: Any) -> None:
        """A worker is about to receive (on the thread that called ``run()``)."""

    def worker_stopped(self, worker: Any) -> None:
        """A worker finished its ordered stop."""


HOOKS = (
    "before_send",
    "after_receive",
    "before_decode",
    "before_job",
    "around_job",
    "after_job",
    "worker_started",
    "worker_stopped",
)
# Hooks that run innermost-first (the reverse of the order they were added).
_REVERSED = frozenset({"after_job", "worker_stopped"})


class MiddlewareStack:
    """The installed middleware, compiled into one list per hook.

    Each list holds only the middleware that override that hook, so a hook
    nobody overrides costs one falsy check on the hot path.
    """

    def __init__(self, middleware: Sequence[Middleware] = ()) -> None:
        self._middleware: list[Middleware] = []
        self._compile()
        for m in middleware:
            self.add(m)

    def add(self, middleware: Middleware) -> None:
        if not isinstance(middleware, Middleware):
            raise TypeError(
                f"middleware must be a sqs_workers.middleware.Middleware instance, "
                f"got {middleware!r}"
            )
        self._middleware.append(middleware)
        self._compile()

    def __iter__(self) -> Iterator[Middleware]:
        return iter(self._middleware)

    def __len__(self) -> int:
        return len(self._middleware)

    def _compile(self) -> None:
        for hook in HOOKS:
            overriding = [
                m
                for m in self._middleware
                if getattr(type(m), hook) is not getattr(Middleware, hook)
            ]
            if hook in _REVERSED:
                overriding.reverse()
            setattr(self, hook, overriding)

    # The per-hook lists (set by _compile), for callers on the hot path.
    before_send: list[Middleware]
    after_receive: list[Middleware]
    before_decode: list[Middleware]
    before_job: list[Middleware]
    around_job: list[Middleware]
    after_job: list[Middleware]
    worker_started: list[Middleware]
    worker_stopped: list[Middleware]

    # -- calling hooks safely -------------------------------------------------

    def call(self, hook: str, *args: Any) -> None:
        """Call ``hook`` on each middleware overriding it; log what raises."""
        for m in getattr(self, hook):
            try:
                getattr(m, hook)(*args)
            except Exception:
                log_failure(m, hook)

    def decode_check(self, job: JobRun) -> None:
        """``before_decode`` hooks; ``MessageRefused`` propagates, other errors log."""
        for m in self.before_decode:
            try:
                m.before_decode(job)
            except MessageRefused:
                raise
            except Exception:
                log_failure(m, "before_decode")


def log_failure(middleware: Middleware, hook: str) -> None:
    logger.exception(
        "Middleware %s failed in %s (ignored: the job goes on)",
        type(middleware).__qualname__,
        hook,
    )
