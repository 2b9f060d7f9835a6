"""``send``, ``send-raw`` and ``peek``: enqueue by hand, look without consuming."""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

import click

from sqs_workers.cli.common import BadInput, Connection, print_json, print_table
from sqs_workers.codecs import CONTENT_TYPES_CODECS
from sqs_workers.queue import JobQueue, RawQueue
from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES, MAX_DELAY_SECONDS
from sqs_workers.sqs.message import string_value
from sqs_workers.sqs.sending import entry_size

PEEK_MAX_ROUNDS = 100


def parse_kwargs(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise BadInput(f"--kwargs is not valid JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise BadInput(
            f"--kwargs must be a JSON object of keyword arguments, got {text!r}"
        )
    return value


delay_option = click.option(
    "--delay",
    type=click.IntRange(0, MAX_DELAY_SECONDS),
    metavar="S",
    help="Deliver after S seconds (0-900; not on FIFO queues).",
)
group_option = click.option(
    "--group", metavar="G", help="FIFO message group (default: 'default')."
)
dedup_option = click.option(
    "--dedup-id", metavar="ID", help="FIFO deduplication id (unless content-based)."
)


@click.command(
    epilog="""\b
Examples:
  sqs-workers send emails send_email --kwargs '{"to": "a@example.com"}'
  sqs-workers send reports.fifo build --kwargs '{"id": 7}' --group acct-1 --dedup-id r7
  sqs-workers send emails cleanup --delay 60

Prints the message id."""
)
@click.argument("queue")
@click.argument("job")
@click.option(
    "--kwargs",
    "kwargs_json",
    default="{}",
    metavar="JSON",
    help="The job's keyword arguments as a JSON object.",
)
@click.option(
    "--content-type",
    type=click.Choice(sorted(CONTENT_TYPES_CODECS)),
    default="json",
    show_default=True,
    help="How the arguments are encoded on the wire.",
)
@delay_option
@group_option
@dedup_option
@click.pass_obj
def send(
    connection: Connection,
    queue: str,
    job: str,
    kwargs_json: str,
    content_type: str,
    delay: int | None,
    group: str | None,
    dedup_id: str | None,
) -> None:
    """Send job JOB to QUEUE, as a producer's queue.add_job(...) would."""
    kwargs = parse_kwargs(kwargs_json)
    url = connection.queue_url(queue)
    job_queue = connection.env.queue(queue, JobQueue, queue_url=url)
    message_id = job_queue.add_job(
        job,
        _content_type=content_type,
        _delay_seconds=delay,
        _deduplication_id=dedup_id,
        _group_id=group,
        **kwargs,
    )
    click.echo(message_id)


@click.command(
    name="send-raw",
    epilog="""\b
Examples:
  sqs-workers send-raw webhooks '{"event": "paid"}'
  echo 'hello' | sqs-workers send-raw webhooks -

Prints the message id.""",
)
@click.argument("queue")
@click.argument("body")
@delay_option
@group_option
@dedup_option
@click.pass_obj
def send_raw(
    connection: Connection,
    queue: str,
    body: str,
    delay: int | None,
    group: str | None,
    dedup_id: str | None,
) -> None:
    """Send BODY as is to QUEUE (for raw queues); '-' reads it from stdin."""
    if body == "-":
        body = sys.stdin.read()
    url = connection.queue_url(queue)
    raw_queue = connection.env.queue(queue, RawQueue, queue_url=url)
    kwargs: dict[str, Any] = {"deduplication_id": dedup_id, "delay_seconds": delay or 0}
    if group is not None:
        kwargs["group_id"] = group
    click.echo(raw_queue.add_raw_job(body, **kwargs))


def describe(message: dict[str, Any]) -> dict[str, Any]:
    """What peek shows of one message; JSON arguments decoded, pickles never."""
    attributes = message.get("MessageAttributes") or {}
    system = message.get("Attributes") or {}
    job = string_value(attributes, "JobName")
    content_type = string_value(attributes, "ContentType")
    body = message["Body"]
    arguments: Any = None
    if job is not None and content_type == "json":
        try:
            arguments = json.loads(body)
        except ValueError:
            arguments = None
    sent = system.get("SentTimestamp")
    return {
        "message_id": message["MessageId"],
        "job": job,
        "content_type": content_type,
        "arguments": arguments,
        "body": None if job is not None else body,
        "size": entry_size({"MessageBody": body, "MessageAttributes": attributes}),
        "receive_count": int(system.get("ApproximateReceiveCount", 0)),
        "sent": (
            datetime.datetime.fromtimestamp(int(sent) / 1000, datetime.timezone.utc)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z")
            if sent
            else None
        ),
        "group": system.get("MessageGroupId"),
    }


def peek_messages(connection: Connection, url: str, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` distinct messages, received with a visibility timeout of 0.

    Every receive raises a message's receive count (and may move it to the
    DLQ), so it stops as soon as it has as many as the queue shows, or at
    the first receive that brings nothing new.
    """
    visible = int(
        connection.attributes(url, "ApproximateNumberOfMessages").get(
            "ApproximateNumberOfMessages", 0
        )
    )
    wanted = min(count, visible)
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(PEEK_MAX_ROUNDS):
        if len(seen) >= wanted:
            break
        response = connection.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(MAX_BATCH_ENTRIES, wanted - len(seen)),
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        new = [m for m in response.get("Messages", ()) if m["MessageId"] not in seen]
        if not new:
            break
        for message in new[: wanted - len(seen)]:
            seen[message["MessageId"]] = describe(message)
    return list(seen.values())


def _shown_arguments(row: dict[str, Any]) -> str:
    if row["job"] is None:
        text = row["body"]
    elif row["arguments"] is not None:
        text = json.dumps(row["arguments"], sort_keys=True)
    else:
        text = f"<{row['content_type']}, not decoded>"
    return text if len(text) <= 60 else text[:57] + "..."


@click.command(
    epilog="""\b
Examples:
  sqs-workers peek emails
  sqs-workers peek emails-dlq -n 50 --json

Each message is received with a visibility timeout of 0, so it stays
available to workers. Peeking counts as a receive: it raises the message's
receive count (shown), and a message already at its queue's
maxReceiveCount moves to the dead-letter queue. Pickled arguments are never
unpickled."""
)
@click.argument("queue")
@click.option(
    "-n",
    "count",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="How many messages at most.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list).")
@click.pass_obj
def peek(connection: Connection, queue: str, count: int, as_json: bool) -> None:
    """Show messages of QUEUE (job, arguments, size, receives); consume nothing."""
    rows = peek_messages(connection, connection.queue_url(queue), count)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no visible messages")
        return
    print_table(
        ["MESSAGE ID", "JOB", "ARGUMENTS / BODY", "SIZE", "RECEIVES", "SENT"],
        [
            [
                r["message_id"],
                r["job"] or "(raw)",
                _shown_arguments(r),
                r["size"],
                r["receive_count"],
                r["sent"],
            ]
            for r in rows
        ],
    )


COMMANDS = [send, send_raw, peek]
