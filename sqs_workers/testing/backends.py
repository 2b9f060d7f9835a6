"""Where a test's queues live: in memory on a fake clock, or on an SQS server.

Each backend makes SQS clients and peeks at a queue's messages without
taking them; only the in-memory one can move time.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from sqs_workers.memory.message import GONE, VISIBLE, MemoryMessage
from sqs_workers.memory_sqs import FakeClock, MemoryAWS, MemorySession
from sqs_workers.payloads import PayloadStore
from sqs_workers.sqs.receiving import receive_messages
from sqs_workers.testing.jobs import Job, decode_job

REGION = "us-east-1"
# How long a peek on a server hides each message while it reads the rest.
PEEK_VISIBILITY = 30


class TimeTravelUnavailable(RuntimeError):
    """The clock of an SQS server cannot be moved; only the in-memory one can."""


class Backend(Protocol):
    name: str

    def client(self) -> Any:
        """A new boto3-compatible SQS client on this backend."""
        ...

    def session(self) -> Any:
        """What to set as ``SQSEnv.session`` (a boto3-Session look-alike)."""
        ...

    def fake_clock(self) -> FakeClock:
        """The clock tests move; raises ``TimeTravelUnavailable`` on a server."""
        ...

    def peek(
        self, client: Any, queue_url: str, store: PayloadStore | None = None
    ) -> list[Job]:
        """The queue's messages, oldest first, decoded (S3 payloads read
        through ``store``)."""
        ...


class MemoryBackend:
    """The in-memory SQS on a fake clock: nothing sleeps, time moves on demand."""

    name = "memory"

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock if clock is not None else FakeClock()
        self.aws = MemoryAWS(clock=self.clock)
        self._session = MemorySession(self.aws)

    def client(self) -> Any:
        return self._session.client("sqs", region_name=REGION)

    def session(self) -> Any:
        return self._session

    def fake_clock(self) -> FakeClock:
        return self.clock

    def peek(
        self, client: Any, queue_url: str, store: PayloadStore | None = None
    ) -> list[Job]:
        # Read under the store's lock, without receiving: receive counts,
        # visibility and the order of the queue stay as they were.
        aws = self.aws
        with aws.lock:
            queue = aws.queue_by_url(REGION, queue_url)
            now = aws.now()
            queue.tick(now)
            live = [m for m in queue.messages.values() if m.state != GONE]
        # Decoded outside the lock: an S3 payload read must not hold up SQS.
        return [_memory_job(m, now, store) for m in live]

    def __repr__(self) -> str:
        return f"MemoryBackend(now={self.clock.now()})"


def _memory_job(message: MemoryMessage, now: float, store: PayloadStore | None) -> Job:
    waiting = message.state != VISIBLE and message.ready_at > now
    return decode_job(
        message.body,
        message.attributes,
        delay=message.ready_at - now if waiting else 0,
        group_id=message.group_id,
        message_id=message.message_id,
        receive_count=message.receive_count,
        now=now,
        store=store,
    )


class ServerBackend:
    """A real SQS-speaking server (moto, ElasticMQ, LocalStack) at ``endpoint_url``."""

    name = "server"

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def client(self) -> Any:
        import boto3

        # Fixed fake credentials: a test must never reach AWS with real ones.
        return boto3.client(
            "sqs",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def session(self) -> Any:
        import boto3

        return boto3.Session(
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def fake_clock(self) -> FakeClock:
        raise TimeTravelUnavailable(
            f"the SQS server at {self.endpoint_url} runs on its own clock, which "
            "a test cannot move; run tests that move time on the in-memory "
            "backend (the default)"
        )

    def peek(
        self, client: Any, queue_url: str, store: PayloadStore | None = None
    ) -> list[Job]:
        # A server shows messages only by receiving them: take each visible
        # one (hidden meanwhile, so each is seen once), then show it again.
        # Each peek counts as a receive towards a redrive policy's
        # maxReceiveCount, and delayed or in-flight messages are not seen.
        received = []
        while True:
            batch = receive_messages(client, queue_url, 10, 0, PEEK_VISIBILITY)
            if not batch:
                break
            received.extend(batch)
        for message in received:
            message.change_visibility(VisibilityTimeout=0)
        now = time.time()
        return [
            decode_job(
                m.body,
                m.message_attributes,
                group_id=m.attributes.get("MessageGroupId"),
                message_id=m.message_id,
                receive_count=int(m.attributes.get("ApproximateReceiveCount", 0)),
                now=now,
                store=store,
            )
            for m in received
        ]

    def __repr__(self) -> str:
        return f"ServerBackend({self.endpoint_url!r})"
