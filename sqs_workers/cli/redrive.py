"""``redrive``: move a dead-letter queue's messages back after a fix.

Two ways: SQS's own move task (StartMessageMoveTask: fast, server-side,
progress from ListMessageMoveTasks, cancellable) where the server has it,
else receive/send/delete in batches from here. The manual way never loses a
message: a batch is sent first and deleted from the DLQ only once the
send succeeded; a batch whose send failed is made visible again at once. On
Ctrl-C (or SIGTERM) it finishes the batch in hand and stops, so a re-run
moves the rest with nothing lost and nothing twice; only a hard kill between
a send and its delete can leave a message in both queues (SQS is
at-least-once).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError

from sqs_workers.cli.common import (
    BadInput,
    Connection,
    Failure,
    ProgressLine,
    describe_client_error,
    progress,
)
from sqs_workers.sqs.limits import MAX_BATCH_ENTRIES

POLL_SECONDS = 1.0


@dataclass
class Plan:
    """What a redrive moves: from the DLQ to a target (None: each to its source)."""

    dlq: str
    dlq_url: str
    dlq_arn: str
    target: str | None
    target_url: str | None
    target_arn: str | None


def _source_urls(connection: Connection, dlq_url: str) -> list[str]:
    urls: list[str] = []
    kwargs: dict[str, Any] = {"QueueUrl": dlq_url}
    while True:
        response = connection.sqs.list_dead_letter_source_queues(**kwargs)
        urls.extend(response.get("queueUrls", ()))
        token = response.get("NextToken")
        if not token:
            return urls
        kwargs["NextToken"] = token


def _name_of(connection: Connection, url: str) -> str:
    sqs_name = url.rsplit("/", 1)[-1]
    prefix = connection.queue_prefix
    return sqs_name[len(prefix) :] if sqs_name.startswith(prefix) else sqs_name


def make_plan(connection: Connection, dlq: str, to: str | None) -> Plan:
    """Check that ``dlq`` is a dead-letter queue and find where its messages go."""
    dlq_url = connection.queue_url(dlq)
    dlq_arn = connection.attributes(dlq_url, "QueueArn")["QueueArn"]
    sources = _source_urls(connection, dlq_url)
    if not sources:
        raise BadInput(
            f"{dlq!r} is not a dead-letter queue: no queue's RedrivePolicy names it "
            "(see the DLQ column of `sqs-workers stats`)"
        )
    if to is not None:
        target_url = connection.queue_url(to)
    elif len(sources) == 1:
        target_url = sources[0]
    else:
        return Plan(dlq, dlq_url, dlq_arn, None, None, None)
    target_arn = connection.attributes(target_url, "QueueArn")["QueueArn"]
    target = to if to is not None else _name_of(connection, target_url)
    return Plan(dlq, dlq_url, dlq_arn, target, target_url, target_arn)


# -- SQS's move task ------------------------------------------------------------


def start_native(connection: Connection, plan: Plan, rate: float | None) -> str | None:
    """Start a move task; None when the server does not support them."""
    kwargs: dict[str, Any] = {"SourceArn": plan.dlq_arn}
    if plan.target_arn is not None:
        kwargs["DestinationArn"] = plan.target_arn
    if rate is not None:
        kwargs["MaxNumberOfMessagesPerSecond"] = max(1, min(500, int(rate)))
    try:
        response = connection.single_attempt.start_message_move_task(**kwargs)
    except (ClientError, BotoCoreError) as error:
        reason = (
            describe_client_error(error)
            if isinstance(error, ClientError)
            else str(error)
        )
        progress(f"SQS move task not available ({reason}); moving in batches")
        return None
    return str(response["TaskHandle"])


def _running_task(connection: Connection, dlq_arn: str) -> dict[str, Any] | None:
    response = connection.sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)
    for task in response.get("Results", ()):
        if task.get("Status") == "RUNNING":
            return dict(task)
    return None


def _latest_task(connection: Connection, dlq_arn: str) -> dict[str, Any]:
    response = connection.sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)
    results = response.get("Results") or [{}]
    return dict(results[0])


def follow_native(connection: Connection, plan: Plan) -> int:
    """Show the move task's progress until it ends; return how many moved."""
    try:
        while True:
            task = _latest_task(connection, plan.dlq_arn)
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            total = task.get("ApproximateNumberOfMessagesToMove")
            status = task.get("Status", "UNKNOWN")
            ProgressLine.update(
                f"moved {moved}" + (f"/{total}" if total is not None else "")
            )
            if status == "COMPLETED":
                ProgressLine.finish()
                return moved
            if status != "RUNNING":
                reason = task.get("FailureReason", "")
                raise Failure(f"move task {status.lower()} after {moved}: {reason}")
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        raise Failure(
            "stopped watching; the move task keeps running on SQS "
            f"(`sqs-workers redrive {plan.dlq} --cancel` stops it)"
        ) from None


