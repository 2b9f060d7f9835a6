"""Large payloads shared with AWS's SQS Extended Client, both ways (issue 11).

The peer is ``amazon-sqs-extended-client`` from PyPI (in the ``test``
extra), run in a subprocess (``extended_peer.py``: it patches boto3
process-wide on import) against the moto server, S3 included.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from sqs_workers import SQSEnv, create_standard_queue
from sqs_workers.payloads import SIZE_ATTRIBUTE, LargePayloads

PEER = Path(__file__).with_name("extended_peer.py")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sqs_extended_client") is None,
    reason="amazon-sqs-extended-client is not installed (pip install -e '.[test]')",
)


def run_peer(plan: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(PEER)],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert "error" not in result, result
    return result


@pytest.fixture
def env(moto_endpoint: str) -> SQSEnv:
    session = boto3.Session()
    bucket = f"extended-{uuid.uuid4().hex[:10]}"
    session.client("s3").create_bucket(Bucket=bucket)
    return SQSEnv(
        session=session,
        queue_prefix=f"x_{uuid.uuid4().hex[:8]}_",
        codec="json",
        large_payloads=LargePayloads(bucket=bucket, threshold=1024),
    )


def bucket_keys(env: SQSEnv) -> list[str]:
    assert env.large_payloads is not None
    listed = env.payload_store.client.list_objects_v2(  # type: ignore[union-attr]
        Bucket=env.large_payloads.bucket
    )
    return [o["Key"] for o in listed.get("Contents", [])]


def test_their_producer_our_worker(env: SQSEnv) -> None:
    url = create_standard_queue(env, "q")
    queue = env.queue("q")
    seen: list[str] = []
    queue.connect_processor("job", lambda text: seen.append(text))
    assert env.large_payloads is not None
    run_peer(
        {
            "action": "send",
            "queue_url": url,
            "bucket": env.large_payloads.bucket,
            "body": json.dumps({"text": "from the extended client " * 100}),
            "attributes": {
                "JobName": "job",
                "ContentType": "json",
                "JobContext": "{}",
            },
        }
    )
    assert len(bucket_keys(env)) == 1
    for _ in range(10):
        queue.process_batch(wait_seconds=1)
        if seen:
            break
    assert seen == ["from the extended client " * 100]
    assert bucket_keys(env) == []  # ours to delete once the job succeeded


def test_our_producer_their_consumer(env: SQSEnv) -> None:
    url = create_standard_queue(env, "q")
    queue = env.queue("q")
    text = "from sqs_workers " * 200
    queue.add_job("job", text=text)
    assert len(bucket_keys(env)) == 1
    assert env.large_payloads is not None
    received = run_peer(
        {
            "action": "receive",
            "queue_url": url,
            "bucket": env.large_payloads.bucket,
            "delete": True,
        }
    )
    assert json.loads(received["body"]) == {"text": text}
    assert received["attributes"]["JobName"] == "job"
    assert SIZE_ATTRIBUTE not in received["attributes"]
    assert bucket_keys(env) == []  # their delete removed the object
