"""``SQSTestKit``: an env on a test backend, with time travel and inspection."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from sqs_workers.memory_sqs import FakeClock
from sqs_workers.middleware import MiddlewareStack
from sqs_workers.queue import GenericQueue
from sqs_workers.sqs.resource import SQSResource
from sqs_workers.sqs_env import SQSEnv
from sqs_workers.testing.backends import Backend, MemoryBackend, ServerBackend
from sqs_workers.testing.jobs import Job
from sqs_workers.testing.run import DEFAULT_MAX_ROUNDS, RunResult, run_until_idle

# What a queue object caches about where its queue is (reset on a switch).
_QUEUE_CACHES = (
    "queue_url",
    "_resolved_url",
    "_queue",
    "_sender_instance",
    "_content_based_dedup",
)
_ENV_FIELDS = ("session", "sqs_client", "sqs_resource", "queue_prefix")


class SQSTestKit:
    """An ``SQSEnv`` on a test backend, and the helpers a job test needs.

    ``SQSTestKit()`` makes a fresh env on the in-memory SQS with a fake
    clock; ``SQSTestKit(env=my_env)`` switches your own env there until
    ``close()`` (queues, processors and settings stay; only where the
    queues live changes). The queues the env knows are created. Use it as
    a context manager, or through the pytest fixtures (``sqs_kit``).
    """

    def __init__(
        self,
        env: SQSEnv | None = None,
        backend: Backend | None = None,
        *,
        create_queues: bool = True,
    ) -> None:
        self.backend: Backend = backend if backend is not None else MemoryBackend()
        # Every run_until_idle's counts, by outcome (success, retry, ...).
        self.outcomes: Counter[str] = Counter()
        # On a shared server each kit gets its own queue names.
        prefix = "" if self.backend.name == "memory" else f"t{uuid.uuid4().hex[:8]}_"
        self._switch: _EnvSwitch | None = None
        if env is None:
            self.env = SQSEnv(
                session=self.backend.session(),
                sqs_client=self.backend.client(),
                queue_prefix=prefix,
            )
        else:
            self._switch = _EnvSwitch(env, self.backend, prefix)
            self.env = env
        if create_queues:
            self.create_known_queues()

    @classmethod
    def server(cls, endpoint_url: str, env: SQSEnv | None = None) -> SQSTestKit:
        """A kit on the SQS server at ``endpoint_url`` (e.g. moto) instead."""
        return cls(env, ServerBackend(endpoint_url))

    # -- time -----------------------------------------------------------------

    @property
    def clock(self) -> FakeClock:
        """The in-memory SQS's fake clock (``TimeTravelUnavailable`` on a server)."""
        return self.backend.fake_clock()

    def advance(self, seconds: float) -> None:
        """Move time forward: delays, backoffs and visibility timeouts run out."""
        self.clock.advance(seconds)

    # -- queues ---------------------------------------------------------------

    def create_queue(
        self,
        name: str,
        *,
        dead_letter_queue: str | None = None,
        max_receive_count: int = 3,
        visibility_timeout: int | None = None,
        delay_seconds: int | None = None,
        content_based_deduplication: bool | None = None,
    ) -> str:
        """Create queue ``name`` (FIFO if it ends in ``.fifo``); returns its URL.

        With ``dead_letter_queue``, that queue is created too and receives
        the messages received more than ``max_receive_count`` times. On a
        queue that exists, the attributes given are set.
        """
        attributes: dict[str, str] = {}
        if dead_letter_queue is not None:
            dlq_url = self.create_queue(dead_letter_queue)
            arn = self.env.sqs_client.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive_count)}
            )
        if visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(visibility_timeout)
        if delay_seconds is not None:
            attributes["DelaySeconds"] = str(delay_seconds)
        if content_based_deduplication is not None:
            attributes["ContentBasedDeduplication"] = str(
                content_based_deduplication
            ).lower()
        client = self.env.sqs_client
        sqs_name = self.env.get_sqs_queue_name(name)
        url = self._existing_url(sqs_name)
        if url is not None:
            if attributes:
                client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
            return url
        if name.endswith(".fifo"):
            attributes["FifoQueue"] = "true"
        return str(
            client.create_queue(QueueName=sqs_name, Attributes=attributes)["QueueUrl"]
        )

    def create_known_queues(self) -> None:
        """Create each queue registered on the env that does not exist yet."""
        for name in list(self.env.queues):
            self.create_queue(name)

    def _existing_url(self, sqs_name: str) -> str | None:
        client = self.env.sqs_client
        try:
            return str(client.get_queue_url(QueueName=sqs_name)["QueueUrl"])
        except client.exceptions.QueueDoesNotExist:
            return None

    def _url(self, queue: str | GenericQueue) -> str:
        if isinstance(queue, GenericQueue):
            return queue.get_queue_url()
        url = self._existing_url(self.env.get_sqs_queue_name(queue))
        if url is None:
            raise LookupError(
                f"no queue named {queue!r} on the test backend; create it with "
                f"kit.create_queue({queue!r})"
            )
        return url

    # -- looking inside -------------------------------------------------------

    def jobs(self, queue: str | GenericQueue) -> list[Job]:
        """The jobs in ``queue`` (a name or a queue object), oldest first.

        In memory this includes delayed jobs and retries waiting out their
        backoff (``delay`` says how long until due), and changes nothing.
        On a server only the visible messages are seen, and reading them
        counts as a receive.
        """
        url = self._url(queue)
        return self.backend.peek(self.env.sqs_client, url, self.env.payload_store)

    def dead_letters(self, queue: str | GenericQueue) -> list[Job]:
        """The jobs in the dead-letter queue of ``queue`` (its RedrivePolicy's)."""
        return self.jobs(self.dead_letter_queue_name(queue))

    def dead_letter_queue_name(self, queue: str | GenericQueue) -> str:
        """The name (without the env's prefix) of the DLQ of ``queue``."""
        url = self._url(queue)
        policy = (
            self.env.sqs_client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["RedrivePolicy"]
            )
            .get("Attributes", {})
            .get("RedrivePolicy")
        )
        if not policy:
            raise LookupError(
                f"queue {url.rsplit('/', 1)[-1]!r} has no dead-letter queue; give "
                "it one with kit.create_queue(name, dead_letter_queue=...)"
            )
        sqs_name = json.loads(policy)["deadLetterTargetArn"].rsplit(":", 1)[-1]
        return str(sqs_name[len(self.env.queue_prefix) :])

    # -- running --------------------------------------------------------------

    def run_until_idle(
        self,
        queue: str | GenericQueue | None = None,
        *,
        raise_errors: bool = True,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
    ) -> RunResult:
        """Run every due job (of ``queue``, or of all the env's queues) and
        the jobs they enqueue, until none is due; see ``run_until_idle``.
        """
        target: Any = self.env
        if isinstance(queue, str):
            target = self._registered(queue)
        elif queue is not None:
            target = queue
        result = RunResult()
        try:
            return run_until_idle(
                target, raise_errors=raise_errors, max_rounds=max_rounds, result=result
            )
        finally:
            self.outcomes.update(result.outcomes)

    def _registered(self, name: str) -> GenericQueue:
        queue = self.env.queues.get(name)
        if queue is None:
            raise LookupError(
                f"no queue {name!r} is registered on the env (known: "
                f"{', '.join(sorted(self.env.queues)) or 'none'})"
            )
        return queue

    # -- the end --------------------------------------------------------------

    def close(self) -> None:
        """Delete this kit's queues on a server; give a switched env back."""
        if self.backend.name != "memory":
            self._delete_queues()
        if self._switch is not None:
            self._switch.restore()
            self._switch = None

    def _delete_queues(self) -> None:
        client = self.env.sqs_client
        urls = client.list_queues(QueueNamePrefix=self.env.queue_prefix).get(
            "QueueUrls", []
        )
        for url in urls:
            try:
                client.delete_queue(QueueUrl=url)
            except client.exceptions.QueueDoesNotExist:
                pass

    def __enter__(self) -> SQSTestKit:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQSTestKit({self.backend!r}, queues={sorted(self.env.queues)})"


