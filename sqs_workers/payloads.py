"""Large payloads: messages over SQS's size limit go through S3.

``SQSEnv(large_payloads=LargePayloads(bucket="my-bucket"))`` turns it on. A
message whose entry (body plus attributes, as SQS counts it) exceeds
``threshold`` has its body stored as an S3 object; the message then carries
a pointer in the format of AWS's SQS Extended Client libraries (Java, and
``amazon-sqs-extended-client`` on PyPI), so their producers and consumers
and ours can share a queue both ways:

- the body is the JSON array ``["software.amazon.payloadoffloading.
  PayloadS3Pointer", {"s3BucketName": <bucket>, "s3Key": <key>}]``;
- the message attribute ``ExtendedPayloadSize`` (type ``Number``) holds the
  payload's size in bytes. Workers also read the extended client's legacy
  names (``SQSLargePayloadSize``, ``com.amazon.sqs.javamessaging.
  MessageS3Pointer``).

Sending: the offload happens after the ``before_send`` hooks, so a
signature (``SigningMiddleware``) covers the real body, not the pointer:
whoever can write to the bucket cannot swap a payload unnoticed. Receiving:
the payload is fetched before anything else looks at the message (content
type, signatures, decoding), and the size attribute is removed, so the
message is exactly what was sent. The S3 object is deleted once the job
succeeded *and* SQS confirmed the message's delete (``keep=True``: never).
A payload that cannot be fetched refuses the message (``MessageRefused``):
it is retried, then goes to the dead-letter queue; its object is kept.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqs_workers.exceptions import SQSError, error_code
from sqs_workers.middleware import MessageRefused
from sqs_workers.sqs.limits import MAX_MESSAGE_BYTES

logger = logging.getLogger(__name__)

# The extended client's wire format (current and legacy names).
SIZE_ATTRIBUTE = "ExtendedPayloadSize"
LEGACY_SIZE_ATTRIBUTE = "SQSLargePayloadSize"
POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
LEGACY_POINTER_CLASS = "com.amazon.sqs.javamessaging.MessageS3Pointer"
_POINTER_CLASSES = frozenset({POINTER_CLASS, LEGACY_POINTER_CLASS})


@dataclass(frozen=True)
class LargePayloads:
    """Where oversize message bodies go, and when.

    ``bucket``: an existing S3 bucket the producers may write and the
    workers read and delete in; ``prefix``: prepended to each object's key
    (a random UUID); ``threshold``: entries larger than this many bytes go
    through S3 (default: SQS's limit; lower it for servers with a smaller
    one); ``keep``: never delete objects (e.g. a lifecycle rule expires
    them); ``s3_client``: the S3 client to use (default: the env session's
    ``client("s3")``).
    """

    bucket: str
    prefix: str = ""
    threshold: int = MAX_MESSAGE_BYTES
    keep: bool = False
    s3_client: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.bucket or not isinstance(self.bucket, str):
            raise ValueError("LargePayloads(bucket=...) needs an S3 bucket name")
        if not 0 <= self.threshold <= MAX_MESSAGE_BYTES:
            raise ValueError(
                f"LargePayloads threshold must be between 0 and {MAX_MESSAGE_BYTES} "
                f"bytes (SQS's limit), got {self.threshold}"
            )


class PayloadStoreError(SQSError):
    """A payload could not be stored in S3 at send: nothing was queued."""

    def __init__(self, bucket: str, key: str, error: BaseException) -> None:
        code = error_code(error) or type(error).__name__
        hint = {
            "NoSuchBucket": "create the bucket, or fix LargePayloads(bucket=...)",
            "AccessDenied": "allow s3:PutObject on it to this producer",
        }.get(code, "check the bucket and this producer's S3 access")
        super().__init__(
            f"could not store a large message payload in S3 bucket {bucket!r} "
            f"(key {key!r}): {code}; {hint}. Nothing was sent."
        )
        self.bucket = bucket
        self.key = key
        self.code = code


class PayloadUnavailable(MessageRefused):
    """A message's payload could not be fetched from S3: it is not run.

    It takes the failure path (retried after the backoff, then the
    dead-letter queue by the redrive policy); its object, if any, is kept.
    """

    def __init__(self, message_id: str, bucket: Any, key: Any, reason: str) -> None:
        super().__init__(
            f"payload of message {message_id} (S3 bucket {bucket!r}, key {key!r}) "
            f"could not be fetched: {reason}"
        )
        self.bucket = bucket
        self.key = key


def is_offloaded(attributes: dict[str, Any] | None) -> bool:
    """Whether a received message's body is an S3 pointer."""
    return bool(attributes) and (
        SIZE_ATTRIBUTE in attributes  # type: ignore[operator]
        or LEGACY_SIZE_ATTRIBUTE in attributes  # type: ignore[operator]
    )


