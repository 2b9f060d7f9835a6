"""Processors: decode a job message and call the user's function with it.

``Processor.process_message`` returns what the acker needs to know: ``True``
(delete the message), ``False`` (retry after the queue's backoff) or a
``ProcessingResult`` (retry after its own backoff). A handler steers this by
raising ``RetryJob`` (an intended retry, logged at INFO) or ``DropJob`` (give
up: the message is deleted without retry, logged at WARNING); any other
exception is an error, logged with its traceback, and retried.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqs_workers import codecs, running
from sqs_workers.context import SQSContext
from sqs_workers.middleware import JobRun
from sqs_workers.outcomes import (
    DropJob,
    Outcome,
    ProcessingResult,
    RetryJob,
    outcome_of_result,
)
from sqs_workers.sqs.message import string_attribute, string_value
from sqs_workers.utils import validate_arguments

if TYPE_CHECKING:
    from sqs_workers.queue import GenericQueue

__all__ = [
    "DEFAULT_CONTEXT_VAR",
    "DropJob",
    "Outcome",
    "ProcessingResult",
    "Processor",
    "RetryJob",
    "outcome_of_result",
]

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_VAR = "context"


@dataclass
class Processor:
    """Calls ``fn`` for each message of one job name of a queue.

    ``process(job_kwargs[, job_context])`` is the override point for
    subclasses given as ``SQSEnv(processor_maker=...)``; everything around
    the call (checks, middleware, outcome, logs) is ``sqs_workers.running``.
    """

    queue: GenericQueue
    fn: Callable[..., Any] | None = None
    job_name: str = ""
    pass_context: bool = False
    context_var: str = DEFAULT_CONTEXT_VAR
    # Seconds the handler may run (see sqs_workers.time_limits); None: the
    # queue's limit, else the worker's.
    time_limit: float | None = None

    @classmethod
    def maker(cls, **kwargs: Any) -> Callable[..., Processor]:
        return functools.partial(cls, **kwargs)

    @property
    def effective_time_limit(self) -> float | None:
        """This processor's limit, else its queue's (the worker's comes last,
        in ``running``)."""
        if self.time_limit is not None:
            return self.time_limit
        return getattr(self.queue, "time_limit", None)

    @property
    def queue_name(self) -> str:
        """The queue's name (the original README's custom processor reads it)."""
        return self.queue.name

    # -- one message -------------------------------------------------------

    def process_message(self, message: Any) -> Outcome:
        """Run the job of one message; its outcome (see ``sqs_workers.outcomes``)."""
        queue = self.queue
        job = JobRun(queue.name, self.job_name, [message])
        env = queue.env
        stack = env.middleware_stack
        try:
            accepted = env.accepted_content_types
            if accepted is not None or stack.before_decode:
                running.check(job, stack, accepted)
            call = self._prepare(job, message)
            result = running.call_sync(job, stack, call, self.effective_time_limit)
        except Exception as error:
            return running.conclude(job, stack, error=error)
        return running.conclude(job, stack, result)

    async def process_message_async(self, message: Any) -> Outcome:
        """``process_message`` for a coroutine handler, awaited on the running loop."""
        queue = self.queue
        job = JobRun(queue.name, self.job_name, [message])
        stack = queue.env.middleware_stack
        try:
            running.check(job, stack, queue.env.accepted_content_types)
            job_kwargs = self._decode_for_call(job, message)
            fn = self.fn
            result = await running.call_async(
                job,
                stack,
                lambda: invoke_handler(fn, (), job_kwargs),
                self.effective_time_limit,
            )
        except Exception as error:
            return running.conclude(job, stack, error=error)
        return running.conclude(job, stack, result)

    def _prepare(self, job: JobRun, message: Any) -> Callable[[], Any]:
        """Decode ``message`` into ``job``; the call that runs the handler."""
        if not self.pass_context and _is_stock(type(self)):
            # Nothing will see the context: decode (and so check) it, but
            # skip building an SQSContext only to drop it.
            job_kwargs, job.content_type, _ = _decode_job(message, with_context=False)
            job.kwargs = job_kwargs
            return functools.partial(call_handler, self.fn, (), job_kwargs)
        job.content_type, job_kwargs, job_context = self.deserialize_message(message)
        job.kwargs = job_kwargs
        return functools.partial(self._call_process, job_kwargs, job_context)

    def _decode_for_call(self, job: JobRun, message: Any) -> dict[str, Any]:
        """The handler's keyword arguments (with the context if it takes it)."""
        job.content_type, job_kwargs, job_context = self.deserialize_message(message)
        job.kwargs = job_kwargs
        if self.pass_context:
            job_kwargs = {**job_kwargs, self.context_var: job_context}
        return job_kwargs

    def process(self, job_kwargs: dict[str, Any], job_context: Any = None) -> Any:
        """Call the function; subclasses wrap this (with or without the context)."""
        if self.pass_context:
            job_kwargs = dict(job_kwargs)
            job_kwargs[self.context_var] = (
                job_context if job_context is not None else SQSContext()
            )
        return call_handler(self.fn, (), job_kwargs)

    @property
    def is_async(self) -> bool:
        """Whether the worker may await this processor on its event loop.

        True for a coroutine function handled by the stock ``process`` path.
        A subclass that overrides ``process`` or ``process_message`` keeps
        running in a worker thread, where its override is called as written
        (and a coroutine it returns is run to completion there).
        """
        # Asked for every received message: worked out once per handler
        # (``inspect.iscoroutinefunction`` costs about a microsecond).
        fn = self.fn
        known: tuple[Any, bool] | None = self.__dict__.get("_is_async_of")
        if known is not None and known[0] is fn:
            return known[1]
        cls = type(self)
        result = (
            cls.process is Processor.process
            and cls.process_message is Processor.process_message
            and inspect.iscoroutinefunction(fn)
        )
        self.__dict__["_is_async_of"] = (fn, result)
        return result

    def _call_process(self, job_kwargs: dict[str, Any], job_context: Any) -> Any:
        # Subclasses of the original package override either
        # process(self, job_kwargs) or process(self, job_kwargs, job_context).
        if _process_takes_context(type(self)):
            result = self.process(job_kwargs, job_context)
        else:
            result = self.process(job_kwargs)
        return running.settle(result)

    # -- a list of messages (BatchMessages queues) --------------------------

    def process_messages(self, messages: list[Any]) -> Outcome:
        """Run the job of a list of messages (one call with all of them)."""
        queue = self.queue
        job = JobRun(queue.name, self.job_name, messages)
        stack = queue.env.middleware_stack
        if type(self).process_batch is Processor.process_batch:
            call = functools.partial(self.process_batch, messages, job)
        else:  # a subclass's override, with the original's signature
            call = functools.partial(self.process_batch, messages)
        try:
            result = running.call_sync(job, stack, call, self.effective_time_limit)
        except Exception as error:
            return running.conclude(job, stack, error=error)
        return running.conclude(job, stack, result)

    def process_batch(self, messages: list[Any], job: JobRun | None = None) -> Any:
        """Decode every message and call the function once with the list."""
        jobs = []
        for message in messages:
            content_type, job_kwargs, job_context = self.deserialize_message(message)
            if self.pass_context:
                job_kwargs[self.context_var] = job_context
            jobs.append(job_kwargs)
        if job is not None:
            job.kwargs, job.content_type = jobs, content_type
        return call_handler(self.fn, (jobs,), {})

    def copy(self, **kwargs: Any) -> Processor:
        return replace(self, **kwargs)

    @staticmethod
    def deserialize_message(message: Any) -> tuple[str, dict[str, Any], SQSContext]:
        job_kwargs, content_type, context = _decode_job(message, with_context=True)
        return content_type, job_kwargs, context  # type: ignore[return-value]


