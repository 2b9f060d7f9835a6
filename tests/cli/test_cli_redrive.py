"""``redrive``: back from the dead-letter queue, nothing lost, nothing twice."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter

import pytest
from conftest import TIMEOUT, subprocess_env
from conftest_helpers import depth, take_all

from sqs_workers import SQSEnv, create_fifo_queue, create_standard_queue


def with_dead_letters(sqs: SQSEnv, count: int) -> None:
    create_standard_queue(sqs, "work-dlq")
    create_standard_queue(sqs, "work", redrive_policy=sqs.redrive_policy("work-dlq", 3))
    dlq = sqs.queue("work-dlq")
    with dlq.add_batch():
        for i in range(count):
            dlq.add_job("job", _content_type="json", n=i)


def bodies(sqs: SQSEnv, name: str) -> Counter[str]:
    return Counter(m.body for m in take_all(sqs, name))


@pytest.mark.parametrize("method", ["auto", "batches"])
def test_redrive_moves_everything_back(
    sqs: SQSEnv, cli, method: str, backend: str
) -> None:
    with_dead_letters(sqs, 12)
    run = cli("redrive", "work-dlq", "--method", method)
    assert run.exit_code == 0, run.stderr
    # The in-memory SQS has move tasks; moto 5.2.5 answers them with HTTP 500.
    if method == "auto":
        assert ("move task not available" in run.stderr) == (backend == "moto")
    assert "moved 12 messages from work-dlq to work" in run.stdout
    moved = bodies(sqs, "work")
    assert moved == Counter(f'{{"n": {i}}}' for i in range(12))
    assert depth(sqs, "work-dlq") == 0


def test_redrive_keeps_the_job_attributes(sqs: SQSEnv, cli) -> None:
    with_dead_letters(sqs, 1)
    seen = []
    sqs.processor("work", "job")(lambda n: seen.append(n))
    assert cli("redrive", "work-dlq", "--method", "batches").exit_code == 0
    assert sqs.queue("work").process_batch().succeeded_count() == 1
    assert seen == [0]


def test_redrive_limit_dry_run_and_to(sqs: SQSEnv, cli) -> None:
    with_dead_letters(sqs, 5)
    create_standard_queue(sqs, "elsewhere")
    dry = cli("redrive", "work-dlq", "--dry-run")
    assert dry.exit_code == 0
    assert "would move 5 messages from work-dlq to work" in dry.stdout
    assert depth(sqs, "work-dlq") == 5
    run = cli("redrive", "work-dlq", "--to", "elsewhere", "--limit", "2")
    assert run.exit_code == 0, run.stderr
    assert sum(bodies(sqs, "elsewhere").values()) == 2
    assert depth(sqs, "work-dlq") == 3


def test_redrive_refuses_a_queue_that_is_not_a_dlq(sqs: SQSEnv, cli) -> None:
    with_dead_letters(sqs, 1)
    run = cli("redrive", "work")
    assert run.exit_code == 2
    assert "'work' is not a dead-letter queue" in run.stderr
    assert cli("redrive", "missing").exit_code == 2
    assert cli("redrive", "work-dlq", "--to", "missing").exit_code == 2
    assert depth(sqs, "work-dlq") == 1


def test_cancel_without_a_running_task_fails(sqs: SQSEnv, cli, backend: str) -> None:
    with_dead_letters(sqs, 1)
    run = cli("redrive", "work-dlq", "--cancel")
    assert run.exit_code == 1
    assert len(run.stderr.strip().splitlines()) == 1
    if backend == "memory":  # moto 5.2.5 answers move-task calls with HTTP 500
        assert "no move task is running" in run.stderr


def test_interrupted_redrive_rerun_loses_and_duplicates_nothing(
    sqs: SQSEnv, backend: str
) -> None:
    if backend == "memory":
        pytest.skip("a subprocess cannot share the in-memory SQS")
    with_dead_letters(sqs, 20)
    command = [sys.executable, "-m", "sqs_workers", "redrive", "work-dlq"]
    process = subprocess.Popen(
        [*command, "--method", "batches", "--rate", "4"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(sqs.queue_prefix),
    )
    assert process.stderr is not None
    first = process.stderr.readline()  # blocks until the first batch moved
    assert first.startswith("moved 4/"), first
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1, err
    assert "interrupted: moved" in err
    assert 0 < depth(sqs, "work-dlq") < 20

    rerun = subprocess.run(
        [*command, "--method", "batches"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=subprocess_env(sqs.queue_prefix),
    )
    assert rerun.returncode == 0, rerun.stderr
    assert bodies(sqs, "work") == Counter(f'{{"n": {i}}}' for i in range(20))
    assert depth(sqs, "work-dlq") == 0


def test_fifo_redrive_keeps_groups_and_same_body_messages(sqs: SQSEnv, cli) -> None:
    # Content-based deduplication on both: two distinct messages with the same
    # body must both come back (a reused or body-hash id would drop one).
    create_fifo_queue(sqs, "dead.fifo", content_based_deduplication=True)
    create_fifo_queue(
        sqs,
        "work.fifo",
        content_based_deduplication=True,
        redrive_policy=sqs.redrive_policy("dead.fifo", 3),
    )
    dlq = sqs.queue("dead.fifo")
    dlq.add_job("job", _content_type="json", _group_id="a", _deduplication_id="1", n=1)
    dlq.add_job("job", _content_type="json", _group_id="a", _deduplication_id="2", n=1)
    dlq.add_job("job", _content_type="json", _group_id="b", n=2)
    run = cli("redrive", "dead.fifo", "--method", "batches")
    assert run.exit_code == 0, run.stderr
    moved = take_all(sqs, "work.fifo")
    assert sorted((m.attributes["MessageGroupId"], m.body) for m in moved) == [
        ("a", '{"n": 1}'),
        ("a", '{"n": 1}'),
        ("b", '{"n": 2}'),
    ]
    assert depth(sqs, "dead.fifo") == 0


def test_native_move_task_progress_and_cancel(sqs: SQSEnv, cli, backend: str) -> None:
    if backend == "moto":
        pytest.skip("moto 5.2.5 answers move-task calls with HTTP 500")
    with_dead_letters(sqs, 12)
    run = cli("redrive", "work-dlq", "--rate", "20")  # a task paced by SQS
    assert run.exit_code == 0, run.stderr
    assert "moved 12 messages from work-dlq to work" in run.stdout
    assert run.stderr.splitlines()[-1] == "moved 12/12"
    assert depth(sqs, "work") == 12

    dlq = sqs.queue("work-dlq")
    with dlq.add_batch():
        for i in range(5):
            dlq.add_job("job", n=i)
    sqs.sqs_client.start_message_move_task(
        SourceArn=arn_of(sqs, "work-dlq"),
        DestinationArn=arn_of(sqs, "work"),
        MaxNumberOfMessagesPerSecond=1,
    )
    cancelled = cli("redrive", "work-dlq", "--cancel")
    assert cancelled.exit_code == 0, cancelled.stderr
    assert cancelled.stdout.startswith("cancelled the move task of work-dlq")
    assert depth(sqs, "work-dlq") > 0  # the rest stays for another day


def arn_of(sqs: SQSEnv, name: str) -> str:
    return str(
        sqs.sqs_client.get_queue_attributes(
            QueueUrl=sqs.queue(name).get_queue_url(), AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
    )
