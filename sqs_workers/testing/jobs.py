"""``Job``: one message of a queue, decoded, in a form that reads well in asserts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqs_workers import codecs
from sqs_workers.sqs.message import string_value


@dataclass(frozen=True, repr=False)
class Job:
    """A job waiting in a queue (or its dead-letter queue), decoded.

    Equality looks at what the sender decided: ``name``, ``kwargs``,
    ``context``, ``delay`` and ``group_id``; the ids and the receive count
    are there to read but do not take part, so a test can write
    ``assert kit.jobs("emails") == [Job("send_welcome", {"user_id": 7})]``.

    ``delay``: seconds until the job is due (0: due now). On the in-memory
    backend it counts a delay given at send time and a retry's backoff alike.
    ``name`` is None for a message that is not a job (sent to a raw queue);
    its text is in ``body``.
    """

    name: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    delay: float = 0
    group_id: str | None = None
    message_id: str = field(default="", compare=False)
    receive_count: int = field(default=0, compare=False)
    body: str = field(default="", compare=False)

    def __repr__(self) -> str:
        # Only what equality compares, and only what differs from the
        # defaults: assertion diffs then show what matters.
        parts = [repr(self.name), repr(self.kwargs)]
        if self.context:
            parts.append(f"context={self.context!r}")
        if self.delay:
            parts.append(f"delay={self.delay!r}")
        if self.group_id is not None:
            parts.append(f"group_id={self.group_id!r}")
        return f"Job({', '.join(parts)})"


def decode_job(
    body: str,
    message_attributes: dict[str, Any] | None,
    *,
    delay: float = 0,
    group_id: str | None = None,
    message_id: str = "",
    receive_count: int = 0,
) -> Job:
    """A message's body and attributes (SQS's shapes) as a ``Job``."""
    name = string_value(message_attributes, "JobName")
    if name is None:
        return Job(
            None,
            delay=delay,
            group_id=group_id,
            message_id=message_id,
            receive_count=receive_count,
            body=body,
        )
    content_type = string_value(message_attributes, "ContentType")
    codec = codecs.get_codec(content_type or codecs.DEFAULT_CONTENT_TYPE)
    context_text = string_value(message_attributes, "JobContext")
    return Job(
        name,
        dict(codec.deserialize(body)),
        dict(codec.deserialize(context_text)) if context_text else {},
        delay=delay,
        group_id=group_id,
        message_id=message_id,
        receive_count=receive_count,
        body=body,
    )
