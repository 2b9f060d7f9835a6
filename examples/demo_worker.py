"""Demo: enqueue jobs and run a worker until the queue is idle.

    python examples/demo_worker.py                  # in-memory SQS
    python examples/demo_worker.py --backend moto   # a moto server on loopback

It creates a queue ``emails``, sends ``--jobs`` jobs in batches of 10, then
runs the worker until it has been idle for a second, and prints what it did.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqs_workers import MemorySession, SQSEnv, create_standard_queue
from sqs_workers.shutdown_policies import IdleShutdown


def make_session(backend: str) -> tuple[Any, Any]:
    """The session to use and a callable that cleans up after the demo."""
    if backend == "memory":
        return MemorySession(), lambda: None
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import boto3
    from moto_server import start_moto_server

    server = start_moto_server()
    session = boto3.Session(
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
        region_name="us-east-1",
    )
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    return session, server.stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["memory", "moto"], default="memory")
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()

    session, cleanup = make_session(args.backend)
    try:
        run_demo(session, args.jobs, args.backend)
    finally:
        cleanup()


def run_demo(session: Any, jobs: int, backend: str) -> None:
    sqs = SQSEnv(session=session, queue_prefix="demo_")
    create_standard_queue(sqs, "emails")
    queue = sqs.queue("emails")
    sent: list[str] = []

    @queue.processor("send_email")
    def send_email(to: str, subject: str) -> None:
        sent.append(to)

    started = time.perf_counter()
    with send_email.batch():
        for i in range(jobs):
            send_email.delay(to=f"user{i}@example.com", subject="Hello")
    enqueued = time.perf_counter()
    queue.process_queue(shutdown_policy=IdleShutdown(1), wait_second=1)
    finished = time.perf_counter()

    print(f"backend: {backend}")
    print(f"enqueued {jobs} jobs in {enqueued - started:.2f}s")
    print(
        f"processed {len(sent)} jobs in {finished - enqueued:.2f}s (incl. 1s idle wait)"
    )
    if len(sent) != jobs:
        raise SystemExit(f"expected {jobs} processed jobs, got {len(sent)}")


if __name__ == "__main__":
    main()
