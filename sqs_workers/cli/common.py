"""What every command shares: the connection, queue lookups, errors, output.

Exit codes scripts can rely on: 0 ok, 1 failure (SQS refused or could not be
reached, an interrupted run), 2 usage (a bad option or argument, an unknown
queue, bad JSON). Every error is one line on stderr, no traceback.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from sqs_workers.exceptions import SQSError
from sqs_workers.queue import NOT_FOUND_CODES

OK = 0
FAILURE = 1
USAGE = 2

ENDPOINT_ENV = ("SQS_WORKERS_ENDPOINT_URL",)
REGION_ENV = ("SQS_WORKERS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
PREFIX_ENV = "SQS_WORKERS_QUEUE_PREFIX"


class Failure(click.ClickException):
    """Something went wrong that is not the caller's input: exit 1."""

    exit_code = FAILURE


class BadInput(click.ClickException):
    """The caller asked for something that cannot be (unknown queue...): exit 2."""

    exit_code = USAGE


@dataclass
class Connection:
    """Where SQS is and which queues are ours (from options or the environment).

    ``endpoint_url`` None lets boto3 decide (AWS, or ``AWS_ENDPOINT_URL``);
    ``client`` may be given ready-made (tests pass an in-memory one).
    """

    endpoint_url: str | None = None
    region: str | None = None
    queue_prefix: str = ""
    client: Any = None
    _env: Any = field(default=None, repr=False)

    @property
    def sqs(self) -> Any:
        if self.client is None:
            self.client = self._make_client()
        return self.client

    @property
    def single_attempt(self) -> Any:
        """A client that does not retry: for probing what the server supports."""
        if self.client is not None and not hasattr(self.client, "_endpoint"):
            return self.client  # in memory: nothing to retry
        return self._make_client(attempts=1)

    def _make_client(self, attempts: int = 3) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(region_name=self.region)
        try:
            return session.client(
                "sqs",
                endpoint_url=self.endpoint_url,
                config=Config(retries={"max_attempts": attempts, "mode": "standard"}),
            )
        except NoRegionError:
            raise BadInput(
                "no AWS region: pass --region or set AWS_DEFAULT_REGION"
            ) from None

    @property
    def env(self) -> Any:
        """An ``SQSEnv`` on this connection (for encoding jobs like the library)."""
        if self._env is None:
            from sqs_workers.sqs_env import SQSEnv

            self._env = SQSEnv(sqs_client=self.sqs, queue_prefix=self.queue_prefix)
        return self._env

    def sqs_name(self, name: str) -> str:
        return f"{self.queue_prefix}{name}"

    def queue_url(self, name: str) -> str:
        """The URL of queue ``name`` (prefix added); an unknown queue is bad input."""
        try:
            response = self.sqs.get_queue_url(QueueName=self.sqs_name(name))
        except ClientError as error:
            if error_code(error) in NOT_FOUND_CODES:
                raise unknown_queue(self, name) from None
            raise
        return str(response["QueueUrl"])

    def queue_names(self) -> list[str]:
        """Names (prefix removed) of every queue whose name starts with the prefix."""
        names: list[str] = []
        kwargs: dict[str, Any] = {"QueueNamePrefix": self.queue_prefix}
        while True:
            response = self.sqs.list_queues(**kwargs)
            for url in response.get("QueueUrls", ()):
                names.append(url.rsplit("/", 1)[-1][len(self.queue_prefix) :])
            token = response.get("NextToken")
            if not token:
                return sorted(names)
            kwargs = {**kwargs, "NextToken": token, "MaxResults": 1000}

    def attributes(self, url: str, *names: str) -> dict[str, str]:
        response = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=list(names) or ["All"]
        )
        return dict(response.get("Attributes", {}))

    def where(self) -> str:
        return self.endpoint_url or str(self.sqs.meta.endpoint_url)


def unknown_queue(connection: Connection, name: str) -> BadInput:
    return BadInput(
        f"unknown queue {name!r} (SQS name {connection.sqs_name(name)!r}) at "
        f"{connection.where()}; `sqs-workers stats` lists the queues"
    )


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def match_names(patterns: Iterable[str], names: Iterable[str]) -> list[str]:
    """Names matching the patterns (shell globs or exact names), in pattern order.

    A pattern that matches nothing is an error naming it: a typo must not
    silently leave a queue out.
    """
    names = list(names)
    chosen: list[str] = []
    for pattern in patterns:
        found = (
            fnmatch.filter(names, pattern)
            if is_glob(pattern)
            else [n for n in names if n == pattern]
        )
        if not found:
            raise BadInput(
                f"no queue matches {pattern!r}; known queues: "
                + (", ".join(names) or "none")
            )
        chosen.extend(n for n in found if n not in chosen)
    return chosen


def describe_client_error(error: ClientError) -> str:
    """One line: the operation, SQS's code and message (an HTML error page is
    reduced to its HTTP status)."""
    info = error.response.get("Error", {})
    operation = getattr(error, "operation_name", "the SQS call")
    message = str(info.get("Message") or "").strip()
    if message.startswith("<") or not message:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = f"the server answered HTTP {status}"
    return f"{operation} failed: {info.get('Code')}: {message.splitlines()[0]}"


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """A plain left-aligned table (numbers right-aligned), for people."""
    cells = [[str(h) for h in headers]] + [
        ["-" if v is None else str(v) for v in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(isinstance(row[i], int) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]
    for row in cells:
        click.echo(
            "  ".join(
                cell.rjust(w) if num and rows else cell.ljust(w)
                for cell, w, num in zip(row, widths, numeric, strict=True)
            ).rstrip()
        )


def progress(message: str) -> None:
    """Progress and counts go to stderr, so stdout stays the command's result."""
    ProgressLine.finish()
    click.echo(message, err=True)


class ProgressLine:
    """A count that updates in place on a terminal, one line each otherwise."""

    _open = False

    @classmethod
    def update(cls, message: str) -> None:
        if sys.stderr.isatty():
            click.echo("\r" + message, err=True, nl=False)
            cls._open = True
        else:
            click.echo(message, err=True)

    @classmethod
    def finish(cls) -> None:
        if cls._open:
            click.echo("", err=True)
            cls._open = False


def convert_errors(error: BaseException) -> click.ClickException | None:
    """The one-line error (and exit code) for an exception a command let out."""
    if isinstance(error, SQSError):  # refused before sending: the input's fault
        return BadInput(str(error))
    if isinstance(error, ClientError):
        if error_code(error) in NOT_FOUND_CODES:
            return BadInput(describe_client_error(error))
        return Failure(describe_client_error(error))
    if isinstance(error, BotoCoreError):
        return Failure(str(error))
    return None
