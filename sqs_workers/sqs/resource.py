"""A boto3-resource-style view over any SQS client (compatibility adapter).

The original package worked through boto3's resource API and exposed it as
``env.sqs_resource`` and ``queue.get_queue()``. We talk to the low-level
client everywhere; this thin adapter gives code that still wants resource
objects (and ``MemorySession.resource("sqs")``) the same names: a service
object with ``Queue(url)``/``get_queue_by_name``/``create_queue``/``queues``,
a queue object with ``url``, ``attributes``, ``send_message(s)``,
``receive_messages``, ``delete_messages``, ``change_message_visibility_batch``,
``purge`` and ``delete``, and messages with ``body``, ``message_id``, ... .
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqs_workers.sqs.message import Message


class SQSResource:
    def __init__(self, client: Any) -> None:
        self.meta = _Meta(client)

    @property
    def _client(self) -> Any:
        return self.meta.client

    def Queue(self, url: str) -> QueueResource:
        return QueueResource(self._client, url)

    def Message(self, queue_url: str, receipt_handle: str) -> Message:
        raw = {"MessageId": "", "ReceiptHandle": receipt_handle, "Body": ""}
        return Message(self._client, queue_url, raw)

    def get_queue_by_name(self, QueueName: str, **kwargs: Any) -> QueueResource:
        url = self._client.get_queue_url(QueueName=QueueName, **kwargs)["QueueUrl"]
        return QueueResource(self._client, url)

    def create_queue(self, QueueName: str, **kwargs: Any) -> QueueResource:
        url = self._client.create_queue(QueueName=QueueName, **kwargs)["QueueUrl"]
        return QueueResource(self._client, url)

    @property
    def queues(self) -> _QueueCollection:
        return _QueueCollection(self._client)


class _Meta:
    def __init__(self, client: Any) -> None:
        self.client = client


class _QueueCollection:
    def __init__(self, client: Any) -> None:
        self._client = client

    def all(self) -> Iterator[QueueResource]:
        return self.filter()

    def filter(self, **kwargs: Any) -> Iterator[QueueResource]:
        response = self._client.list_queues(**kwargs)
        for url in response.get("QueueUrls", ()):
            yield QueueResource(self._client, url)


class QueueResource:
    """One queue, addressed by URL; attributes are fetched on first use."""

    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url
        self._attributes: dict[str, str] | None = None

    @property
    def attributes(self) -> dict[str, str]:
        if self._attributes is None:
            self.load()
        return self._attributes  # type: ignore[return-value]

    def load(self) -> None:
        response = self._client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["All"]
        )
        self._attributes = dict(response.get("Attributes", {}))

    reload = load

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self._client.send_message(QueueUrl=self.url, **kwargs))

    def send_messages(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self._client.send_message_batch(QueueUrl=self.url, **kwargs))

    def receive_messages(self, **kwargs: Any) -> list[Message]:
        response = self._client.receive_message(QueueUrl=self.url, **kwargs)
        return [
            Message(self._client, self.url, m) for m in response.get("Messages", ())
        ]

    def delete_messages(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self._client.delete_message_batch(QueueUrl=self.url, **kwargs))

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
        return dict(
            self._client.change_message_visibility_batch(QueueUrl=self.url, **kwargs)
        )

    def set_attributes(self, **kwargs: Any) -> dict[str, Any]:
        self._attributes = None
        return dict(self._client.set_queue_attributes(QueueUrl=self.url, **kwargs))

    def purge(self) -> dict[str, Any]:
        return dict(self._client.purge_queue(QueueUrl=self.url))

    def delete(self) -> dict[str, Any]:
        return dict(self._client.delete_queue(QueueUrl=self.url))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QueueResource) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __repr__(self) -> str:
        return f"sqs.Queue(url={self.url!r})"
