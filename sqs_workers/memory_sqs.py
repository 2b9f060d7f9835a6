"""In-memory SQS: the public entry points.

``MemorySession`` stands in for a ``boto3.Session``: ``client("sqs")`` and
``resource("sqs")`` give objects that behave like boto3's but keep queues in
the process; ``client("s3")`` gives a small in-memory S3 (the calls large
payloads make, ``sqs_workers.memory.s3``).  Sessions built on the same
``MemoryAWS`` share queues (and buckets)::

    aws = MemoryAWS(clock=FakeClock())
    producer = MemorySession(aws).client("sqs")
    consumer = MemorySession(aws).client("sqs")
"""

from __future__ import annotations

from typing import Any

from sqs_workers.memory import (
    Clock,
    FakeClock,
    MemoryAWS,
    MemoryFifoQueue,
    MemoryMessage,
    MemoryQueue,
    MemorySQSClient,
    RealClock,
)
from sqs_workers.memory.s3 import MemoryS3Client


class MemorySession:
    """A boto3-Session look-alike whose SQS lives in memory."""

    def __init__(self, aws: MemoryAWS | None = None) -> None:
        self.aws = aws if aws is not None else MemoryAWS()

    def __repr__(self) -> str:
        return f"MemorySession(aws={self.aws!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemorySession) and other.aws is self.aws

    def __hash__(self) -> int:
        return id(self.aws)

    @property
    def region_name(self) -> str:
        return "us-east-1"

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3-compatible SQS client (or the small in-memory S3 client, for
        large payloads); boto3's extra kwargs are accepted."""
        if service_name == "s3":
            return MemoryS3Client(self.aws.s3, region_name=kwargs.get("region_name"))
        _check_service(service_name)
        return MemorySQSClient(
            self.aws,
            region_name=kwargs.get("region_name"),
            endpoint_url=kwargs.get("endpoint_url"),
            config=kwargs.get("config"),
        )

    def resource(self, service_name: str, **kwargs: Any) -> Any:
        """boto3's resource API, adapted on top of our client."""
        _check_service(service_name)
        from sqs_workers.sqs.resource import SQSResource  # written alongside; lazy

        return SQSResource(self.client(service_name, **kwargs))


def _check_service(service_name: str) -> None:
    if service_name != "sqs":
        raise ValueError(
            f"MemorySession only provides SQS (and a small S3 for large "
            f"payloads), not {service_name!r}; use a boto3.Session for other "
            "services."
        )


__all__ = [
    "Clock",
    "FakeClock",
    "MemoryAWS",
    "MemoryFifoQueue",
    "MemoryMessage",
    "MemoryQueue",
    "MemorySQSClient",
    "MemorySession",
    "RealClock",
]
