"""AWS's ``amazon-sqs-extended-client`` (PyPI) as a peer, in its own process.

Importing ``sqs_extended_client`` replaces ``boto3.Session`` process-wide, so
it never runs inside the test process. Reads a JSON plan on stdin, prints a
JSON result on stdout. The endpoint (moto) comes from ``AWS_ENDPOINT_URL``.

Plans:
  {"action": "send", "queue_url", "bucket", "body", "attributes": {name: value}}
  {"action": "receive", "queue_url", "bucket", "delete": true}
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import boto3
import sqs_extended_client  # noqa: F401 - patches boto3.Session


def client(bucket: str) -> Any:
    sqs = boto3.Session().client("sqs")
    sqs.large_payload_support = bucket
    # Payloads on moto stay small: send every message through S3.
    sqs.always_through_s3 = True
    return sqs


def send(plan: dict[str, Any]) -> dict[str, Any]:
    sqs = client(plan["bucket"])
    attributes = {
        name: {"DataType": "String", "StringValue": value}
        for name, value in plan.get("attributes", {}).items()
    }
    response = sqs.send_message(
        QueueUrl=plan["queue_url"],
        MessageBody=plan["body"],
        MessageAttributes=attributes,
    )
    return {"message_id": response["MessageId"]}


def receive(plan: dict[str, Any]) -> dict[str, Any]:
    sqs = client(plan["bucket"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=plan["queue_url"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
        ).get("Messages", [])
        if messages:
            break
    else:
        return {"error": "no message received"}
    message = messages[0]
    result = {
        "body": message["Body"],
        "attributes": {
            name: value.get("StringValue")
            for name, value in message.get("MessageAttributes", {}).items()
        },
    }
    if plan.get("delete"):
        sqs.delete_payload_from_s3 = True
        sqs.delete_message(
            QueueUrl=plan["queue_url"], ReceiptHandle=message["ReceiptHandle"]
        )
    return result


def main() -> None:
    plan = json.load(sys.stdin)
    action = {"send": send, "receive": receive}[plan["action"]]
    json.dump(action(plan), sys.stdout)


if __name__ == "__main__":
    main()
