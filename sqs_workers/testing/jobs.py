"""``Job``: one message of a queue, decoded, in a form that reads well in asserts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqs_workers import codecs, delays, payloads
from sqs_workers.payloads import PayloadStore
from sqs_workers.sqs.message import string_value


@dataclass(frozen=True, repr=False)
class Job:
    """A job waiting in a queue (or its dead-letter queue), decoded.

    Equality looks at what the sender decided: ``name``, ``kwargs``,
    ``context``, ``delay`` and ``group_id``; the ids and the receive count
    are there to read but do not take part, so a test can write
    ``assert kit.jobs("emails") == [Job("send_welcome", {"user_id": 7})]``.

    ``delay``: seconds until the job is due (0: due now). On the in-memory
    backend it counts a delay given at send time and a retry's backoff alike;
    a delay longer than SQS's 15 minutes counts to the job's own time, not
    to its next hop. A job whose payload went to S3 shows that payload.
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
    now: float = 0,
    store: PayloadStore | None = None,
) -> Job:
    """A message's body and attributes (SQS's shapes) as a ``Job``.

    ``now``: the time the queue lives in (a long delay's due time is
    measured from it); ``store``: the env's S3 payload store, to read an
    offloaded body (without it such a job cannot be shown: LookupError).
    """
    due = delays.due_at(message_attributes)
    if due is not None:
        delay = max(delay, due - now)
    if payloads.is_offloaded(message_attributes):
        body = _offloaded_body(message_id, body, store)
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


def _offloaded_body(message_id: str, pointer: str, store: PayloadStore | None) -> str:
    if store is None:
        raise LookupError(
            f"message {message_id} keeps its payload in S3, and this env has no "
            "large_payloads to read it with; give the env "
            "large_payloads=LargePayloads(bucket=...)"
        )
    bucket, key = payloads.parse_pointer(message_id, pointer)
    return store.read(message_id, bucket, key)
