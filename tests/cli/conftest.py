"""Running the ``sqs-workers`` command in tests, on both backends.

``cli(*args)`` runs the command against the test's queues (the ``sqs``
fixture's prefix): in memory it runs in this process (click's runner, the
in-memory client shared with the test); on the moto server it runs as a real
subprocess (``python -m sqs_workers``), the way people run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from sqs_workers import SQSEnv
from sqs_workers.cli.app import cli as cli_group
from sqs_workers.cli.common import Connection

TIMEOUT = 30


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def subprocess_env(prefix: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SQS_WORKERS_QUEUE_PREFIX": prefix}
    env.pop("SQS_WORKERS_ENDPOINT_URL", None)  # AWS_ENDPOINT_URL (moto) applies
    return {**env, **extra}


def run_subprocess(
    *args: str, prefix: str = "", input: str | None = None, cwd: Any = None
) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "sqs_workers", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=subprocess_env(prefix),
        cwd=cwd,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def run_in_process(client: Any, prefix: str, *args: str, input: str | None) -> Run:
    result = CliRunner().invoke(
        cli_group,
        ["--queue-prefix", prefix, *args],
        obj=Connection(client=client),
        input=input,
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


CLI = Callable[..., Run]


@pytest.fixture
def cli(sqs: SQSEnv, backend: str) -> CLI:
    def run(*args: str, input: str | None = None) -> Run:
        if backend == "memory":
            return run_in_process(sqs.sqs_client, sqs.queue_prefix, *args, input=input)
        return run_subprocess(*args, prefix=sqs.queue_prefix, input=input)

    return run
