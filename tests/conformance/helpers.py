"""Helpers for the conformance suite: a backend wrapper and waiting aids."""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sqs_workers.memory_sqs import FakeClock

DEADLINE = 10.0  # seconds a moto test waits for real time to pass


class Backend:
    """One SQS under test, with time control that works on both backends."""

    def __init__(self, kind: str, client: Any, clock: FakeClock | None) -> None:
        self.kind = kind
        self.client = client
        self.clock = clock
        self.prefix = ""
        self._urls: list[str] = []
        self._count = 0

    @property
    def memory(self) -> bool:
        return self.kind == "memory"

    def name(self, stem: str = "q", fifo: bool = False) -> str:
        self._count += 1
        return f"{self.prefix}-{stem}{self._count}" + (".fifo" if fifo else "")

    def create(self, stem: str = "q", fifo: bool = False, **attributes: Any) -> str:
        attrs = {k: str(v) for k, v in attributes.items()}
        if fifo:
            attrs["FifoQueue"] = "true"
        url: str = self.client.create_queue(
            QueueName=self.name(stem, fifo), Attributes=attrs
        )["QueueUrl"]
        self._urls.append(url)
        return url

    def track(self, url: str) -> str:
        self._urls.append(url)
        return url

    def cleanup(self) -> None:
        for url in self._urls:
            try:
                self.client.delete_queue(QueueUrl=url)
            except ClientError:
                pass

    def arn(self, url: str) -> str:
        return str(self.attributes(url, "QueueArn")["QueueArn"])

    def attributes(self, url: str, *names: str) -> dict[str, str]:
        response = self.client.get_queue_attributes(
            QueueUrl=url, AttributeNames=list(names) or ["All"]
        )
        return dict(response.get("Attributes", {}))

    def counts(self, url: str) -> tuple[int, int, int]:
        """(visible, in flight, delayed)."""
        a = self.attributes(
            url,
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        return (
            int(a["ApproximateNumberOfMessages"]),
            int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]),
        )

    def receive(self, url: str, **kwargs: Any) -> list[dict[str, Any]]:
        return list(
            self.client.receive_message(QueueUrl=url, **kwargs).get("Messages", [])
        )

    def receive_after(
        self, url: str, seconds: float, expect: int = 1, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Receive once `seconds` have passed (fake clock, or real with a deadline).

        On moto this polls until `expect` messages arrived or the deadline
        passed, never trusting a fixed sleep.
        """
        if self.clock is not None:
            self.clock.advance(seconds)
            return self.receive(url, **kwargs)
        deadline = time.monotonic() + seconds + DEADLINE
        got: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            got.extend(self.receive(url, WaitTimeSeconds=1, **kwargs))
            if len(got) >= expect:
                break
        return got

    def pass_time(self, seconds: float) -> None:
        """Advance the fake clock (memory-only tests; moto tests wait with a
        deadline through receive_after instead of sleeping)."""
        assert self.clock is not None, "pass_time needs the memory backend"
        self.clock.advance(seconds)


def send(sqs: Backend, url: str, body: str = "body", **kwargs: Any) -> dict[str, Any]:
    return dict(sqs.client.send_message(QueueUrl=url, MessageBody=body, **kwargs))


def error_of(call: Callable[[], Any]) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    return info.value


def assert_error(
    error: ClientError,
    code: str,
    status: int = 400,
    exception: str | None = None,
    message: str | None = None,
) -> None:
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    if exception is not None:
        assert type(error).__name__ == exception
    if message is not None:
        assert error.response["Error"]["Message"] == message


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def reference_attributes_md5(attributes: dict[str, dict[str, Any]]) -> str:
    """The SDKs' check of MD5OfMessageAttributes, written from the spec."""
    buffer = b""
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        for part in (name.encode(), data_type.encode()):
            buffer += struct.pack(">i", len(part)) + part
        if "StringValue" in value:
            encoded = value["StringValue"].encode()
            buffer += b"\x01" + struct.pack(">i", len(encoded)) + encoded
        else:
            raw = value["BinaryValue"]
            buffer += b"\x02" + struct.pack(">i", len(raw)) + raw
    return md5_hex(buffer)
