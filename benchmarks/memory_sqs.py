"""Benchmark the in-memory SQS through its boto3-shaped client.

Prints:
* send + receive + delete throughput (messages/s), all calls batched by 10;
* receive latency on a queue holding 10 messages vs 1,000,000;
* RSS growth over 1,000,000 jobs sent, received and deleted (--rss).

Run: python benchmarks/memory_sqs.py [--messages N] [--deep N] [--rss]
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqs_workers.memory_sqs import MemoryAWS, MemorySession

BATCH = [{"Id": str(i), "MessageBody": f"job-{i}"} for i in range(10)]


def new_queue(name: str) -> tuple[Any, str]:
    client = MemorySession(MemoryAWS()).client("sqs")
    url = client.create_queue(QueueName=name)["QueueUrl"]
    return client, url


def fill(client: Any, url: str, count: int) -> None:
    for _ in range(count // 10):
        client.send_message_batch(QueueUrl=url, Entries=BATCH)


def cycle(client: Any, url: str, messages: int) -> None:
    """Send, receive and delete `messages` messages, 10 per call."""
    for _ in range(messages // 10):
        client.send_message_batch(QueueUrl=url, Entries=BATCH)
        received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(received["Messages"])
            ],
        )


def throughput(messages: int) -> float:
    client, url = new_queue("throughput")
    started = time.perf_counter()
    cycle(client, url, messages)
    return messages / (time.perf_counter() - started)


def receive_latency(depth: int, samples: int = 2000) -> tuple[float, float]:
    """Median and p99 of one receive (VisibilityTimeout=0 keeps depth steady)."""
    client, url = new_queue(f"depth{depth}")
    fill(client, url, depth)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)
        timings.append(time.perf_counter() - started)
    timings.sort()
    return statistics.median(timings) * 1e6, timings[int(samples * 0.99)] * 1e6


def rss_mib() -> float:
    """Current resident set size (Linux), in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def rss_growth(jobs: int) -> float:
    client, url = new_queue("rss")
    cycle(client, url, 10_000)  # warm up caches and allocator pools
    gc.collect()
    before = rss_mib()
    cycle(client, url, jobs)
    gc.collect()
    return rss_mib() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--deep", type=int, default=1_000_000)
    parser.add_argument(
        "--rss", action="store_true", help="also run the 1M-job RSS check"
    )
    args = parser.parse_args()

    rate = throughput(args.messages)
    print(f"send+receive+delete (batches of 10): {rate:,.0f} messages/s")
    for depth in (10, args.deep):
        median, p99 = receive_latency(depth)
        print(
            f"receive latency, queue of {depth:>9,}: "
            f"median {median:6.1f} µs, p99 {p99:6.1f} µs"
        )
    if args.rss:
        growth = rss_growth(1_000_000)
        print(f"RSS growth over 1,000,000 jobs: {growth:.1f} MiB")


if __name__ == "__main__":
    main()
