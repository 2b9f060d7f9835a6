"""SQSEnv: the session, the SQS client, the queues and their defaults."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import boto3
from botocore.config import Config as BotoConfig

from sqs_workers import codecs, context, processors, time_limits
from sqs_workers.backoff_policies import DEFAULT_BACKOFF, BackoffPolicy
from sqs_workers.batching import BatchingConfiguration, NoBatching
from sqs_workers.core import BatchProcessingResult, RedrivePolicy
from sqs_workers.middleware import Middleware, MiddlewareStack
from sqs_workers.payloads import LargePayloads, PayloadStore
from sqs_workers.processors import DEFAULT_CONTEXT_VAR
from sqs_workers.queue import GenericQueue, JobQueue, RawQueue
from sqs_workers.shutdown_policies import NeverShutdown, ShutdownPolicy
from sqs_workers.sqs.resource import SQSResource

if TYPE_CHECKING:
    from sqs_workers.async_task import AsyncTask

logger = logging.getLogger(__name__)

AnyQueue = Union[GenericQueue, JobQueue, RawQueue]  # noqa: UP007 - a runtime alias

# Enough pooled HTTP connections for a concurrent worker's receive, ack and
# heartbeat calls to proceed in parallel (botocore's default is 10).
MAX_POOL_CONNECTIONS = 64


@dataclass
class SQSEnv:
    session: Any = boto3
    queue_prefix: str = ""
    codec: str = codecs.DEFAULT_CONTENT_TYPE

    # botocore's own retries for each call
    retry_max_attempts: int = 3
    retry_mode: str = "standard"

    backoff_policy: Any = DEFAULT_BACKOFF
    processor_maker: Any = processors.Processor
    context_maker: Any = context.SQSContext

    context: Any = None
    sqs_client: Any = None
    sqs_resource: Any = None
    queues: dict[str, AnyQueue] = field(default_factory=dict)

    # Not in the original package (keyword arguments only, in practice):
    # middleware, first added outermost (sqs_workers.middleware);
    middleware: Sequence[Middleware] = ()
    # content types workers decode; None: what this env's producers write
    # (see accepted_content_types).
    accept_content: Collection[str] | None = None
    # message bodies over a threshold through S3 (sqs_workers.payloads).
    large_payloads: LargePayloads | None = None
    _accepted: frozenset[str] | None = field(init=False, repr=False, default=None)
    _accepted_for: str | None = field(init=False, repr=False, default=None)
    _payload_store: PayloadStore | None = field(init=False, repr=False, default=None)
    _payload_store_for: Any = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        codecs.get_codec(self.codec)  # an unknown codec fails here, not at send
        if isinstance(self.session, type):
            self.session = _session_from_class(self.session)
        self.middleware_stack = MiddlewareStack(self.middleware)
        if self.accept_content is not None:
            for content_type in self.accept_content:
                codecs.get_codec(content_type)  # a typo fails here too
        if self.context is None:
            self.context = self.context_maker()
        config = BotoConfig(
            retries={"max_attempts": self.retry_max_attempts, "mode": self.retry_mode},
            max_pool_connections=MAX_POOL_CONNECTIONS,
        )
        client_given = self.sqs_client is not None
        if not client_given:
            self.sqs_client = self.session.client("sqs", config=config)
        if self.sqs_resource is None:
            # A client passed in may point anywhere (another endpoint, region
            # or account): the resource view must use that same client.
            self.sqs_resource = (
                SQSResource(self.sqs_client)
                if client_given
                else self.session.resource("sqs", config=config)
            )

    @property
    def payload_store(self) -> PayloadStore | None:
        """Large payloads' S3 side (None without ``large_payloads``).

        Made on first use, with ``large_payloads.s3_client`` or else this
        env session's ``client("s3")``; made again if either changes.
        """
        options = self.large_payloads
        if options is None:
            return None
        store = self._payload_store
        if (
            store is None
            or store.options is not options
            or (self._payload_store_for is not self.session)
        ):
            session = self.session
            store = PayloadStore(options, lambda: session.client("s3"))
            self._payload_store = store
            self._payload_store_for = self.session
        return store

    def add_middleware(self, middleware: Middleware) -> None:
        """Install ``middleware`` after (inside) those already installed."""
        self.middleware_stack.add(middleware)

    @property
    def accepted_content_types(self) -> frozenset[str] | None:
        """The content types workers of this env decode; others are refused.

        ``accept_content`` when given. Otherwise what this env's producers
        write: json always (decoding it runs no code), and both pickle
        types when the env's codec is a pickle one (such an env already
        trusts pickle; the two differ only in protocol version). So a json
        env refuses pickle, and a default env works as the original did.
        None: every registered content type is accepted (no check needed).
        """
        if self.codec is not self._accepted_for:
            accepted = (
                frozenset(self.accept_content)
                if self.accept_content is not None
                else _default_accepted(self.codec)
            )
            everything = accepted >= codecs.CONTENT_TYPES_CODECS.keys()
            self._accepted = None if everything else accepted
            self._accepted_for = self.codec
        return self._accepted

    def queue(
        self,
        queue_name: str,
        queue_maker: type[AnyQueue] | Callable[..., AnyQueue] = JobQueue,
        batching_policy: BatchingConfiguration = NoBatching(),  # noqa: B008 - stateless
        backoff_policy: BackoffPolicy | None = None,
        *,
        queue_url: str | None = None,
        time_limit: float | None = None,
    ) -> Any:
        """The queue object of ``queue_name`` (the same one on every call).

        ``queue_url`` addresses an existing queue by URL, with no name lookup
        (so an IAM policy without GetQueueUrl is enough). ``time_limit``:
        seconds each job of the queue may run, unless its processor has its
        own limit (README, "Job time limits").
        """
        limit = time_limits.checked(time_limit)
        existing = self.queues.get(queue_name)
        if existing is not None:
            if queue_url is not None and existing.queue_url != queue_url:
                raise ValueError(
                    f"Queue {queue_name!r} is already registered with a different "
                    f"URL ({existing.queue_url!r}, asked for {queue_url!r})"
                )
            if limit is not None:
                existing.time_limit = limit
            return existing
        queue = queue_maker(
            env=self,
            name=queue_name,
            batching_policy=batching_policy,
            backoff_policy=backoff_policy or self.backoff_policy,
        )
        queue.queue_url = queue_url
        if limit is not None:
            queue.time_limit = limit
        self.queues[queue_name] = queue
        return queue

    def processor(
        self,
        queue_name: str,
        job_name: str,
        pass_context: bool = False,
        context_var: str = DEFAULT_CONTEXT_VAR,
    ) -> Callable[[Callable[..., Any]], AsyncTask[Any]]:
        """Decorator: register a processor for ``job_name`` on ``queue_name``."""
        queue: JobQueue = self.queue(queue_name, queue_maker=JobQueue)
        return queue.processor(job_name, pass_context, context_var)

    def raw_processor(self, queue_name: str) -> Callable[[Callable[..., Any]], Any]:
        """Decorator: make a function the processor of the raw queue ``queue_name``."""
        queue: RawQueue = self.queue(queue_name, queue_maker=RawQueue)
        return queue.raw_processor()

    def add_job(
        self,
        queue_name: str,
        job_name: str,
        _content_type: str | None = None,
        _delay_seconds: float | None = None,
        _deduplication_id: Any = None,
        _group_id: str | None = None,
        **job_kwargs: Any,
    ) -> str | None:
        warnings.warn(
            "sqs.add_job() is deprecated. Use sqs.queue(...).add_job() instead",
            DeprecationWarning,
            stacklevel=2,
        )
        queue: JobQueue = self.queue(queue_name, queue_maker=JobQueue)
        return queue.add_job(
            job_name,
            _content_type=_content_type or self.codec,
            _delay_seconds=_delay_seconds,
            _deduplication_id=_deduplication_id,
            _group_id=_group_id,
            **job_kwargs,
        )

    def process_batch(
        self, queue_name: str, wait_seconds: float = 0
    ) -> BatchProcessingResult:
        """Process one batch of ``queue_name`` (handy in tests)."""
        return self.queue(queue_name).process_batch(wait_seconds=wait_seconds)

    def process_queues(
        self,
        queue_names: list[str] | None = None,
        shutdown_policy_maker: Callable[[], ShutdownPolicy] = NeverShutdown,
        **supervisor_options: Any,
    ) -> None:
        """Process several queues, one worker process per queue (all known by default).

        ``shutdown_policy_maker`` makes a fresh policy for each process, e.g.
        ``lambda: IdleShutdown(10)``. Keyword-only options
        (``sqs_workers.worker.SupervisorOptions``): ``processes=4`` per queue,
        ``max_jobs_per_process=1000`` (recycling), ``restart_crashed``; worker
        options such as ``concurrency=8`` apply to each process.
        """
        from sqs_workers.worker import run_queue_processes

        run_queue_processes(
            self,
            queue_names or self.get_all_known_queues(),
            shutdown_policy_maker,
            **supervisor_options,
        )

    def get_all_known_queues(self) -> list[str]:
        """Names (without the prefix) of the SQS queues starting with the prefix."""
        names: list[str] = []
        kwargs: dict[str, Any] = {"QueueNamePrefix": self.queue_prefix}
        while True:
            response = self.sqs_client.list_queues(**kwargs)
            for url in response.get("QueueUrls", ()):
                names.append(url.rsplit("/", 1)[-1][len(self.queue_prefix) :])
            token = response.get("NextToken")
            if not token:
                return names
            kwargs = {
                "QueueNamePrefix": self.queue_prefix,
                "NextToken": token,
                "MaxResults": 1000,
            }

    def get_sqs_queue_name(self, queue_name: str) -> str:
        """The SQS name of a queue: the env's prefix plus its name."""
        return f"{self.queue_prefix}{queue_name}"

    def redrive_policy(
        self, dead_letter_queue_name: str, max_receive_count: int
    ) -> RedrivePolicy:
        return RedrivePolicy(self, dead_letter_queue_name, max_receive_count)


def _session_from_class(cls: type) -> Any:
    """``SQSEnv(MemorySession)`` (the class, a natural slip): an instance of it.

    Any other class fails now, saying what to write, rather than later with
    a missing ``self`` in ``client()``.
    """
    from sqs_workers.memory_sqs import MemorySession  # loaded only for this slip

    if issubclass(cls, MemorySession):
        return cls()
    name = f"{cls.__module__}.{cls.__qualname__}"
    raise TypeError(
        f"SQSEnv(session=...) takes a session object, not the class {name}; "
        f"write SQSEnv(session={cls.__qualname__}(...))"
    )


PICKLE_CONTENT_TYPES = frozenset({"pickle", "pickle_compat"})


def _default_accepted(codec: str) -> frozenset[str]:
    if codec in PICKLE_CONTENT_TYPES:
        return PICKLE_CONTENT_TYPES | {"json", codec}
    return frozenset({"json", codec})
