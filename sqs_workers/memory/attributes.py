"""Queue attributes: names, defaults, validation, and their parsed values."""

from __future__ import annotations

import json
from typing import Any

from .errors import (
    INVALID_ATTRIBUTE_NAME,
    INVALID_ATTRIBUTE_VALUE,
    INVALID_PARAMETER_VALUE,
    SQSError,
)

MAX_MESSAGE_SIZE = 1_048_576  # SQS's ceiling since 2025 (was 256 KiB)
MAX_VISIBILITY_TIMEOUT = 43_200  # 12 hours
MAX_DELAY_SECONDS = 900
MAX_WAIT_TIME_SECONDS = 20

# name -> (minimum, maximum, default) for the integer attributes
INTEGER_ATTRIBUTES: dict[str, tuple[int, int, int]] = {
    "DelaySeconds": (0, MAX_DELAY_SECONDS, 0),
    "MaximumMessageSize": (1024, MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE),
    "MessageRetentionPeriod": (60, 1_209_600, 345_600),
    "ReceiveMessageWaitTimeSeconds": (0, MAX_WAIT_TIME_SECONDS, 0),
    "VisibilityTimeout": (0, MAX_VISIBILITY_TIMEOUT, 30),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400, 300),
}
BOOLEAN_ATTRIBUTES = {"SqsManagedSseEnabled", "ContentBasedDeduplication", "FifoQueue"}
FIFO_ONLY_ATTRIBUTES = {
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
}
CHOICES = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
FREE_FORM = {"Policy", "KmsMasterKeyId"}
SETTABLE = (
    set(INTEGER_ATTRIBUTES)
    | BOOLEAN_ATTRIBUTES
    | FIFO_ONLY_ATTRIBUTES
    | FREE_FORM
    | {"RedrivePolicy", "RedriveAllowPolicy"}
)
COUNTERS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)
READ_ONLY = {*COUNTERS, "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"}
# The order AWS lists attributes in for "All".
ALL_ORDER = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "DelaySeconds",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoQueue",
    "FifoThroughputLimit",
)
KNOWN = SETTABLE | READ_ONLY


def invalid_value(name: str) -> SQSError:
    return SQSError(INVALID_ATTRIBUTE_VALUE, f"Invalid value for the parameter {name}.")


def unknown_attribute(name: str) -> SQSError:
    return SQSError(INVALID_ATTRIBUTE_NAME, f"Unknown Attribute {name}.")


def _parse_int(name: str, value: str) -> int:
    low, high, _ = INTEGER_ATTRIBUTES[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_value(name) from None
    if not low <= number <= high:
        raise invalid_value(name)
    return number


def _parse_bool(name: str, value: str) -> bool:
    lowered = str(value).lower()
    if lowered not in ("true", "false"):
        raise invalid_value(name)
    return lowered == "true"


class RedrivePolicy:
    """A parsed RedrivePolicy: where dead letters go and after how many receives."""

    __slots__ = ("max_receive_count", "target_arn")

    def __init__(self, target_arn: str, max_receive_count: int) -> None:
        self.target_arn = target_arn
        self.max_receive_count = max_receive_count

    def to_json(self) -> str:
        return json.dumps(
            {
                "deadLetterTargetArn": self.target_arn,
                "maxReceiveCount": self.max_receive_count,
            },
            separators=(",", ":"),
        )


def _redrive_error(value: str, reason: str) -> SQSError:
    return SQSError(
        INVALID_PARAMETER_VALUE,
        f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}",
    )


