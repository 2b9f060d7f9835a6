"""``queue create`` / ``queue delete``: set queues up (names get the prefix)."""

from __future__ import annotations

import click

from sqs_workers.cli.common import BadInput, Connection
from sqs_workers.sqs_manage import create_fifo_queue, create_standard_queue


@click.group(
    epilog="""\b
Examples:
  sqs-workers queue create emails-dlq
  sqs-workers queue create emails --visibility 120 --dlq emails-dlq --max-receives 5
  sqs-workers queue create orders.fifo --content-based-dedup
  sqs-workers queue delete emails --yes"""
)
def queue() -> None:
    """Create and delete queues."""


@queue.command(
    epilog="""\b
Examples:
  sqs-workers queue create emails
  sqs-workers queue create emails --dlq emails-dlq --max-receives 5
  sqs-workers queue create orders.fifo --content-based-dedup

A FIFO queue's name ends with '.fifo' (--fifo is then implied); its DLQ must
be a FIFO queue too. Prints the queue's URL."""
)
@click.argument("name")
@click.option("--fifo", is_flag=True, help="A FIFO queue (the name must end .fifo).")
@click.option(
    "--content-based-dedup",
    is_flag=True,
    help="FIFO: deduplicate by a hash of the body (no --dedup-id needed).",
)
@click.option(
    "--visibility",
    type=click.IntRange(0, 43200),
    metavar="S",
    help="Visibility timeout in seconds (SQS default 30).",
)
@click.option(
    "--retention",
    type=click.IntRange(60, 1209600),
    metavar="S",
    help="How long messages are kept, in seconds (SQS default 4 days).",
)
@click.option(
    "--dlq", metavar="NAME", help="Dead-letter queue (must exist) for failed messages."
)
@click.option(
    "--max-receives",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    metavar="N",
    help="With --dlq: receives before a message moves to the DLQ.",
)
@click.pass_obj
def create(
    connection: Connection,
    name: str,
    fifo: bool,
    content_based_dedup: bool,
    visibility: int | None,
    retention: int | None,
    dlq: str | None,
    max_receives: int,
) -> None:
    """Create queue NAME (with a dead-letter queue if --dlq is given)."""
    is_fifo = fifo or name.endswith(".fifo")
    if is_fifo and not name.endswith(".fifo"):
        raise BadInput(f"a FIFO queue's name must end with '.fifo', got {name!r}")
    if content_based_dedup and not is_fifo:
        raise BadInput("--content-based-dedup applies to FIFO queues only")
    policy = None
    if dlq is not None:
        connection.queue_url(dlq)  # an unknown DLQ fails here, naming it
        if dlq.endswith(".fifo") != is_fifo:
            raise BadInput(
                f"the dead-letter queue of a {'FIFO' if is_fifo else 'standard'} "
                f"queue must be {'FIFO' if is_fifo else 'standard'} too, "
                f"got {dlq!r}"
            )
        policy = connection.env.redrive_policy(dlq, max_receives)
    if is_fifo:
        url = create_fifo_queue(
            connection.env,
            name,
            content_based_deduplication=content_based_dedup,
            message_retention_period=retention,
            visibility_timeout=visibility,
            redrive_policy=policy,
        )
    else:
        url = create_standard_queue(
            connection.env,
            name,
            message_retention_period=retention,
            visibility_timeout=visibility,
            redrive_policy=policy,
        )
    click.echo(url)


@queue.command(
    epilog="""\b
Examples:
  sqs-workers queue delete emails
  sqs-workers queue delete emails --yes

Deletes the queue and every message in it."""
)
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def delete(connection: Connection, name: str, yes: bool) -> None:
    """Delete queue NAME and its messages."""
    url = connection.queue_url(name)
    if not yes:
        click.confirm(
            f"Delete queue {name!r} and all its messages?", abort=True, err=True
        )
    connection.sqs.delete_queue(QueueUrl=url)
    click.echo(f"deleted {name}")


COMMANDS = [queue]
