"""SQS errors, raised the way a real boto3 client raises them.

SQS speaks a JSON protocol that stays compatible with its older query
protocol: a real error carries the legacy code (e.g.
``AWS.SimpleQueueService.NonExistentQueue``) in ``Error.Code``, the modeled
shape name (``QueueDoesNotExist``) in ``Error.QueryErrorCode``, and botocore
picks the exception class from the shape name.  We build the exception
classes with botocore's own factory from the installed SQS service model, so
``except client.exceptions.QueueDoesNotExist`` catches our errors exactly as
it catches real ones.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, NamedTuple

import botocore.session
from botocore.errorfactory import BaseClientExceptions, ClientExceptionsFactory
from botocore.exceptions import ClientError
from botocore.model import ServiceModel


class ErrorKind(NamedTuple):
    """One SQS error: legacy code, modeled shape (if any), HTTP status."""

    code: str
    shape: str | None
    status: int = 400


QUEUE_DOES_NOT_EXIST = ErrorKind(
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"
)
QUEUE_ALREADY_EXISTS = ErrorKind("QueueAlreadyExists", "QueueNameExists")
QUEUE_DELETED_RECENTLY = ErrorKind(
    "AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"
)
INVALID_PARAMETER_VALUE = ErrorKind("InvalidParameterValue", None)
MISSING_PARAMETER = ErrorKind("MissingParameter", None)
INVALID_ATTRIBUTE_NAME = ErrorKind("InvalidAttributeName", "InvalidAttributeName")
INVALID_ATTRIBUTE_VALUE = ErrorKind("InvalidAttributeValue", "InvalidAttributeValue")
INVALID_MESSAGE_CONTENTS = ErrorKind("InvalidMessageContents", "InvalidMessageContents")
RECEIPT_HANDLE_IS_INVALID = ErrorKind(
    "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"
)
MESSAGE_NOT_INFLIGHT = ErrorKind(
    "AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight"
)
EMPTY_BATCH_REQUEST = ErrorKind(
    "AWS.SimpleQueueService.EmptyBatchRequest", "EmptyBatchRequest"
)
TOO_MANY_ENTRIES = ErrorKind(
    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "TooManyEntriesInBatchRequest",
)
BATCH_IDS_NOT_DISTINCT = ErrorKind(
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "BatchEntryIdsNotDistinct"
)
INVALID_BATCH_ENTRY_ID = ErrorKind(
    "AWS.SimpleQueueService.InvalidBatchEntryId", "InvalidBatchEntryId"
)
BATCH_REQUEST_TOO_LONG = ErrorKind(
    "AWS.SimpleQueueService.BatchRequestTooLong", "BatchRequestTooLong"
)
PURGE_IN_PROGRESS = ErrorKind(
    "AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress", 403
)
RESOURCE_NOT_FOUND = ErrorKind("ResourceNotFoundException", "ResourceNotFoundException")
UNSUPPORTED_OPERATION = ErrorKind(
    "AWS.SimpleQueueService.UnsupportedOperation", "UnsupportedOperation"
)
OVER_LIMIT = ErrorKind("OverLimit", "OverLimit", 403)


class SQSError(Exception):
    """Raised inside the engine; the client turns it into a ClientError.

    Keeping the engine free of botocore response shapes lets batch calls turn
    the same failure into a ``Failed`` entry instead of an exception.
    """

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def sender_fault(self) -> bool:
        return self.kind.status < 500


@functools.cache
def service_model() -> ServiceModel:
    """The installed botocore SQS model (loaded once, ~30 ms)."""
    session = botocore.session.get_session()
    return session.get_service_model("sqs")


@functools.cache
def client_exceptions() -> BaseClientExceptions:
    """The same exception classes a real boto3 SQS client exposes."""
    return ClientExceptionsFactory().create_client_exceptions(service_model())


def error_response(error: SQSError) -> dict[str, Any]:
    """The parsed error dict botocore builds from a real SQS error reply."""
    kind = error.kind
    return {
        "Error": {
            "Message": error.message,
            "Code": kind.code,
            "QueryErrorCode": kind.shape or kind.code,
            "Type": "Sender" if error.sender_fault else "Receiver",
        },
        "ResponseMetadata": {
            "RequestId": str(uuid.uuid4()),
            "HTTPStatusCode": kind.status,
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        },
    }


def to_client_error(error: SQSError, operation: str) -> ClientError:
    """Turn an engine error into the exception boto3 would raise."""
    exceptions = client_exceptions()
    cls = exceptions.from_code(error.kind.shape) if error.kind.shape else ClientError
    result: ClientError = cls(error_response(error), operation)
    return result