def cancel_move_task(connection: Connection, dlq: str) -> None:
    dlq_url = connection.queue_url(dlq)
    dlq_arn = connection.attributes(dlq_url, "QueueArn")["QueueArn"]
    task = _running_task(connection, dlq_arn)
    if task is None:
        raise Failure(f"no move task is running for {dlq!r}")
    response = connection.sqs.cancel_message_move_task(TaskHandle=task["TaskHandle"])
    moved = response.get("ApproximateNumberOfMessagesMoved", 0)
    click.echo(f"cancelled the move task of {dlq} ({moved} messages moved)")


# -- receive, send, delete ------------------------------------------------------


class StopRequest:
    """Ctrl-C/SIGTERM: the first asks to stop after the batch, the second stops."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        progress("stopping after this batch (Ctrl-C again to stop at once)")

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {
            s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _send_entry(message: dict[str, Any], index: int, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    attributes = {
        name: {
            key: value
            for key, value in attribute.items()
            if key in ("DataType", "StringValue", "BinaryValue")
        }
        for name, attribute in (message.get("MessageAttributes") or {}).items()
    }
    if attributes:
        entry["MessageAttributes"] = attributes
    if fifo:
        system = message.get("Attributes") or {}
        entry["MessageGroupId"] = system.get("MessageGroupId", "default")
        # A fresh id: reusing the original one (or content-based dedup) would
        # let SQS silently drop a message redriven twice within 5 minutes.
        entry["MessageDeduplicationId"] = uuid.uuid4().hex
    return entry


def move_batch(
    connection: Connection, plan: Plan, wanted: int, visibility: int
) -> tuple[int, int] | None:
    """Move up to ``wanted`` messages; (moved, failed), or None when none came."""
    assert plan.target_url is not None
    sqs = connection.sqs
    messages = _receive(connection, plan, wanted, visibility, wait=0)
    if not messages and _depth(connection, plan.dlq_url):
        # A short poll samples a few servers: an empty answer with messages
        # left means ask again, long-polling (which asks all of them).
        messages = _receive(connection, plan, wanted, visibility, wait=1)
    if not messages:
        return None
    fifo = plan.target_url.endswith(".fifo")
    sent = sqs.send_message_batch(
        QueueUrl=plan.target_url,
        Entries=[_send_entry(m, i, fifo) for i, m in enumerate(messages)],
    )
    ok = {int(r["Id"]) for r in sent.get("Successful", ())}
    if ok:
        sqs.delete_message_batch(
            QueueUrl=plan.dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": messages[i]["ReceiptHandle"]}
                for i in sorted(ok)
            ],
        )
    failed = [i for i in range(len(messages)) if i not in ok]
    if failed:  # back in the DLQ at once, for a re-run
        sqs.change_message_visibility_batch(
            QueueUrl=plan.dlq_url,
            Entries=[
                {
                    "Id": str(i),
                    "ReceiptHandle": messages[i]["ReceiptHandle"],
                    "VisibilityTimeout": 0,
                }
                for i in failed
            ],
        )
        for error in sent.get("Failed", ())[:3]:
            progress(f"send refused: {error.get('Code')}: {error.get('Message')}")
    return len(ok), len(failed)


def _receive(
    connection: Connection, plan: Plan, wanted: int, visibility: int, wait: int
) -> list[dict[str, Any]]:
    response = connection.sqs.receive_message(
        QueueUrl=plan.dlq_url,
        MaxNumberOfMessages=min(MAX_BATCH_ENTRIES, wanted),
        WaitTimeSeconds=wait,
        VisibilityTimeout=visibility,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


def move_manually(
    connection: Connection,
    plan: Plan,
    limit: int | None,
    rate: float | None,
    visibility: int,
) -> int:
    """Receive/send/delete until the DLQ is empty, the limit, or a stop request."""
    if plan.target_url is None:
        raise BadInput(
            f"several queues use {plan.dlq!r} as dead-letter queue; moving in "
            "batches needs --to QUEUE"
        )
    # Like SQS's move task: the messages there at the start, so jobs failing
    # back into the DLQ during the redrive cannot keep it going forever.
    total = _depth(connection, plan.dlq_url)
    if limit is None or limit > total:
        limit = total
    moved = failed = 0
    started = time.monotonic()
    with StopRequest().installed() as stop:
        while not stop.event.is_set() and moved < limit:
            wanted = limit - moved
            if rate is not None:
                wanted = min(wanted, max(1, int(rate)))
            result = move_batch(connection, plan, wanted, visibility)
            if result is None:
                break
            moved += result[0]
            failed += result[1]
            ProgressLine.update(f"moved {moved}/{limit}")
            if result[1] and not result[0]:
                break  # the target refuses everything: do not spin
            if rate is not None:
                _pace(started, moved + failed, rate, stop.event)
        interrupted = stop.event.is_set()
    ProgressLine.finish()
    if failed:
        raise Failure(
            f"moved {moved}; {failed} refused by {plan.target!r} (still in the DLQ)"
        )
    if interrupted:
        raise Failure(
            f"interrupted: moved {moved} from {plan.dlq} to {plan.target}; "
            "run the same command again to move the rest"
        )
    return moved


def _depth(connection: Connection, url: str) -> int:
    attrs = connection.attributes(url, "ApproximateNumberOfMessages")
    return int(attrs.get("ApproximateNumberOfMessages", 0))


def _pace(started: float, done: int, rate: float, stop: threading.Event) -> None:
    """Sleep until ``done`` messages fit the rate (in slices: Ctrl-C is prompt)."""
    due = started + done / rate
    while not stop.is_set():
        left = due - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


@click.command(
    epilog="""\b
