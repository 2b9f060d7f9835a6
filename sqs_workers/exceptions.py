"""Exceptions raised by sqs_workers.

Errors that stand for an SQS-side condition (a message too large, a queue that
does not exist, a FIFO send without a deduplication id) are raised *before*
anything is sent, but as ``botocore.exceptions.ClientError`` subclasses carrying
the code SQS itself would return, so code written against the original package
(which let the server reject the request) keeps catching them.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class SQSError(Exception):
    """Base class of the errors this package raises itself."""


class SQSClientError(SQSError, ClientError):
    """An error SQS would have returned, detected before sending."""

    def __init__(self, code: str, message: str, operation_name: str) -> None:
        response: Any = {
            "Error": {"Code": code, "Message": message, "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        ClientError.__init__(self, response, operation_name)


class MessageTooLarge(SQSClientError):
    """A message (or a batch of them) exceeds the size SQS accepts."""

    def __init__(self, size: int, limit: int, operation_name: str) -> None:
        super().__init__(
            "MessageTooLong",
            f"message of {size} bytes (body plus attributes) exceeds the SQS "
            f"limit of {limit} bytes; send less data per job, e.g. store the "
            "payload elsewhere (S3) and pass its key",
            operation_name,
        )
        self.size = size
        self.limit = limit


class FifoParameterMissing(SQSClientError):
    """A FIFO send lacks what a FIFO queue requires."""

    def __init__(self, queue_name: str, what: str) -> None:
        super().__init__(
            "MissingParameter", f"FIFO queue {queue_name!r}: {what}", "SendMessage"
        )


class UnknownContentType(SQSError, KeyError):
    """A content type (codec name) nobody registered."""

    def __init__(self, content_type: object, known: list[str]) -> None:
        super().__init__(content_type)
        self.content_type = content_type
        self.known = known

    def __str__(self) -> str:
        return (
            f"unknown content type (codec) {self.content_type!r}; "
            f"known ones: {', '.join(self.known)}"
        )


class UnserializableArgument(SQSError, TypeError):
    """A job argument the chosen codec cannot encode."""


# The codes SQS answers for a queue that does not exist (query and JSON APIs).
NOT_FOUND_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
)


def error_code(error: BaseException) -> str | None:
    """The SQS error code of a ``ClientError`` (None for anything else)."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None
