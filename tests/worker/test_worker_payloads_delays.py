"""Large payloads and long delays through the worker engine (issue 11):
sync and ``async def`` handlers, the timed acker deleting S3 objects."""

from __future__ import annotations

import asyncio
import time

import pytest

from sqs_workers import SQSEnv, create_standard_queue
from sqs_workers.payloads import LargePayloads

from .helpers import queue_counts, running_worker, wait_until

BIG = "y" * 4096


@pytest.fixture
def env(sqs: SQSEnv, random_string: str) -> SQSEnv:
    bucket = f"worker-{random_string}"
    sqs.session.client("s3").create_bucket(Bucket=bucket)
    return SQSEnv(
        session=sqs.session,
        queue_prefix=sqs.queue_prefix,
        codec="json",
        large_payloads=LargePayloads(bucket=bucket, threshold=1024),
    )


def bucket_empty(env: SQSEnv) -> bool:
    assert env.large_payloads is not None and env.payload_store is not None
    listed = env.payload_store.client.list_objects_v2(Bucket=env.large_payloads.bucket)
    return not listed.get("Contents")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_worker_runs_big_jobs_and_deletes_their_objects(
    env: SQSEnv, kind: str
) -> None:
    create_standard_queue(env, "q")
    queue = env.queue("q")
    seen: list[str] = []
    if kind == "sync":
        queue.connect_processor("job", lambda text: seen.append(text))
    else:

        async def handler(text: str) -> None:
            await asyncio.sleep(0)
            seen.append(text)

        queue.connect_processor("job", handler)
    for n in range(3):
        queue.add_job("job", text=f"{BIG}{n}")
    with running_worker(queue, concurrency=2):
        wait_until(lambda: len(seen) == 3, what="three big jobs run")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="messages deleted")
        wait_until(lambda: bucket_empty(env), what="their objects deleted")
    assert sorted(seen) == [f"{BIG}{n}" for n in range(3)]


def test_the_worker_hops_a_long_delay_then_runs_it_once(
    sqs: SQSEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sqs_workers.delays.HOP_SECONDS", 1)
    create_standard_queue(sqs, "q")
    queue = sqs.queue("q")
    runs: list[float] = []
    queue.connect_processor("job", lambda: runs.append(time.time()))
    sent_at = time.time()
    queue.add_job("job", _delay_seconds=2)
    with running_worker(queue, concurrency=2):
        wait_until(lambda: runs, what="the delayed job run")
        wait_until(lambda: queue_counts(queue) == (0, 0), what="nothing left")
    assert len(runs) == 1
    assert runs[0] >= sent_at + 2
