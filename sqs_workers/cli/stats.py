"""``stats``: queue depths for people (a table) and autoscalers (``--json``)."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from sqs_workers.cli.common import Connection, match_names, print_json, print_table

# The --json schema: one object per queue with these keys (see the README).
JSON_KEYS = (
    "queue",
    "sqs_name",
    "url",
    "fifo",
    "visible",
    "in_flight",
    "delayed",
    "dlq",
    "dlq_visible",
    "max_receives",
    "is_dlq",
)


def queue_stats(connection: Connection, names: list[str]) -> list[dict[str, Any]]:
    """One dict per queue (JSON_KEYS): depths, FIFO-ness, its DLQ and its depth."""
    attributes: dict[str, dict[str, str]] = {}
    urls: dict[str, str] = {}
    for name in names:
        urls[name] = connection.queue_url(name)
        attributes[name] = connection.attributes(urls[name])
    by_arn = {attrs.get("QueueArn"): name for name, attrs in attributes.items()}
    dlq_arns = {
        _redrive(attrs).get("deadLetterTargetArn") for attrs in attributes.values()
    }
    rows = []
    for name in names:
        attrs = attributes[name]
        policy = _redrive(attrs)
        dlq_name, dlq_visible = _dead_letter_queue(
            connection, policy.get("deadLetterTargetArn"), by_arn, attributes
        )
        rows.append(
            {
                "queue": name,
                "sqs_name": connection.sqs_name(name),
                "url": urls[name],
                "fifo": attrs.get("FifoQueue", "false").lower() == "true",
                "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
                "dlq": dlq_name,
                "dlq_visible": dlq_visible,
                "max_receives": (
                    int(policy["maxReceiveCount"])
                    if "maxReceiveCount" in policy
                    else None
                ),
                "is_dlq": attrs.get("QueueArn") in dlq_arns,
            }
        )
    return rows


def _redrive(attributes: dict[str, str]) -> dict[str, Any]:
    text = attributes.get("RedrivePolicy")
    if not text:
        return {}
    try:
        policy = json.loads(text)
    except ValueError:
        return {}
    return policy if isinstance(policy, dict) else {}


def _dead_letter_queue(
    connection: Connection,
    arn: str | None,
    by_arn: dict[Any, str],
    attributes: dict[str, dict[str, str]],
) -> tuple[str | None, int | None]:
    """The DLQ's name (prefix removed when it has ours) and visible count."""
    if not arn:
        return None, None
    if arn in by_arn:
        name = by_arn[arn]
        return name, int(attributes[name].get("ApproximateNumberOfMessages", 0))
    sqs_name = arn.rsplit(":", 1)[-1]
    prefix = connection.queue_prefix
    name = sqs_name[len(prefix) :] if sqs_name.startswith(prefix) else sqs_name
    try:
        url = connection.sqs.get_queue_url(QueueName=sqs_name)["QueueUrl"]
        depth = connection.attributes(url, "ApproximateNumberOfMessages")
    except Exception:  # deleted, or in another account we cannot read
        return name, None
    return name, int(depth.get("ApproximateNumberOfMessages", 0))


def _print(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no queues")
        return
    print_table(
        ["QUEUE", "FIFO", "VISIBLE", "IN FLIGHT", "DELAYED", "DLQ", "DLQ VISIBLE"],
        [
            [
                r["queue"],
                "yes" if r["fifo"] else "no",
                r["visible"],
                r["in_flight"],
                r["delayed"],
                r["dlq"],
                r["dlq_visible"],
            ]
            for r in rows
        ],
    )


@click.command(
    epilog="""\b
Examples:
  sqs-workers stats                 every queue (with the prefix)
  sqs-workers stats 'emails*'       queues matching a shell glob
  sqs-workers stats --json          for an autoscaler or jq
  sqs-workers stats --watch 5       refresh every 5 seconds (Ctrl-C stops)

\b
--json prints a list of objects with the keys: queue, sqs_name, url, fifo,
visible, in_flight, delayed, dlq, dlq_visible, max_receives, is_dlq
(dlq, dlq_visible and max_receives are null for a queue without a DLQ).
SQS's counts are approximate (eventually consistent)."""
)
@click.argument("patterns", metavar="[GLOB]...", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list).")
@click.option(
    "--watch",
    type=click.FloatRange(min=0.5),
    metavar="N",
    help="Refresh every N seconds until Ctrl-C.",
)
@click.pass_obj
def stats(
    connection: Connection,
    patterns: tuple[str, ...],
    as_json: bool,
    watch: float | None,
) -> None:
    """Per queue: visible, in flight, delayed messages, FIFO, its DLQ and its depth."""
    try:
        while True:
            known = connection.queue_names()
            names = match_names(patterns, known) if patterns else known
            rows = queue_stats(connection, names)
            if watch is not None and not as_json:
                click.clear()
                click.echo(time.strftime("%Y-%m-%d %H:%M:%S"))
            _print(rows, as_json)
            if watch is None:
                return
            time.sleep(watch)
    except KeyboardInterrupt:  # how --watch ends: not a failure
        return


COMMANDS = [stats]
