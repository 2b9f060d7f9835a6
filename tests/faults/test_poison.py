"""Poison messages of every kind end in the dead-letter queue after
maxReceiveCount, never run, and never stop the worker from serving good jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from faults.helpers import FaultQueue, Figures, Ledger, WorkerProcess, wait_until

pytestmark = pytest.mark.faults

Report = Callable[[str, Figures], None]
MAX_RECEIVE_COUNT = 2


def attributes(
    job_name: str | None, content_type: str | None, context: str | None = "{}"
) -> dict[str, Any]:
    """JobName / ContentType / JobContext as our producers write them."""
    values = {"JobName": job_name, "ContentType": content_type, "JobContext": context}
    return {
        name: {"DataType": "String", "StringValue": value}
        for name, value in values.items()
        if value is not None
    }


# name: (body, message attributes); each would run "record" or another
# handler if it were decoded and dispatched as a good job.
POISON: dict[str, tuple[str, dict[str, Any]]] = {
    "undecodable body": ("{not json", attributes("record", "json")),
    "unknown content type": (
        json.dumps({"job_id": "p-yaml"}),
        attributes("record", "yaml"),
    ),
    "missing content type": (
        json.dumps({"job_id": "p-none"}),
        attributes("record", None),
    ),
    "unknown job": (json.dumps({"job_id": "p-job"}), attributes("no_such_job", "json")),
    "arguments the handler rejects": (
        json.dumps({"job_id": "p-args", "count": "many"}),
        attributes("strict", "json"),
    ),
    "a required argument missing": (
        json.dumps({"job_id": "p-missing"}),
        attributes("strict", "json"),
    ),
    "context that does not decode": (
        json.dumps({"job_id": "p-context"}),
        attributes("record", "json", context="{not json"),
    ),
    "handler that always fails": (
        json.dumps({"job_id": "p-fail"}),
        attributes("fail", "json"),
    ),
}


def dead_lettered(queue: FaultQueue, seen: dict[str, str]) -> dict[str, str]:
    """MessageIds in the DLQ so far (kept hidden, so each is seen once)."""
    assert queue.dlq_url is not None
    for message in queue.client.receive_message(
        QueueUrl=queue.dlq_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=60,
        AttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", []):
        seen[message["MessageId"]] = message["Attributes"].get(
            "ApproximateReceiveCount", "?"
        )
    return seen


def test_poison_messages_end_in_the_dlq_and_good_jobs_keep_running(
    make_queue: Callable[..., FaultQueue],
    spawn_worker: Callable[..., WorkerProcess],
    ledger: Ledger,
    report: Report,
) -> None:
    queue = make_queue(visibility=30, max_receive_count=MAX_RECEIVE_COUNT)
    worker = spawn_worker(
        queue,
        codec="json",
        backoff="constant0",  # a failed job is retried at once: a fast test
        options={"wait_seconds": 1},
    )
    poison_ids = {}
    good = []
    for index, (kind, (body, message_attributes)) in enumerate(POISON.items()):
        poison_ids[
            queue.client.send_message(
                QueueUrl=queue.url,
                MessageBody=body,
                MessageAttributes=message_attributes,
            )["MessageId"]
        ] = kind
        job_id = f"good{index}"
        queue.jobs.add_job("record", job_id=job_id)
        good.append(job_id)
    in_dlq: dict[str, str] = {}
    wait_until(
        lambda: (
            (
                set(dead_lettered(queue, in_dlq)) >= set(poison_ids)
                and all(ledger.done().get(job) for job in good)
            )
            or not worker.alive()
        ),
        20,
        "every poison message in the DLQ and every good job run",
        poll=0.2,
    )
    assert worker.alive(), worker.describe()
    figures = Figures.of(
        good,
        ledger,
        poison=len(poison_ids),
        dead_lettered=len(set(in_dlq) & set(poison_ids)),
    )
    report("poison messages (maxReceiveCount 2) + good jobs", figures)
    assert set(in_dlq) == set(poison_ids), "a good job went to the DLQ"
    assert figures.lost == 0
    assert figures.duplicated == 0
    completed = set(ledger.done())
    assert not completed & {"p-yaml", "p-none", "p-context", "p-args"}, (
        "a poison message ran to the end"
    )
