"""``purge`` and ``drain``: empty a queue (after asking, unless ``--yes``)."""

from __future__ import annotations

import click

from sqs_workers.cli.common import Connection, ProgressLine
from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES

yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts)."
)


def _confirm(connection: Connection, url: str, queue: str, verb: str) -> None:
    depth = connection.attributes(url, "ApproximateNumberOfMessages")
    count = depth.get("ApproximateNumberOfMessages", "?")
    # Declining (or no answer on stdin) aborts: "Aborted!" and exit 1.
    click.confirm(
        f"{verb} queue {queue!r} ({count} visible messages, cannot be undone)?",
        abort=True,
        err=True,
    )


@click.command(
    epilog="""\b
Examples:
  sqs-workers purge emails-dlq
  sqs-workers purge emails-dlq --yes     no question (scripts)

SQS deletes the messages within about a minute and allows one purge per
queue per 60 seconds; `drain` deletes them one batch at a time instead."""
)
@click.argument("queue")
@yes_option
@click.pass_obj
def purge(connection: Connection, queue: str, yes: bool) -> None:
    """Delete every message of QUEUE at once (SQS PurgeQueue)."""
    url = connection.queue_url(queue)
    if not yes:
        _confirm(connection, url, queue, "Purge")
    connection.sqs.purge_queue(QueueUrl=url)
    click.echo(f"purged {queue}")


def drain_queue(connection: Connection, url: str, wait_seconds: int) -> int:
    """Receive and delete until a receive comes back empty; return the count."""
    deleted = 0
    while True:
        response = connection.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=MAX_BATCH_ENTRIES,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=60,
        )
        received = response.get("Messages", [])
        if not received:
            ProgressLine.finish()
            return deleted
        result = connection.sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(received)
            ],
        )
        deleted += len(result.get("Successful", []))
        ProgressLine.update(f"drained {deleted}")


@click.command(
    epilog="""\b
Examples:
  sqs-workers drain emails
  sqs-workers drain emails --yes --wait 5

Prints the number of messages deleted; progress goes to stderr. Messages in
flight (received by a worker) are not touched."""
)
@click.argument("queue")
@yes_option
@click.option(
    "--wait",
    type=click.IntRange(0, 20),
    default=1,
    show_default=True,
    metavar="S",
    help="Long-poll wait; the drain ends at the first empty receive.",
)
@click.pass_obj
def drain(connection: Connection, queue: str, yes: bool, wait: int) -> None:
    """Receive and delete the messages of QUEUE in batches, counting them."""
    url = connection.queue_url(queue)
    if not yes:
        _confirm(connection, url, queue, "Drain")
    click.echo(f"deleted {drain_queue(connection, url, wait)} messages from {queue}")


COMMANDS = [purge, drain]