def _decode_job(
    message: Any, with_context: bool
) -> tuple[dict[str, Any], str | None, SQSContext | None]:
    """(job kwargs, content type, context or None unless ``with_context``).

    The context is decoded either way, so a message whose context cannot
    be decoded fails the same whether or not the handler takes it.
    """
    attributes = message.message_attributes
    content_type = string_value(attributes, "ContentType")
    codec = codecs.get_codec(content_type)  # type: ignore[arg-type]
    job_kwargs = codec.deserialize(message.body)
    serialized = string_value(attributes, "JobContext")
    if not with_context and (not serialized or (codec, serialized) in _EMPTY_TEXTS):
        return job_kwargs, content_type, None
    return job_kwargs, content_type, _context_from_text(codec, serialized)


_STOCK: dict[Any, bool] = {}


def _is_stock(cls: Any) -> bool:
    """Whether ``cls`` decodes and calls as Processor does (cached per class)."""
    known = _STOCK.get(cls)
    if known is None:
        known = _STOCK[cls] = all(
            getattr(cls, name) is getattr(Processor, name)
            for name in ("process", "_call_process", "deserialize_message")
        )
    return known


_TAKES_CONTEXT: dict[Any, bool] = {}


def _process_takes_context(cls: Any) -> bool:
    """Whether ``cls.process`` accepts the job context (cached per class)."""
    known = _TAKES_CONTEXT.get(cls)
    if known is None:
        known = _TAKES_CONTEXT[cls] = _inspect_takes_context(cls)
    return known


def _inspect_takes_context(cls: Any) -> bool:
    params = list(inspect.signature(cls.process).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 2


def get_job_content_type(job_message: Any) -> str | None:
    return string_attribute(job_message, "ContentType")


def get_job_context(job_message: Any, codec: Any) -> SQSContext:
    return _context_from_text(codec, string_attribute(job_message, "JobContext"))


def _context_from_text(codec: Any, serialized: str | None) -> SQSContext:
    if not serialized or (codec, serialized) in _EMPTY_TEXTS:
        return SQSContext()
    decoded = codec.deserialize(serialized)
    if not decoded and len(_EMPTY_TEXTS) < 64:
        # Most jobs carry the empty context: remember its text and skip
        # decoding it (base64 + zlib + pickle) for every later job.
        _EMPTY_TEXTS.add((codec, serialized))
    return SQSContext.from_dict(decoded)


_EMPTY_TEXTS: set[tuple[Any, str]] = set()


def call_handler(fn: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    """Call ``fn`` with the arguments it accepts (extras dropped, defaults fill).

    Coroutine functions are run to completion here; the concurrent worker
    awaits them on its own event loop instead.
    """
    return running.settle(invoke_handler(fn, args, kwargs))


def invoke_handler(fn: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    """Call ``fn`` with the arguments it accepts; an awaitable is returned as is."""
    try:
        accepted = _accepted_keywords(fn)
    except TypeError:  # an unhashable callable: no caching
        accepted = None
    if accepted is None:
        try:
            args, kwargs = validate_arguments(fn, args, kwargs)
        except (TypeError, ValueError):
            # Not introspectable (a mock, a builtin): pass everything as is.
            pass
    elif accepted is not _ANY_KEYWORD and not kwargs.keys() <= accepted:
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return fn(*args, **kwargs)


_ANY_KEYWORD: frozenset[str] = frozenset({"*"})


@functools.lru_cache(maxsize=4096)
def _accepted_keywords(fn: Any) -> frozenset[str] | None:
    """Keyword names ``fn`` takes; _ANY_KEYWORD for **kwargs; None: use slow path."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL) for p in params):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return _ANY_KEYWORD
    return frozenset(p.name for p in params)