def parse_redrive_policy(value: str) -> RedrivePolicy | None:
    """Parse a RedrivePolicy string; an empty string removes the policy."""
    if value == "":
        return None
    try:
        document = json.loads(value)
    except ValueError:
        raise _redrive_error(value, "Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _redrive_error(value, "Redrive policy is not a dictionary.")
    target = document.get("deadLetterTargetArn")
    count = document.get("maxReceiveCount")
    if not isinstance(target, str) or not target:
        raise _redrive_error(
            value,
            "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
        )
    if count is None:
        raise _redrive_error(
            value,
            "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
        )
    try:
        max_receive_count = int(count)
    except (TypeError, ValueError):
        raise _redrive_error(
            value,
            "Invalid value for maxReceiveCount: must be an integer from 1 to 1000.",
        ) from None
    if not 1 <= max_receive_count <= 1000:
        raise _redrive_error(
            value,
            "Invalid value for maxReceiveCount: must be an integer from 1 to 1000.",
        )
    return RedrivePolicy(target, max_receive_count)


class RedriveAllowPolicy:
    """Which source queues may use this queue as their dead-letter queue."""

    __slots__ = ("permission", "source_arns")

    def __init__(self, permission: str, source_arns: list[str]) -> None:
        self.permission = permission
        self.source_arns = source_arns

    def allows(self, source_arn: str) -> bool:
        if self.permission == "allowAll":
            return True
        if self.permission == "denyAll":
            return False
        return source_arn in self.source_arns


def parse_redrive_allow_policy(value: str) -> RedriveAllowPolicy | None:
    if value == "":
        return None
    error = SQSError(
        INVALID_PARAMETER_VALUE,
        f"Value {value} for parameter RedriveAllowPolicy is invalid.",
    )
    try:
        document = json.loads(value)
    except ValueError:
        raise error from None
    if not isinstance(document, dict):
        raise error
    permission = document.get("redrivePermission")
    sources = document.get("sourceQueueArns", [])
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise error
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise error
    if permission == "byQueue" and not 1 <= len(sources) <= 10:
        raise error
    if permission != "byQueue" and sources:
        raise error
    return RedriveAllowPolicy(permission, sources)


class QueueSettings:
    """A queue's configurable attributes, validated and pre-parsed.

    Hot paths read the parsed fields (``visibility_timeout`` ...) instead of
    converting strings on every call.
    """

    def __init__(self, fifo: bool) -> None:
        self.fifo = fifo
        self.raw: dict[str, str] = {"SqsManagedSseEnabled": "true"}
        self.delay_seconds = 0
        self.maximum_message_size = MAX_MESSAGE_SIZE
        self.retention_period = 345_600
        self.wait_time_seconds = 0
        self.visibility_timeout = 30
        self.content_based_deduplication = False
        self.deduplication_scope = "queue"
        self.redrive: RedrivePolicy | None = None
        self.redrive_allow: RedriveAllowPolicy | None = None
        for name, (_, _, default) in INTEGER_ATTRIBUTES.items():
            if name != "KmsDataKeyReusePeriodSeconds":
                self.raw[name] = str(default)
        if fifo:
            self.raw.update(
                FifoQueue="true",
                ContentBasedDeduplication="false",
                DeduplicationScope="queue",
                FifoThroughputLimit="perQueue",
            )

    def validate(self, attributes: dict[str, Any], creating: bool) -> dict[str, str]:
        """Check names and values; returns them normalized, changes nothing."""
        normalized: dict[str, str] = {}
        for name, value in attributes.items():
            if name not in SETTABLE:
                raise unknown_attribute(name)
            if name in FIFO_ONLY_ATTRIBUTES and not self.fifo:
                raise unknown_attribute(name)
            if name == "FifoQueue" and (
                _parse_bool(name, value) != self.fifo or not creating
            ):
                raise invalid_value(name)
            value = str(value)
            if name in INTEGER_ATTRIBUTES:
                value = str(_parse_int(name, value))
            elif name in BOOLEAN_ATTRIBUTES:
                value = str(_parse_bool(name, value)).lower()
            elif name in CHOICES and value not in CHOICES[name]:
                raise invalid_value(name)
            elif name == "RedrivePolicy":
                policy = parse_redrive_policy(value)
                value = policy.to_json() if policy else ""
            elif name == "RedriveAllowPolicy":
                parse_redrive_allow_policy(value)
            normalized[name] = value
        return normalized

    def apply(self, attributes: dict[str, str]) -> None:
        """Store already-validated attributes and refresh the parsed fields."""
        for name, value in attributes.items():
            if value == "" and name in (
                "RedrivePolicy",
                "RedriveAllowPolicy",
                "Policy",
            ):
                self.raw.pop(name, None)
            else:
                self.raw[name] = value
        raw = self.raw
        self.delay_seconds = int(raw["DelaySeconds"])
        self.maximum_message_size = int(raw["MaximumMessageSize"])
        self.retention_period = int(raw["MessageRetentionPeriod"])
        self.wait_time_seconds = int(raw["ReceiveMessageWaitTimeSeconds"])
        self.visibility_timeout = int(raw["VisibilityTimeout"])
        self.content_based_deduplication = (
            raw.get("ContentBasedDeduplication") == "true"
        )
        self.deduplication_scope = raw.get("DeduplicationScope", "queue")
        self.redrive = parse_redrive_policy(raw.get("RedrivePolicy", ""))
        self.redrive_allow = parse_redrive_allow_policy(
            raw.get("RedriveAllowPolicy", "")
        )

    def differs(self, attributes: dict[str, str]) -> str | None:
        """The first given attribute whose value differs from ours, if any."""
        for name, value in attributes.items():
            if name == "FifoQueue":
                continue  # the queue name already settled the queue type
            if name == "RedrivePolicy" and value:
                mine = self.redrive.to_json() if self.redrive else ""
                if mine != value:
                    return name
            elif self.raw.get(name, "") != value:
                return name
        return None