Examples:
  sqs-workers redrive emails-dlq                  back to the queue that uses it
  sqs-workers redrive emails-dlq --to emails-v2   somewhere else
  sqs-workers redrive emails-dlq --dry-run        only say what would move
  sqs-workers redrive emails-dlq --limit 100 --rate 20
  sqs-workers redrive emails-dlq --cancel         stop SQS's running move task

\b
--method auto (default) uses SQS's move task (StartMessageMoveTask) when the
server supports it and no --limit is given, else moves in batches from here:
sent to the target first, deleted from the DLQ after. Ctrl-C finishes the
batch in hand and stops; running the command again moves the rest. Like
SQS's move task, it moves the messages the DLQ holds when it starts: jobs
failing back into it meanwhile wait for the next run."""
)
@click.argument("dlq")
@click.option("--to", "to", metavar="QUEUE", help="Target (default: the DLQ's source).")
@click.option("--dry-run", is_flag=True, help="Say what would move; move nothing.")
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help="Move at most N messages."
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    metavar="R",
    help="At most R messages per second.",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "native", "batches"]),
    default="auto",
    show_default=True,
    help="SQS's move task, batches from here, or the first that works.",
)
@click.option(
    "--visibility",
    type=click.IntRange(5, 43200),
    default=60,
    show_default=True,
    metavar="S",
    help="Batches: how long a batch in hand stays hidden from others.",
)
@click.option("--cancel", is_flag=True, help="Cancel the DLQ's running move task.")
@click.pass_obj
def redrive(
    connection: Connection,
    dlq: str,
    to: str | None,
    dry_run: bool,
    limit: int | None,
    rate: float | None,
    method: str,
    visibility: int,
    cancel: bool,
) -> None:
    """Move the messages of dead-letter queue DLQ back to its queue (or --to)."""
    if cancel:
        cancel_move_task(connection, dlq)
        return
    plan = make_plan(connection, dlq, to)
    where = plan.target or "their source queues"
    if dry_run:
        count = _depth(connection, plan.dlq_url)
        if limit is not None:
            count = min(count, limit)
        click.echo(f"would move {count} messages from {dlq} to {where} (dry run)")
        return
    if method == "native" and limit is not None:
        raise BadInput("--limit needs --method batches (a move task cannot be capped)")
    if method == "native" or (method == "auto" and limit is None):
        if start_native(connection, plan, rate) is not None:
            moved = follow_native(connection, plan)
            click.echo(f"moved {moved} messages from {dlq} to {where}")
            return
        if method == "native":
            raise Failure("this SQS server does not support message move tasks")
    moved = move_manually(connection, plan, limit, rate, visibility)
    click.echo(f"moved {moved} messages from {dlq} to {where}")


COMMANDS = [redrive]
