"""How a job ended, and what its handler may say about it.

A leaf module (it imports nothing of ours but the backoff policies' type), so
that every layer — processors, queues, the worker, middleware — can share
these names without importing one another.

- ``RetryJob``: raised by a handler to retry on purpose (logged at INFO);
- ``DropJob``: raised to give up: the message is deleted, not retried;
- ``ProcessingResult``: returned to say success or retry-with-this-backoff;
- ``Outcome``: what a processor reports per message: ``True`` (delete),
  ``False`` (retry after the queue's backoff) or a ``ProcessingResult``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Union

if TYPE_CHECKING:
    from sqs_workers.backoff_policies import BackoffPolicy


class RetryJob(Exception):
    """Raise in a handler to retry the job on purpose (not an error).

    ``backoff_policy`` overrides the queue's backoff for this retry.
    """

    def __init__(self, backoff_policy: BackoffPolicy | None = None) -> None:
        self.backoff_policy = backoff_policy
        super().__init__()


class DropJob(Exception):
    """Raise in a handler to give up on a job: the message is deleted, not retried.

    For jobs that can never succeed (the record they refer to is gone, the
    payload is invalid). Logged at WARNING with the reason given.
    """


@dataclass(frozen=True)
class ProcessingResult:
    """Outcome of one message (or one batch): success, or retry with a backoff."""

    success: bool
    backoff_policy: BackoffPolicy | None = None


Outcome = Union[bool, ProcessingResult]  # noqa: UP007 - a runtime alias


def outcome_of_result(result: Any) -> Outcome:
    """A handler that returned: success, unless it returned a ProcessingResult."""
    return result if isinstance(result, ProcessingResult) else True


class Acknowledger(Protocol):
    def delete(self, message: Any) -> None: ...

    def change_visibility(self, message: Any, timeout: float) -> None: ...


def acknowledge(
    acker: Acknowledger, message: Any, outcome: Outcome, backoff: BackoffPolicy
) -> bool:
    """The one rule from outcome to SQS: success deletes the message; a
    failure hides it for the backoff (the outcome's own policy, else the
    queue's ``backoff``), after which SQS delivers it again. Returns success.
    """
    if isinstance(outcome, ProcessingResult):
        if outcome.success:
            acker.delete(message)
            return True
        backoff = outcome.backoff_policy or backoff
    elif outcome:
        acker.delete(message)
        return True
    acker.change_visibility(message, backoff.get_visibility_timeout(message))
    return False


def succeeded(outcome: Outcome) -> bool:
    """Whether an outcome means "delete the message"."""
    return outcome.success if isinstance(outcome, ProcessingResult) else bool(outcome)