def pointer_body(bucket: str, key: str) -> str:
    """The message body pointing at an S3 object (the extended client's JSON)."""
    return json.dumps(
        [POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}], separators=(",", ":")
    )


def parse_pointer(message_id: str, body: str) -> tuple[str, str]:
    """(bucket, key) of a pointer body; ``PayloadUnavailable`` if it is none."""
    try:
        pointer = json.loads(body)
        cls, location = pointer
        bucket, key = location["s3BucketName"], location["s3Key"]
    except (ValueError, TypeError, KeyError) as error:
        raise PayloadUnavailable(
            message_id, None, None, f"its body is not an S3 pointer ({error!r})"
        ) from None
    if cls not in _POINTER_CLASSES or not isinstance(bucket, str) or not key:
        raise PayloadUnavailable(
            message_id, bucket, key, f"unknown S3 pointer class {cls!r}"
        )
    return bucket, str(key)


class PayloadStore:
    """The S3 side of large payloads for one env (its client and options)."""

    def __init__(self, options: LargePayloads, make_client: Callable[[], Any]) -> None:
        self.options = options
        self.threshold = options.threshold
        self._make_client = make_client
        self._client: Any = options.s3_client

    @property
    def client(self) -> Any:
        """The S3 client, made on first use (most messages never need it)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    # -- sending ------------------------------------------------------------

    def offload(self, entry: dict[str, Any]) -> dict[str, Any]:
        """``entry`` with its body stored in S3 and replaced by a pointer.

        Raises ``PayloadStoreError`` (nothing is sent) if S3 refuses it.
        """
        data = str(entry["MessageBody"]).encode("utf-8")
        bucket = self.options.bucket
        key = f"{self.options.prefix}{uuid.uuid4()}"
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data)
        except Exception as error:
            raise PayloadStoreError(bucket, key, error) from error
        attributes = dict(entry.get("MessageAttributes") or {})
        size = {"DataType": "Number", "StringValue": str(len(data))}
        attributes[SIZE_ATTRIBUTE] = size
        offloaded = dict(entry)
        offloaded["MessageBody"] = pointer_body(bucket, key)
        offloaded["MessageAttributes"] = attributes
        return offloaded

    # -- receiving ----------------------------------------------------------

    def fetch(self, message: Any) -> None:
        """Put the payload in ``message.body`` (and drop the size attribute).

        Unless ``keep``, the object is deleted once SQS confirms the
        message's delete (``message.on_deleted``, called by the acker).
        """
        bucket, key = parse_pointer(message.message_id, message.body)
        message.body = self.read(message.message_id, bucket, key)
        attributes = message.message_attributes
        attributes.pop(SIZE_ATTRIBUTE, None)
        attributes.pop(LEGACY_SIZE_ATTRIBUTE, None)
        if not self.options.keep:
            message.on_deleted = functools.partial(self.delete, bucket, key)

    def read(self, message_id: str, bucket: str, key: str) -> str:
        """The payload stored at ``bucket``/``key`` for message ``message_id``;
        ``PayloadUnavailable`` if S3 cannot give it."""
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            return str(response["Body"].read().decode("utf-8"))
        except Exception as error:
            reason = error_code(error) or repr(error)
            raise PayloadUnavailable(message_id, bucket, key, reason) from None

    def delete_pointed(self, entry: dict[str, Any]) -> None:
        """Delete the object an offloaded entry points at (it was not sent)."""
        bucket, key = parse_pointer("(unsent)", entry["MessageBody"])
        self.delete(bucket, key)

    def delete(self, bucket: str, key: str) -> None:
        """Delete a payload whose message is gone; a failure is only logged
        (the object stays, e.g. for a lifecycle rule to expire)."""
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except Exception as error:
            logger.warning(
                "Could not delete the payload of a finished message from S3 "
                "(bucket %r, key %r): %s; the object stays",
                bucket,
                key,
                error_code(error) or repr(error),
            )


def no_store_refusal(message_id: str) -> MessageRefused:
    """A pointer message reached an env without ``large_payloads``."""
    return MessageRefused(
        f"message {message_id} carries its payload in S3 (SQS Extended Client "
        "format) but this worker's env has no large_payloads; set "
        "SQSEnv(large_payloads=LargePayloads(bucket=...))"
    )
