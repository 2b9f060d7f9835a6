"""Large payloads through S3 (issue 11), on both backends.

Payloads on the moto server stay small: a threshold of 1 KiB forces the
offload. The one 5 MiB round trip runs in memory only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_testing import CallCounter

from sqs_workers import IMMEDIATE_RETURN, RawQueue, SQSEnv
from sqs_workers.exceptions import MessageTooLarge
from sqs_workers.payloads import (
    POINTER_CLASS,
    SIZE_ATTRIBUTE,
    LargePayloads,
    PayloadStoreError,
)
from sqs_workers.signing import SigningMiddleware

from .helpers import make_queue, process_until, queued_count, receive_n

THRESHOLD = 1024
BIG = "x" * 4 * THRESHOLD
KEY = b"k" * 32


@pytest.fixture
def s3(sqs_session: Any) -> Any:
    return sqs_session.client("s3")


@pytest.fixture
def bucket(s3: Any, random_string: str) -> str:
    name = f"payloads-{random_string}"
    s3.create_bucket(Bucket=name)
    return name


def make_env(sqs: SQSEnv, bucket: str, **options: Any) -> SQSEnv:
    """An env like ``sqs`` (same session, same queue prefix) with large payloads."""
    middleware = options.pop("middleware", ())
    threshold = options.pop("threshold", THRESHOLD)
    return SQSEnv(
        session=sqs.session,
        queue_prefix=sqs.queue_prefix,
        codec="json",
        large_payloads=LargePayloads(bucket=bucket, threshold=threshold, **options),
        middleware=middleware,
    )


@pytest.fixture
def env(sqs: SQSEnv, bucket: str) -> SQSEnv:
    return make_env(sqs, bucket)


def objects(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_big_job_round_trips_and_its_object_goes_after_success(
    env: SQSEnv, s3: Any, bucket: str
) -> None:
    queue = make_queue(env, "q")
    seen: list[str] = []
    queue.connect_processor("job", lambda text: seen.append(text))
    queue.add_job("job", text=BIG)
    assert len(objects(s3, bucket)) == 1
    process_until(queue, lambda: seen)
    assert seen == [BIG]
    assert queued_count(queue) == 0
    assert objects(s3, bucket) == []


def test_the_message_carries_the_extended_clients_pointer(
    env: SQSEnv, s3: Any, bucket: str
) -> None:
    queue = make_queue(env, "q")
    queue.add_job("job", text=BIG)
    [message] = receive_n(queue, 1)
    cls, location = json.loads(message.body)
    assert cls == POINTER_CLASS
    assert location["s3BucketName"] == bucket
    assert location["s3Key"] in objects(s3, bucket)
    size = message.message_attributes[SIZE_ATTRIBUTE]
    assert size["DataType"] == "Number"
    stored = s3.get_object(Bucket=bucket, Key=location["s3Key"])["Body"].read()
    assert int(size["StringValue"]) == len(stored)
    assert json.loads(stored) == {"text": BIG}
    # The job's own attributes travel unchanged beside the pointer.
    assert message.message_attributes["JobName"]["StringValue"] == "job"


def test_the_object_is_kept_after_a_failure_and_the_job_retried(
    env: SQSEnv, s3: Any, bucket: str
) -> None:
    queue = make_queue(env, "q")
    runs: list[str] = []

    def flaky(text: str) -> None:
        runs.append(text)
        if len(runs) == 1:
            raise RuntimeError("first run fails")

    queue.connect_processor("job", flaky)
    queue.backoff_policy = IMMEDIATE_RETURN  # retry at once
    queue.add_job("job", text=BIG)
    process_until(queue, lambda: runs)
    assert len(objects(s3, bucket)) == 1  # the failed run left it
    process_until(queue, lambda: len(runs) == 2)
    assert runs == [BIG, BIG]
    assert objects(s3, bucket) == []


def test_keep_leaves_objects_after_success(sqs: SQSEnv, s3: Any, bucket: str) -> None:
    env = make_env(sqs, bucket, keep=True)
    queue = make_queue(env, "q")
    seen: list[str] = []
    queue.connect_processor("job", lambda text: seen.append(text))
    queue.add_job("job", text=BIG)
    process_until(queue, lambda: seen)
    assert queued_count(queue) == 0
    assert len(objects(s3, bucket)) == 1


def test_small_jobs_are_not_offloaded(env: SQSEnv, s3: Any, bucket: str) -> None:
    queue = make_queue(env, "q")
    queue.add_job("job", text="small")
    [message] = receive_n(queue, 1)
    assert SIZE_ATTRIBUTE not in message.message_attributes
    assert objects(s3, bucket) == []


def test_a_batch_packs_small_jobs_and_offloads_only_big_ones(
    env: SQSEnv, s3: Any, bucket: str
) -> None:
    queue = make_queue(env, "q")
    counter = CallCounter(env.sqs_client)
    with queue.add_batch():
        for n in range(3):
            queue.add_job("job", text=f"small {n}")
        queue.add_job("job", text=BIG)
        queue.add_job("job", text=BIG + "y")
    assert counter.calls["SendMessageBatch"] == 1
    assert counter.entries["SendMessageBatch"] == 5
    assert counter.calls["SendMessage"] == 0
    assert len(objects(s3, bucket)) == 2
    seen: list[str] = []
    queue.connect_processor("job", lambda text: seen.append(text))
    process_until(queue, lambda: len(seen) == 5)
    assert sorted(seen) == sorted([f"small {n}" for n in range(3)] + [BIG, BIG + "y"])
    assert objects(s3, bucket) == []


def test_raw_queues_offload_too(env: SQSEnv, s3: Any, bucket: str) -> None:
    queue = make_queue(env, "raw", RawQueue)
    bodies: list[str] = []
    queue.connect_raw_processor(lambda message: bodies.append(message.body))
    queue.add_raw_job(BIG)
    assert len(objects(s3, bucket)) == 1
    process_until(queue, lambda: bodies)
    assert bodies == [BIG]
    assert objects(s3, bucket) == []


def test_an_async_handler_gets_the_payload(env: SQSEnv, s3: Any, bucket: str) -> None:
    queue = make_queue(env, "q")
    seen: list[str] = []

    async def handler(text: str) -> None:
        seen.append(text)

    queue.connect_processor("job", handler)
    queue.add_job("job", text=BIG)
    [message] = receive_n(queue, 1)
    assert asyncio.run(queue.process_message_async(message)) is True
    assert seen == [BIG]


def test_signatures_cover_the_payload_not_the_pointer(
    sqs: SQSEnv, s3: Any, bucket: str
) -> None:
    env = make_env(sqs, bucket, middleware=[SigningMiddleware(KEY)])
    queue = make_queue(env, "q")
    seen: list[str] = []
    queue.connect_processor("job", lambda text: seen.append(text))
    queue.add_job("job", text=BIG)
    queue.add_job("job", text=BIG + "2")
    # Someone with write access to the bucket swaps the second payload.
    keys = objects(s3, bucket)
    for key in keys:
        stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if json.loads(stored)["text"].endswith("2"):
            s3.put_object(Bucket=bucket, Key=key, Body=b'{"text": "evil"}')
    process_until(queue, lambda: seen)
    for _ in range(3):
        queue.process_batch()
    assert seen == [BIG]
    assert queued_count(queue) == 1  # the tampered one: refused, not deleted


# -- bad cases ----------------------------------------------------------------


def test_a_missing_bucket_fails_at_send_and_queues_nothing(sqs: SQSEnv) -> None:
    env = make_env(sqs, "no-such-bucket-sqs-workers-test")
    queue = make_queue(env, "q")
    with pytest.raises(PayloadStoreError, match="NoSuchBucket") as info:
        queue.add_job("job", text=BIG)
    assert "no-such-bucket-sqs-workers-test" in str(info.value)
    assert queued_count(queue) == 0


def test_a_missing_bucket_in_a_batch_fails_at_that_add(sqs: SQSEnv) -> None:
    env = make_env(sqs, "no-such-bucket-sqs-workers-test")
    queue = make_queue(env, "q")
    with pytest.raises(PayloadStoreError), queue.add_batch():
        queue.add_job("job", text=BIG)
    assert queued_count(queue) == 0


def test_a_pointer_to_a_missing_object_is_refused_and_kept(
    env: SQSEnv, s3: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_queue(env, "q")
    runs: list[str] = []
    queue.connect_processor("job", lambda text: runs.append(text))
    queue.add_job("job", text=BIG)
    [key] = objects(s3, bucket)
    s3.delete_object(Bucket=bucket, Key=key)
    with caplog.at_level(logging.ERROR):
        result = queue.process_batch()
    assert result.failed_count() == 1
    assert runs == []
    assert queued_count(queue) == 1  # retried, then the DLQ: never deleted
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert bucket in logged
    assert key in logged


def test_a_pointer_reaching_an_env_without_large_payloads_is_refused(
    env: SQSEnv, sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    make_queue(env, "q").add_job("job", text=BIG)
    plain = sqs.queue("q")
    runs: list[Any] = []
    plain.connect_processor("job", lambda **kw: runs.append(kw))
    with caplog.at_level(logging.ERROR):
        result = plain.process_batch()
    assert result.failed_count() == 1
    assert runs == []
    assert "large_payloads" in caplog.text


def test_without_the_option_an_oversize_job_is_still_refused(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    with pytest.raises(MessageTooLarge):
        queue.add_job("job", _content_type="json", text="x" * (1024 * 1024 + 1))
    assert queued_count(queue) == 0


def test_the_threshold_must_fit_sqs() -> None:
    with pytest.raises(ValueError, match="threshold"):
        LargePayloads(bucket="b", threshold=2 * 1024 * 1024)
    with pytest.raises(ValueError, match="bucket"):
        LargePayloads(bucket="")


# -- in memory only ------------------------------------------------------------


def test_access_denied_fails_at_send_in_memory(sqs: SQSEnv, backend: str) -> None:
    if backend != "memory":
        pytest.skip("moto does not enforce IAM: AccessDenied is tested in memory")
    s3 = sqs.session.client("s3")
    s3.create_bucket(Bucket="locked")
    s3.store.deny_access("locked")
    queue = make_queue(make_env(sqs, "locked"), "q")
    with pytest.raises(PayloadStoreError, match="AccessDenied"):
        queue.add_job("job", text=BIG)
    assert queued_count(queue) == 0


def test_a_five_mib_job_round_trips_in_memory(sqs: SQSEnv, backend: str) -> None:
    if backend != "memory":
        pytest.skip("5 MiB through moto is slow; the offload is the same at 4 KiB")
    s3 = sqs.session.client("s3")
    s3.create_bucket(Bucket="big")
    env = make_env(sqs, "big", threshold=1024 * 1024)
    queue = make_queue(env, "q")
    payload = "0123456789abcdef" * (5 * 1024 * 1024 // 16)
    seen: list[str] = []
    queue.connect_processor("job", lambda text: seen.append(text))
    queue.add_job("job", text=payload)
    queue.process_batch()
    assert seen == [payload]
    assert s3.store.objects("big") == {}


def test_memory_s3_errors_are_s3s(sqs: SQSEnv, backend: str) -> None:
    if backend != "memory":
        pytest.skip("the in-memory S3's own errors")
    s3 = sqs.session.client("s3")
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket="none", Key="k", Body=b"x")
    assert info.value.response["Error"]["Code"] == "NoSuchBucket"
    s3.create_bucket(Bucket="b")
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="b", Key="k")
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    s3.head_bucket(Bucket="b")
    s3.store.deny_access("b")
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="b", Key="k")
    assert info.value.response["Error"]["Code"] == "AccessDenied"
