"""What middleware costs per job, in memory (figures, not a test).

Three columns, interleaved rounds (each in a fresh interpreter), median of
each:
- none: no middleware installed;
- no-op: one middleware overriding every hook with nothing;
- baseline (optional): another checkout of the package without middleware
  (``--baseline DIR``, e.g. a ``git worktree`` of an older commit), run in a
  subprocess with the same script.

Each round enqueues N jobs in batches and drains them with the worker at
concurrency 1 (the default) until empty, and reports jobs/s.

    python benchmarks/middleware.py [--jobs 20000] [--rounds 5] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any


def one_round(jobs: int, with_noop: bool) -> float:
    from sqs_workers import MemorySession, SQSEnv, create_standard_queue
    from sqs_workers.worker import Worker

    env = SQSEnv(session=MemorySession(), queue_prefix="bench_")
    if with_noop:
        env.add_middleware(_noop_middleware())
    create_standard_queue(env, "q", visibility_timeout=60)
    queue = env.queue("q")
    done = [0]

    @queue.processor("noop")
    def noop(n: int) -> None:
        done[0] += 1

    with queue.add_batch():
        for n in range(jobs):
            noop.delay(n=n)
    worker = Worker(queue, wait_seconds=0)
    start = time.perf_counter()
    thread = threading.Thread(target=worker.run)
    thread.start()
    while done[0] < jobs:
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    worker.stop(wait=30)
    thread.join()
    return jobs / elapsed


def _noop_middleware() -> Any:
    from sqs_workers.middleware import Middleware

    class NoOp(Middleware):
        def before_send(self, message: Any) -> None:
            pass

        def after_receive(self, queue_name: str, message: Any) -> None:
            pass

        def before_decode(self, job: Any) -> None:
            pass

        def before_job(self, job: Any) -> None:
            pass

        def around_job(self, job: Any) -> Any:
            return contextlib.nullcontext()

        def after_job(self, job: Any, outcome: Any) -> None:
            pass

    return NoOp()


def child_round(directory: str, jobs: int, noop: bool = False) -> float:
    """One round in a fresh interpreter importing the package from ``directory``."""
    env = {**os.environ, "PYTHONPATH": directory}
    flags = ["--noop"] if noop else []
    out = subprocess.run(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            "--jobs",
            str(jobs),
            *flags,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=directory,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="a checkout without middleware")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--noop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_round(args.jobs, with_noop=args.noop)))
        return
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    figures: dict[str, list[float]] = {"none": [], "no-op": [], "baseline": []}
    for _ in range(args.rounds):
        if args.baseline:
            figures["baseline"].append(child_round(args.baseline, args.jobs))
        figures["none"].append(child_round(here, args.jobs))
        figures["no-op"].append(child_round(here, args.jobs, noop=True))
    base = statistics.median(figures["baseline"]) if args.baseline else None
    none = statistics.median(figures["none"])
    print(f"in-memory worker, concurrency 1, {args.jobs} no-op jobs, median of")
    print(f"{args.rounds} interleaved rounds (jobs/s):")
    if base:
        print(f"  baseline (no middleware API)   {base:9.0f}")
        print(f"  none installed                 {none:9.0f}   {none / base:.3f}x")
    else:
        print(f"  none installed                 {none:9.0f}")
    noop = statistics.median(figures["no-op"])
    ref = base or none
    print(f"  one no-op middleware           {noop:9.0f}   {noop / ref:.3f}x")


if __name__ == "__main__":
    main()
