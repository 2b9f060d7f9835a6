"""The command itself: entry point, optional click, help, exit codes, JSON logs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import TIMEOUT

from sqs_workers import SQSEnv, create_standard_queue
from sqs_workers.cli.app import cli as cli_group
from sqs_workers.logging_json import JobLog, JSONFormatter


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT
    )


def test_importing_the_package_does_not_import_the_cli() -> None:
    done = python(
        "import sys, sqs_workers, sqs_workers.worker\n"
        "print(sorted(m for m in sys.modules "
        "if m == 'click' or m.startswith('sqs_workers.cli')))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_click_the_command_says_what_to_install() -> None:
    done = python(
        "import sys; sys.modules['click'] = None\n"
        "from sqs_workers.cli import main; main(['stats'])"
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "sqs-workers: the command needs the 'cli' extra: pip install 'sqs-workers[cli]'"
    )


def all_commands() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    for name, command in cli_group.commands.items():
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


@pytest.mark.parametrize("path", all_commands(), ids=" ".join)
def test_every_command_has_help_with_examples(path: list[str]) -> None:
    result = CliRunner().invoke(cli_group, [*path, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "sqs-workers " in result.output


def test_the_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sqs_workers", "--version"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("sqs-workers, version ")


def test_unreachable_endpoint_is_a_failure_in_one_line() -> None:
    result = CliRunner().invoke(
        cli_group,
        ["--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1", "stats"],
        env={
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_MAX_ATTEMPTS": "1",
        },
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Could not connect to the endpoint URL")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_command_is_usage() -> None:
    assert CliRunner().invoke(cli_group, ["frobnicate"]).exit_code == 2


def record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("sqs_workers.test")
    return logger.makeRecord(
        logger.name,
        logging.WARNING,
        __file__,
        1,
        "job %s failed",
        ("x",),
        None,
        extra=extra,
    )


def test_json_log_lines_carry_the_job_fields() -> None:
    line = JSONFormatter().format(
        record(
            queue_name="emails",
            job_name="send",
            message_id="m1",
            receive_count=2,
            duration=0.25,
            outcome="error",
        )
    )
    entry = json.loads(line)
    assert entry.pop("time").endswith("Z")
    assert entry == {
        "level": "WARNING",
        "logger": "sqs_workers.test",
        "message": "job x failed",
        "queue_name": "emails",
        "job_name": "send",
        "message_id": "m1",
        "receive_count": 2,
        "duration": 0.25,
        "outcome": "error",
    }
    assert "\n" not in line


def test_json_log_lines_carry_the_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = record(odd=object())
        rec.exc_info = sys.exc_info()
    entry = json.loads(JSONFormatter().format(rec))
    assert entry["exception"] == "ValueError: boom"
    assert "Traceback" in entry["traceback"]
    assert entry["odd"].startswith("<object object")


def test_job_log_records_each_outcome(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    create_standard_queue(sqs, "work")
    sqs.add_middleware(JobLog())
    queue = sqs.queue("work")

    @queue.processor("job")
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("boom")

    queue.add_job("job", fail=False)
    queue.add_job("job", fail=True)
    caplog.set_level(logging.INFO, logger="sqs_workers.jobs")
    done = 0
    while done < 2:
        done += queue.process_batch().total_count()
    records = {r.outcome: r for r in caplog.records if r.name == "sqs_workers.jobs"}
    assert set(records) == {"success", "error"}
    assert records["error"].exception == "ValueError: boom"
    assert records["success"].job_name == "job"
    assert records["success"].receive_count == 1