class _EnvSwitch:
    """A user's env pointed at a test backend, and how to point it back."""

    def __init__(self, env: SQSEnv, backend: Backend, prefix: str) -> None:
        self.env = env
        self.fields = {name: getattr(env, name) for name in _ENV_FIELDS}
        self.queues = dict(env.queues)
        self.caches = {
            name: {attr: getattr(queue, attr) for attr in _QUEUE_CACHES}
            for name, queue in env.queues.items()
        }
        self.context = env.context.to_dict()
        # A copy, so the kit's recorder goes away with it.
        self.middleware = env.middleware_stack
        env.middleware_stack = MiddlewareStack(list(self.middleware))
        client = backend.client()
        env.session = backend.session()
        env.sqs_client = client
        env.sqs_resource = SQSResource(client)
        env.queue_prefix = prefix + env.queue_prefix
        for queue in env.queues.values():
            _forget_location(queue)

    def restore(self) -> None:
        env = self.env
        for name, value in self.fields.items():
            setattr(env, name, value)
        # Queues registered during the test go; the others get their caches back.
        for queue in env.queues.values():
            _forget_location(queue)
        env.queues.clear()
        env.queues.update(self.queues)
        for name, caches in self.caches.items():
            for attr, value in caches.items():
                setattr(env.queues[name], attr, value)
        env.context.set(**self.context)
        env.middleware_stack = self.middleware


def _forget_location(queue: GenericQueue) -> None:
    for attr in _QUEUE_CACHES:
        setattr(queue, attr, None)
