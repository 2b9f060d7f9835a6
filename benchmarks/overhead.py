"""Per-job engine overhead at concurrency 1, in memory: ours minus a plain loop.

Both consumers drain N no-op jobs (default 20,000) that ``add_batch()`` put
on the in-memory SQS with the env's default (pickle) codec:

* plain: one thread; receive 10 -> decode each body with our codec (picked
  by the message's ContentType) -> call the task -> ``delete_message_batch``;
* ours: ``Worker(queue, wait_seconds=0)`` at its defaults (concurrency 1,
  adaptive receivers, heartbeat, timed acker), timed from ``run()``'s start
  until the handler has run N times.

Per job: process CPU time (``time.process_time``, every thread) and wall
time, divided by N. The overhead is ours minus plain, each the median of 5
rounds that alternate plain and ours (so a noisy neighbour hits both alike).
The SQS emulation's own cost (receives, deletes, MD5s) is in both figures
and cancels out; what is left is what the engine adds per job: its threads
and their hand-offs, the dispatcher, middleware and time-limit checks, the
outcome, the acker's bookkeeping, the heartbeat's.

Run: python benchmarks/overhead.py [N]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import plain_delete, plain_receive, queue_noops  # this folder

from sqs_workers import MemorySession, SQSEnv, codecs, create_standard_queue
from sqs_workers.worker import Worker

ROUNDS = 5
# Seconds a drain may take before the run is called a failure.
DRAIN_TIMEOUT = 120


def make(count: int) -> tuple[Any, Any, threading.Event]:
    """A fresh queue holding ``count`` no-op jobs; the event is set by the
    ``count``-th run."""
    env = SQSEnv(session=MemorySession(), queue_prefix="b_")
    create_standard_queue(env, "q", visibility_timeout=60)
    queue = env.queue("q")
    noop, all_done = queue_noops(queue, count)
    return queue, noop, all_done


def plain(n: int) -> tuple[float, float]:
    """The plain loop: (CPU seconds, wall seconds) per job."""
    queue, noop, _ = make(n)
    client, url = queue.client, queue.get_queue_url()
    cpu, wall = time.process_time(), time.perf_counter()
    done = 0
    while done < n:
        messages = plain_receive(client, url)
        for message in messages:
            attributes = message["MessageAttributes"]
            codec = codecs.get_codec(attributes["ContentType"]["StringValue"])
            noop.run(**codec.deserialize(message["Body"]))
        plain_delete(client, url, messages)
        done += len(messages)
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


def ours(n: int) -> tuple[float, float]:
    """Our worker at its defaults: (CPU seconds, wall seconds) per job."""
    queue, _, all_done = make(n)
    worker = Worker(queue, wait_seconds=0)
    cpu, wall = time.process_time(), time.perf_counter()
    thread = threading.Thread(target=worker.run)
    thread.start()
    if not all_done.wait(DRAIN_TIMEOUT):
        raise RuntimeError(f"the worker did not drain {n} jobs in {DRAIN_TIMEOUT}s")
    result = (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n
    worker.stop(wait=30)
    thread.join()
    return result


def median_us(samples: list[tuple[float, float]], index: int) -> float:
    return statistics.median(sample[index] for sample in samples) * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    plain_runs: list[tuple[float, float]] = []
    our_runs: list[tuple[float, float]] = []
    for _ in range(ROUNDS):
        plain_runs.append(plain(n))
        our_runs.append(ours(n))
    p, o = median_us(plain_runs, 0), median_us(our_runs, 0)
    pw, ow = median_us(plain_runs, 1), median_us(our_runs, 1)
    print(
        f"plain cpu/job {p:.1f} us wall {pw:.1f} | ours cpu/job {o:.1f} us "
        f"wall {ow:.1f} | overhead cpu {o - p:.1f} us wall {ow - pw:.1f}"
    )


if __name__ == "__main__":
    main()
