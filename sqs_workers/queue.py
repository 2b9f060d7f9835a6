"""Queues: the user-facing objects of one SQS queue.

``JobQueue`` carries named jobs (registered processors, ``add_job``),
``RawQueue`` hands raw messages to a single function. Both share
``GenericQueue``: resolving the queue URL, receiving, processing a batch and
acking it. The worker loop that runs them lives in ``sqs_workers.worker``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from sqs_workers import codecs, delays, running, time_limits
from sqs_workers.async_task import AsyncTask
from sqs_workers.backoff_policies import DEFAULT_BACKOFF, BackoffPolicy
from sqs_workers.batching import BatchingConfiguration, NoBatching
from sqs_workers.core import BatchProcessingResult, get_job_name
from sqs_workers.exceptions import (
    NOT_FOUND_CODES,
    FifoParameterMissing,
    SQSClientError,
)
from sqs_workers.middleware import (
    JobRun,
    MessageRefused,
    MiddlewareStack,
    OutgoingMessage,
)
from sqs_workers.outcomes import Outcome, acknowledge, succeeded
from sqs_workers.processors import DEFAULT_CONTEXT_VAR, Processor
from sqs_workers.shutdown_policies import NEVER_SHUTDOWN, ShutdownPolicy
from sqs_workers.sqs.acking import Acker
from sqs_workers.sqs.receiving import receive_up_to
from sqs_workers.sqs.sending import (
    MAX_MESSAGE_LENGTH,
    SEND_BATCH_SIZE,
    Sender,
    SQSBatchError,
    encode_job,
    job_entry_size,
)

if TYPE_CHECKING:
    from sqs_workers.sqs_env import SQSEnv

__all__ = [
    "DEFAULT_MESSAGE_GROUP_ID",
    "MAX_MESSAGE_LENGTH",
    "SEND_BATCH_SIZE",
    "GenericQueue",
    "JobQueue",
    "RawQueue",
    "SQSBatchError",
]

logger = logging.getLogger(__name__)

DEFAULT_MESSAGE_GROUP_ID = "default"

Q = TypeVar("Q", bound="GenericQueue")


@dataclass
class GenericQueue:
    env: SQSEnv = field(repr=False)
    name: str
    backoff_policy: BackoffPolicy = DEFAULT_BACKOFF
    batching_policy: BatchingConfiguration = field(default_factory=NoBatching)
    _queue: Any = field(repr=False, default=None)
    queue_url: str | None = field(repr=False, default=None, init=False)
    _resolved_url: str | None = field(repr=False, default=None, init=False)
    _content_based_dedup: bool | None = field(repr=False, default=None, init=False)
    _sender_instance: Sender | None = field(repr=False, default=None, init=False)
    # Seconds each job of this queue may run unless its processor says
    # otherwise (sqs_workers.time_limits); None: the worker's limit, if any.
    time_limit: float | None = field(default=None, kw_only=True)

    @classmethod
    def maker(cls: type[Q], **kwargs: Any) -> Callable[..., Q]:
        return functools.partial(cls, **kwargs)

    # -- where the queue is -----------------------------------------------------

    @property
    def is_fifo(self) -> bool:
        return self.name.endswith(".fifo")

    @property
    def client(self) -> Any:
        return self.env.sqs_client

    def get_sqs_queue_name(self) -> str:
        return self.env.get_sqs_queue_name(self.name)

    def get_queue_url(self) -> str:
        """The queue's URL: given at creation, or looked up once by name."""
        if self.queue_url is not None:
            return self.queue_url
        if self._resolved_url is None:
            self._resolved_url = self._look_up_url()
        return self._resolved_url

    def _look_up_url(self) -> str:
        sqs_name = self.get_sqs_queue_name()
        try:
            return str(self.client.get_queue_url(QueueName=sqs_name)["QueueUrl"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in NOT_FOUND_CODES:
                raise
            raise _queue_not_found(error, sqs_name) from None

    def get_queue(self) -> Any:
        """The queue as a boto3-resource-style object (for code that wants one)."""
        if self._queue is None:
            self._queue = self.env.sqs_resource.Queue(self.get_queue_url())
        return self._queue

    # -- receiving and processing -------------------------------------------

    def get_raw_messages(
        self, wait_seconds: float, max_messages: int = 10
    ) -> list[Any]:
        """Receive up to ``max_messages`` messages (several calls above 10)."""
        return receive_up_to(
            self.client, self.get_queue_url(), max_messages, wait_seconds
        )

    def process_batch(self, wait_seconds: float = 0) -> BatchProcessingResult:
        """Receive one batch, process it, ack it; return what succeeded."""
        size = (
            self.batching_policy.batch_size
            if self.batching_policy.batching_enabled
            else 10
        )
        messages = self.get_raw_messages(wait_seconds, size)
        result = BatchProcessingResult(self.name)
        if not messages:
            return result
        stack = self.env.middleware_stack
        if stack.after_receive:
            for message in messages:
                stack.call("after_receive", self.name, message)
        acker = Acker(self.client, self.get_queue_url(), self.name)
        if self.batching_policy.batching_enabled:
            outcomes = self.process_list(messages)
        else:
            outcomes = [(m, self.process_message(m)) for m in messages]
        for message, outcome in outcomes:
            self.record_outcome(acker, result, message, outcome)
        acker.flush()
        return result

    def process_list(self, messages: list[Any]) -> list[tuple[Any, Outcome]]:
        """A list of messages handed over at once (BatchMessages), each with
        its outcome."""
        outcomes: list[tuple[Any, Outcome]] = []
        ready = self._arrive_each(messages, outcomes)
        if ready:
            outcome = self.process_messages(ready)
            outcomes.extend((m, outcome) for m in ready)
        return outcomes

    def _arrive_each(
        self, messages: list[Any], outcomes: list[tuple[Any, Outcome]]
    ) -> list[Any]:
        """Messages ready to run (``running.arrive``); the others (sent on,
        or refused) go to ``outcomes``."""
        ready = []
        for message in messages:
            if running.needs_arrival(message):
                outcome = running.arrive(self, message, self._job_name_of(message))
                if outcome is not None:
                    outcomes.append((message, outcome))
                    continue
            ready.append(message)
        return ready

    def _job_name_of(self, message: Any) -> str | None:
        return None

    def _arrival(self, message: Any) -> Outcome | None:
        """``running.arrive`` for one message (None: run it)."""
        if running.needs_arrival(message):
            return running.arrive(self, message, self._job_name_of(message))
        return None

    async def _arrival_async(self, message: Any) -> Outcome | None:
        """``_arrival`` off the event loop (it may call S3 and SQS)."""
        if running.needs_arrival(message):
            return await asyncio.to_thread(
                running.arrive, self, message, self._job_name_of(message)
            )
        return None

    def record_outcome(
        self,
        acker: Acker,
        result: BatchProcessingResult,
        message: Any,
        outcome: Outcome,
    ) -> None:
        """Success: delete. Failure: hide it for the backoff's timeout."""
        success = acknowledge(acker, message, outcome, self.backoff_policy)
        result.update_with_message(message, success)

    def process_message(self, message: Any) -> Outcome:
        raise NotImplementedError()

    def process_messages(self, messages: list[Any]) -> Outcome:
        raise NotImplementedError()

    # -- what the worker asks of a queue ------------------------------------

    def runs_async(self, message: Any) -> bool:
        """Whether ``message``'s job is awaited on the worker's event loop
        (``process_message_async``) rather than run in a thread."""
        return False

    async def process_message_async(self, message: Any) -> Outcome:
        """``process_message`` for a job whose handler is ``async def``."""
        raise NotImplementedError()

    @property
    def middleware_stack(self) -> MiddlewareStack:
        return self.env.middleware_stack

    def process_queue(
        self,
        shutdown_policy: ShutdownPolicy = NEVER_SHUTDOWN,
        wait_second: float = 10,
        **worker_options: Any,
    ) -> None:
        """Process this queue until the shutdown policy (or a signal) says stop.

        ``wait_second`` (sic, the original keyword) is the long-poll wait.
        Keyword-only ``worker_options`` (``sqs_workers.worker.WorkerOptions``)
        turn on the rest, e.g. ``process_queue(concurrency=16)`` (threads,
        or the worker's event loop for ``async def`` handlers),
        ``heartbeat=True``, ``grace_period=60``; see the README, "The worker engine".
        """
        from sqs_workers.worker import run_queue_worker

        run_queue_worker(self, shutdown_policy, wait_second, **worker_options)

    def drain_queue(self, wait_seconds: float = 0) -> int:
        """Delete every message of the queue (without PurgeQueue); return how many."""
        acker = Acker(self.client, self.get_queue_url(), self.name)
        deleted = 0
        while messages := self.get_raw_messages(wait_seconds):
            for message in messages:
                acker.delete(message)
            acker.flush()
            deleted += len(messages)
        return deleted

    # -- sending helpers shared by both kinds -------------------------------

    @property
    def _sender(self) -> Sender:
        if self._sender_instance is None:
            self._sender_instance = Sender(
                self.client, self.get_queue_url, self.name, self.env.payload_store
            )
        return self._sender_instance

    def _send(self, job_name: str | None, entry: dict[str, Any]) -> str | None:
        """Send ``entry`` once every ``before_send`` hook has seen it.

        A hook that raises stops the send (nothing is queued, the caller
        sees why): a message that should have been signed must not leave
        unsigned.
        """
        hooks = self.env.middleware_stack.before_send
        if hooks:
            outgoing = OutgoingMessage(self.name, job_name, entry)
            for middleware in hooks:
                middleware.before_send(outgoing)
        return self._sender.send(entry)

    def _add_routing(
        self,
        entry: dict[str, Any],
        delay_seconds: float | None,
        deduplication_id: Any,
        group_id: Any,
    ) -> dict[str, Any]:
        """Add delay, FIFO group and deduplication ids, checked as SQS would."""
        if self.is_fifo:
            if delay_seconds:
                raise SQSClientError(
                    "InvalidParameterValue",
                    f"FIFO queue {self.get_sqs_queue_name()!r} does not take a "
                    f"per-message delay (got {delay_seconds}s), short or long "
                    "(a long delay's hops would break the group's order); set "
                    "the queue's DelaySeconds attribute (at most 900 s) instead",
                    "SendMessage",
                )
            if deduplication_id is None and not self._has_content_based_dedup():
                raise FifoParameterMissing(
                    self.get_sqs_queue_name(),
                    "pass _deduplication_id (deduplication_id for raw jobs), or "
                    "create the queue with content_based_deduplication=True",
                )
            entry["MessageGroupId"] = str(
                DEFAULT_MESSAGE_GROUP_ID if group_id is None else group_id
            )
        else:
            if delay_seconds is not None and delays.is_long(delay_seconds):
                now = delays.clock_of(self.client)()
                delays.schedule(entry, delay_seconds, now)
            elif delay_seconds is not None:
                entry["DelaySeconds"] = int(delay_seconds)
            if group_id is not None:
                entry["MessageGroupId"] = str(group_id)
        if deduplication_id is not None:
            entry["MessageDeduplicationId"] = str(deduplication_id)
        return entry

    def _has_content_based_dedup(self) -> bool:
        if self._content_based_dedup is None:
            try:
                attributes = self.client.get_queue_attributes(
                    QueueUrl=self.get_queue_url(),
                    AttributeNames=["ContentBasedDeduplication"],
                ).get("Attributes", {})
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
                    raise
                # Not allowed to ask (least-privilege IAM, SendMessage only):
                # send, and let SQS refuse it if the queue needs an id.
                self._content_based_dedup = True
                return True
            self._content_based_dedup = (
                str(attributes.get("ContentBasedDeduplication", "false")).lower()
                == "true"
            )
        return self._content_based_dedup


def _queue_not_found(error: ClientError, sqs_name: str) -> ClientError:
    """The same (modeled) error, saying which queue and what to do."""
    response: Any = dict(error.response)
    response["Error"] = dict(response.get("Error", {}))
    response["Error"]["Message"] = (
        f"SQS queue {sqs_name!r} does not exist (queue name including the "
        "env's queue_prefix); create it first, e.g. with "
        "sqs_workers.create_standard_queue(env, name)"
    )
    return type(error)(response, error.operation_name)


@dataclass
class RawQueue(GenericQueue):
    processor: Callable[..., Any] | None = None

    def raw_processor(self) -> Callable[[Callable[..., Any]], Any]:
        """Decorator: ``@queue.raw_processor()`` makes the function the processor."""

        def register(fn: Callable[..., Any]) -> Any:
            return self.connect_raw_processor(fn)

        return register

    def connect_raw_processor(self, processor: Callable[..., Any]) -> None:
        self.processor = processor

    def add_raw_job(
        self,
        message_body: str,
        delay_seconds: float = 0,
        deduplication_id: str | None = None,
        group_id: str | None = DEFAULT_MESSAGE_GROUP_ID,
    ) -> str | None:
        """Send a message body as is; returns its MessageId."""
        entry: dict[str, Any] = {"MessageBody": message_body}
        self._add_routing(
            entry,
            delay_seconds,
            deduplication_id,
            group_id if self.is_fifo else None,
        )
        return self._send(None, entry)

    def process_message(self, message: Any) -> Outcome:
        arrived = self._arrival(message)
        if arrived is not None:
            return arrived
        return self._run_raw([message], message)

    def process_messages(self, messages: list[Any]) -> Outcome:
        return self._run_raw(messages, messages)

    def runs_async(self, message: Any) -> bool:
        return type(
            self
        ).process_message is RawQueue.process_message and inspect.iscoroutinefunction(
            self.processor
        )

    def _run_raw(self, messages: list[Any], argument: Any) -> Outcome:
        """The processor called with one message (or the list of them)."""
        job = JobRun(self.name, None, messages)
        stack = self.env.middleware_stack
        processor = self.processor
        try:
            running.check(job, stack, None)
            if processor is None:
                raise MessageRefused(f"no processor set for raw queue {self.name!r}")
            result = running.call_sync(
                job,
                stack,
                lambda: running.settle(processor(argument)),
                self.time_limit,
            )
        except Exception as error:
            return running.conclude(job, stack, error=error)
        return running.conclude(job, stack, result)

    async def process_message_async(self, message: Any) -> Outcome:
        arrived = await self._arrival_async(message)
        if arrived is not None:
            return arrived
        job = JobRun(self.name, None, [message])
        stack = self.env.middleware_stack
        processor: Any = self.processor
        try:
            running.check(job, stack, None)
            result = await running.call_async(
                job, stack, lambda: processor(message), self.time_limit
            )
        except Exception as error:
            return running.conclude(job, stack, error=error)
        return running.conclude(job, stack, result)


@dataclass
class JobQueue(GenericQueue):
    processors: dict[str, Processor] = field(default_factory=dict)

    # -- registering processors ----------------------------------------------

    def processor(
        self,
        job_name: str,
        pass_context: bool = False,
        context_var: str = DEFAULT_CONTEXT_VAR,
        *,
        time_limit: float | None = None,
    ) -> Callable[[Callable[..., Any]], AsyncTask[Any]]:
        """Decorator: register a function as the processor of ``job_name``.

        ``time_limit``: seconds each of its jobs may run (overrides the
        queue's and the worker's; see the README, "Job time limits").
        """

        def register(fn: Callable[..., Any]) -> AsyncTask[Any]:
            return self.connect_processor(
                job_name, fn, pass_context, context_var, time_limit=time_limit
            )

        return register

    def connect_processor(
        self,
        job_name: str,
        processor: Callable[..., Any],
        pass_context: bool = False,
        context_var: str = DEFAULT_CONTEXT_VAR,
        *,
        time_limit: float | None = None,
    ) -> AsyncTask[Any]:
        limit = time_limits.checked(time_limit)
        # Only when given: a custom processor_maker need not know the keyword.
        extra: dict[str, Any] = {} if limit is None else {"time_limit": limit}
        self.processors[job_name] = self.env.processor_maker(
            queue=self,
            fn=processor,
            pass_context=pass_context,
            context_var=context_var,
            job_name=job_name,
            **extra,
        )
        return AsyncTask(self, job_name, processor)

    def get_processor(self, job_name: str) -> Processor | None:
        return self.processors.get(job_name)

    def copy_processors(self, dst_queue: JobQueue) -> None:
        """Register this queue's processors on ``dst_queue`` too (e.g. its DLQ)."""
        for job_name, processor in self.processors.items():
            dst_queue.processors[job_name] = processor.copy(queue=dst_queue)

    # -- sending ------------------------------------------------------------

    def open_add_batch(self) -> None:
        self._sender.open_batch()

    def close_add_batch(self) -> None:
        self._sender.close_batch()

    @contextmanager
    def add_batch(self) -> Iterator[None]:
        """Hold jobs added inside and send them 10 per SQS call (nestable)."""
        self.open_add_batch()
        try:
            yield
        finally:
            self.close_add_batch()

    def add_job(
        self,
        job_name: str,
        _content_type: str | None = None,
        _delay_seconds: float | None = None,
        _deduplication_id: Any = None,
        _group_id: str | None = None,
        **job_kwargs: Any,
    ) -> str | None:
        """Send a job; returns its MessageId (None inside ``add_batch()``)."""
        content_type = _content_type or self.env.codec
        codec = codecs.get_codec(content_type)
        body = codec.serialize(job_kwargs)
        job_context = _encode_context(codec, content_type, self.env.context.to_dict())
        return self.add_raw_job(
            job_name,
            body,
            job_context,
            content_type,
            _delay_seconds,
            _deduplication_id,
            _group_id,
        )

    def add_raw_job(
        self,
        job_name: str,
        message_body: str,
        job_context: str,
        content_type: str,
        delay_seconds: float | None,
        deduplication_id: Any,
        group_id: str | None,
    ) -> str | None:
        """Send an already-encoded job."""
        entry = encode_job(job_name, message_body, job_context, content_type)
        self._add_routing(entry, delay_seconds, deduplication_id, group_id)
        if self.env.middleware_stack.before_send or delays.is_long(delay_seconds):
            return self._send(job_name, entry)  # attributes added: measure all
        size = job_entry_size(job_name, message_body, job_context, content_type)
        return self._sender.send(entry, size)

    # -- processing -----------------------------------------------------------

    def process_message(self, message: Any) -> Outcome:
        arrived = self._arrival(message)
        if arrived is not None:
            return arrived
        processor = self._processor_of(message)
        if processor is None:
            return self._no_processor([message])
        return processor.process_message(message)

    def runs_async(self, message: Any) -> bool:
        if type(self).process_message is not JobQueue.process_message:
            return False  # an override of the original's API: called as written
        processor = self._processor_of(message)
        return processor is not None and processor.is_async

    async def process_message_async(self, message: Any) -> Outcome:
        arrived = await self._arrival_async(message)
        if arrived is not None:
            return arrived
        processor = self._processor_of(message)
        if processor is None:
            return self._no_processor([message])
        return await processor.process_message_async(message)

    def process_list(self, messages: list[Any]) -> list[tuple[Any, Outcome]]:
        """Each message checked on its own (a refused one does not hold back
        the others), then one call per job name with its messages; each
        group gets its own outcome (a RetryJob in one group retries that
        group; the original deleted it, counting it a success)."""
        outcomes: list[tuple[Any, Outcome]] = []
        ready = self._arrive_each(messages, outcomes)
        accepted = self._check_each(ready, outcomes)
        for job_name, group in _group_by_job_name(accepted).items():
            processor = self.processors.get(job_name) if job_name else None
            if processor is None:
                outcome = self._no_processor(group)
            else:
                outcome = processor.process_messages(group)
            outcomes.extend((m, outcome) for m in group)
        return outcomes

    def process_messages(self, messages: list[Any]) -> Outcome:
        """All of ``messages`` at once; the first failure is the batch's outcome."""
        for _, outcome in self.process_list(messages):
            if not succeeded(outcome):
                return outcome
        return True

    def _check_each(
        self, messages: list[Any], outcomes: list[tuple[Any, Outcome]]
    ) -> list[Any]:
        """Messages that pass ``running.check``; refused ones go to ``outcomes``."""
        stack = self.env.middleware_stack
        accepted_types = self.env.accepted_content_types
        accepted = []
        for message in messages:
            job = JobRun(self.name, get_job_name(message), [message])
            try:
                running.check(job, stack, accepted_types)
            except MessageRefused as refusal:
                outcomes.append((message, running.conclude(job, stack, error=refusal)))
                continue
            accepted.append(message)
        return accepted

    def _job_name_of(self, message: Any) -> str | None:
        return get_job_name(message)

    def _processor_of(self, message: Any) -> Processor | None:
        job_name = get_job_name(message)
        return self.processors.get(job_name) if job_name else None

    def _no_processor(self, messages: list[Any]) -> Outcome:
        """No processor for these messages' job name: not run, not deleted."""
        job_name = get_job_name(messages[0])
        if type(self).process_message_fallback is not JobQueue.process_message_fallback:
            return self.process_message_fallback(job_name)  # type: ignore[arg-type]
        job = JobRun(self.name, job_name, messages)
        stack = self.env.middleware_stack
        refusal = MessageRefused(
            f"could not find an SQS processor for {self.name}.{job_name}; has it "
            "been registered correctly?"
        )
        return running.conclude(job, stack, error=refusal)

    def process_message_fallback(self, job_name: str) -> bool:
        logger.error(
            "Could not find an SQS processor for %s.%s. "
            "Has it been registered correctly?",
            self.name,
            job_name,
        )
        return False


def _group_by_job_name(messages: list[Any]) -> dict[str | None, list[Any]]:
    groups: dict[str | None, list[Any]] = defaultdict(list)
    for message in messages:
        groups[get_job_name(message)].append(message)
    return groups


_EMPTY_CONTEXTS: dict[str, str] = {}


def _encode_context(codec: Any, content_type: str, context: dict[str, Any]) -> str:
    """Encode the sender's context; the (usual) empty one is encoded once."""
    if context:
        return str(codec.serialize(context))
    cached = _EMPTY_CONTEXTS.get(content_type)
    if cached is None:
        cached = _EMPTY_CONTEXTS[content_type] = str(codec.serialize({}))
    return cached
