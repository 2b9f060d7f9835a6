"""``queue create/delete`` and ``stats``: on both backends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import TIMEOUT, subprocess_env
from conftest_helpers import attributes_of, depth

from sqs_workers import SQSEnv, create_standard_queue

STATS_KEYS = {
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
}


def test_queue_create_with_a_dead_letter_queue(sqs: SQSEnv, cli) -> None:
    assert cli("queue", "create", "jobs-dlq").exit_code == 0
    run = cli(
        "queue",
        "create",
        "jobs",
        "--visibility",
        "45",
        "--dlq",
        "jobs-dlq",
        "--max-receives",
        "3",
    )
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip().endswith(sqs.get_sqs_queue_name("jobs"))
    attrs = attributes_of(sqs, "jobs")
    assert attrs["VisibilityTimeout"] == "45"
    policy = json.loads(attrs["RedrivePolicy"])
    assert policy["deadLetterTargetArn"].endswith(sqs.get_sqs_queue_name("jobs-dlq"))
    assert int(policy["maxReceiveCount"]) == 3


def test_queue_create_fifo(sqs: SQSEnv, cli) -> None:
    run = cli("queue", "create", "orders.fifo", "--content-based-dedup")
    assert run.exit_code == 0, run.stderr
    attrs = attributes_of(sqs, "orders.fifo")
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"


def test_queue_create_bad_input_exits_2_with_one_line(sqs: SQSEnv, cli) -> None:
    unknown_dlq = cli("queue", "create", "jobs", "--dlq", "missing")
    assert unknown_dlq.exit_code == 2
    assert "unknown queue 'missing'" in unknown_dlq.stderr
    assert len(unknown_dlq.stderr.strip().splitlines()) == 1
    assert cli("queue", "create", "jobs", "--fifo").exit_code == 2
    create_standard_queue(sqs, "plain-dlq")
    mixed = cli("queue", "create", "q.fifo", "--dlq", "plain-dlq")
    assert mixed.exit_code == 2
    assert "must be FIFO too" in mixed.stderr
    assert sqs.get_all_known_queues() == ["plain-dlq"]


def test_queue_delete_asks_unless_yes(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "doomed")
    declined = cli("queue", "delete", "doomed", input="n\n")
    assert declined.exit_code == 1
    assert sqs.get_all_known_queues() == ["doomed"]
    assert cli("queue", "delete", "doomed", "--yes").exit_code == 0
    assert sqs.get_all_known_queues() == []
    assert cli("queue", "delete", "doomed", "--yes").exit_code == 2


def test_stats_json_schema_and_counts(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "work-dlq")
    create_standard_queue(sqs, "work", redrive_policy=sqs.redrive_policy("work-dlq", 4))
    work = sqs.queue("work")
    for i in range(3):
        work.add_job("job", _delay_seconds=0, n=i)
    work.add_job("job", _delay_seconds=600, n=99)
    sqs.queue("work-dlq").add_job("dead", n=1)
    work.get_raw_messages(0, 1)  # one in flight

    run = cli("stats", "--json")
    assert run.exit_code == 0, run.stderr
    rows = {row["queue"]: row for row in json.loads(run.stdout)}
    assert set(rows) == {"work", "work-dlq"}
    assert all(set(row) == STATS_KEYS for row in rows.values())
    assert rows["work"] | {"url": None} == {
        "queue": "work",
        "sqs_name": sqs.get_sqs_queue_name("work"),
        "url": None,
        "fifo": False,
        "visible": 2,
        "in_flight": 1,
        "delayed": 1,
        "dlq": "work-dlq",
        "dlq_visible": 1,
        "max_receives": 4,
        "is_dlq": False,
    }
    assert rows["work-dlq"]["is_dlq"] is True
    assert rows["work-dlq"]["dlq"] is None


def test_stats_table_and_globs(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "alpha")
    create_standard_queue(sqs, "beta")
    sqs.queue("alpha").add_job("job", n=1)
    run = cli("stats", "al*")
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[:3] == ["QUEUE", "FIFO", "VISIBLE"]
    assert lines[1].split()[:3] == ["alpha", "no", "1"]
    assert len(lines) == 2
    missing = cli("stats", "gamma*")
    assert missing.exit_code == 2
    assert "no queue matches 'gamma*'" in missing.stderr
    assert depth(sqs, "alpha") == 1


def test_endpoint_and_prefix_from_the_environment(sqs: SQSEnv, backend: str) -> None:
    if backend == "memory":
        pytest.skip("the environment reaches a subprocess on a server")
    create_standard_queue(sqs, "envq")
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # wrong: the option's wins
        "SQS_WORKERS_ENDPOINT_URL": endpoint,
        "SQS_WORKERS_QUEUE_PREFIX": sqs.queue_prefix,
    }
    done = subprocess.run(
        [sys.executable, "-m", "sqs_workers", "stats", "--json"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert [row["queue"] for row in json.loads(done.stdout)] == ["envq"]


def test_stats_watch_refreshes_until_ctrl_c(sqs: SQSEnv, backend: str) -> None:
    if backend == "memory":
        pytest.skip("Ctrl-C goes to a process")
    create_standard_queue(sqs, "watched")
    process = subprocess.Popen(
        [sys.executable, "-m", "sqs_workers", "stats", "--watch", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(sqs.queue_prefix),
    )
    assert process.stdout is not None
    seen = [process.stdout.readline() for _ in range(6)]  # two refreshes
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert sum(line.startswith("watched") for line in seen) == 2
