"""What the worker needs of a queue: a small typed protocol.

The worker never imports ``sqs_workers.queue`` or ``sqs_workers.processors``
(they import it, lazily, to run themselves): it sees a queue only through
these members, which ``GenericQueue`` and its subclasses provide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqs_workers.backoff_policies import BackoffPolicy
    from sqs_workers.batching import BatchingConfiguration
    from sqs_workers.middleware import MiddlewareStack
    from sqs_workers.outcomes import Acknowledger, Outcome


class WorkerQueue(Protocol):
    name: str
    backoff_policy: BackoffPolicy
    batching_policy: BatchingConfiguration

    @property
    def client(self) -> Any: ...

    @property
    def is_fifo(self) -> bool: ...

    @property
    def middleware_stack(self) -> MiddlewareStack: ...

    def get_queue_url(self) -> str: ...

    def runs_async(self, message: Any) -> bool:
        """Whether the job of ``message`` is awaited on the event loop."""
        ...

    def process_message(self, message: Any) -> Outcome: ...

    async def process_message_async(self, message: Any) -> Outcome: ...

    def process_list(self, messages: list[Any]) -> list[tuple[Any, Outcome]]:
        """A ``BatchMessages`` list: each message with its outcome."""
        ...

    def record_outcome(
        self, acker: Acknowledger, result: Any, message: Any, outcome: Outcome
    ) -> None:
        """Ack ``message`` per ``outcome``; note it in ``result``."""
        ...
