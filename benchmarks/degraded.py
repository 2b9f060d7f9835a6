"""Jobs through one worker while SQS is degraded: figures, not a timed test.

    python benchmarks/degraded.py                  # issue 14's case
    python benchmarks/degraded.py --jobs 300 --job-ms 50 --rate 0.5

A share of the worker's SQS calls fail (``--rate``, 30% by default): some
refused before anything happened (throttling, 500), some done by SQS with the
answer lost on the way back (a read timeout). In memory, one worker at
``--concurrency`` on a queue with a ``--visibility`` second timeout; it runs
until every job ran and the queue is empty. Prints jobs sent, runs, jobs run
twice (target: at most 1% of jobs), jobs never run (target: none) and
whether the worker raised (target: never).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from sqs_faults import run_degraded  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--visibility", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--job-ms", type=float, default=5.0, help="mean job time")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--seeds", type=int, default=3, help="runs, one per seed")
    args = parser.parse_args()
    # The worker logs every injected failure; the figures are what matters.
    logging.basicConfig(level=logging.CRITICAL)
    print(
        f"degraded SQS: {args.jobs} jobs of ~{args.job_ms:g} ms, concurrency "
        f"{args.concurrency}, visibility {args.visibility}s, {args.rate:.0%} of "
        "calls failing (in memory)",
        flush=True,
    )
    worst = 0.0
    for seed in range(args.seeds):
        figures = run_degraded(
            jobs=args.jobs,
            concurrency=args.concurrency,
            visibility=args.visibility,
            rate=args.rate,
            job_seconds=args.job_ms / 1000,
            timeout=args.timeout,
            seed=seed,
        )
        print(f"  seed {seed}: {figures.summary()}", flush=True)
        share = figures.duplicated / figures.jobs
        worst = max(worst, share)
        if figures.lost or figures.worker_error is not None:
            worst = float("inf")
    print(
        f"  worst duplicates {worst:.2%} (target <= 1%, nothing lost, no crash)"
        if worst != float("inf")
        else "  FAILED: jobs lost or the worker raised"
    )


if __name__ == "__main__":
    main()
