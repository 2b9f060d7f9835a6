"""The ``sqs-workers`` command group: global options and the commands."""

from __future__ import annotations

from typing import Any

import click

from sqs_workers.cli import cleanup, messages, queues, redrive, stats, worker
from sqs_workers.cli.common import (
    ENDPOINT_ENV,
    PREFIX_ENV,
    REGION_ENV,
    Connection,
    ProgressLine,
    convert_errors,
)

EPILOG = """\b
Examples:
  sqs-workers queue create emails --dlq emails-dlq --max-receives 5
  sqs-workers send emails send_email --kwargs '{"to": "a@example.com"}'
  sqs-workers worker myapp.jobs:sqs emails --concurrency 8
  sqs-workers stats --json
  sqs-workers redrive emails-dlq

\b
Environment: SQS_WORKERS_ENDPOINT_URL (or AWS_ENDPOINT_URL),
AWS_DEFAULT_REGION, SQS_WORKERS_QUEUE_PREFIX; AWS credentials as boto3
finds them. Exit codes: 0 ok, 1 failure, 2 usage.
"""


class Group(click.Group):
    """Turns SQS errors a command lets out into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as error:
            converted = convert_errors(error)
            if converted is None:
                raise
            raise converted from None
        finally:
            ProgressLine.finish()  # an error message starts on a line of its own


@click.group(cls=Group, epilog=EPILOG, context_settings={"max_content_width": 100})
@click.option(
    "--endpoint-url",
    envvar=list(ENDPOINT_ENV),
    help="SQS endpoint (LocalStack, moto...); default AWS or $AWS_ENDPOINT_URL.",
)
@click.option("--region", envvar=list(REGION_ENV), help="AWS region, e.g. eu-west-1.")
@click.option(
    "--queue-prefix",
    envvar=PREFIX_ENV,
    default="",
    show_default=False,
    help="Prefix of every queue name (like SQSEnv(queue_prefix=...)).",
)
@click.version_option(package_name="sqs-workers", prog_name="sqs-workers")
@click.pass_context
def cli(
    ctx: click.Context,
    endpoint_url: str | None,
    region: str | None,
    queue_prefix: str,
) -> None:
    """Run workers and operate the SQS queues of an sqs_workers app."""
    given = ctx.obj if isinstance(ctx.obj, Connection) else None
    ctx.obj = Connection(
        endpoint_url=endpoint_url,
        region=region,
        queue_prefix=queue_prefix,
        client=given.client if given else None,
    )


for module in (worker, stats, messages, cleanup, queues, redrive):
    for command in module.COMMANDS:
        cli.add_command(command)


def run(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="sqs-workers")
