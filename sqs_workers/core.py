"""Small shared pieces of the original interface: batch results, redrive."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqs_workers.sqs.message import string_attribute

logger = logging.getLogger(__name__)


class BatchProcessingResult:
    """Which messages of one processed batch succeeded and which failed."""

    def __init__(
        self,
        queue_name: str,
        succeeded: list[Any] | None = None,
        failed: list[Any] | None = None,
    ) -> None:
        self.queue_name = queue_name
        self.succeeded: list[Any] = succeeded or []
        self.failed: list[Any] = failed or []

    def update_with_message(self, message: Any, success: bool) -> None:
        (self.succeeded if success else self.failed).append(message)

    def succeeded_count(self) -> int:
        return len(self.succeeded)

    def failed_count(self) -> int:
        return len(self.failed)

    def total_count(self) -> int:
        return len(self.succeeded) + len(self.failed)

    def __repr__(self) -> str:
        return (
            f"<BatchProcessingResult/{self.queue_name}/"
            f"{self.succeeded_count()}/{self.failed_count()}>"
        )


class RedrivePolicy:
    """A queue's RedrivePolicy: after ``max_receive_count`` receives, go to the DLQ."""

    def __init__(
        self, sqs_env: Any, dead_letter_queue_name: str, max_receive_count: int
    ) -> None:
        self.sqs_env = sqs_env
        self.dead_letter_queue_name = dead_letter_queue_name
        self.max_receive_count = max_receive_count

    def dead_letter_queue_arn(self) -> str:
        client = self.sqs_env.sqs_client
        sqs_name = self.sqs_env.get_sqs_queue_name(self.dead_letter_queue_name)
        url = client.get_queue_url(QueueName=sqs_name)["QueueUrl"]
        attributes = client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]
        return str(attributes["QueueArn"])

    def __json__(self) -> str:
        # SQS takes the policy as a JSON document inside a string attribute.
        return json.dumps(
            {
                "deadLetterTargetArn": self.dead_letter_queue_arn(),
                "maxReceiveCount": str(self.max_receive_count),
            }
        )

    def __repr__(self) -> str:
        return (
            f"RedrivePolicy({self.dead_letter_queue_name!r}, {self.max_receive_count})"
        )


def get_job_name(message: Any) -> str | None:
    return string_attribute(message, "JobName")
