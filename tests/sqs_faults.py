"""A degraded SQS, made with botocore's own event hooks on one client.

``FaultInjector`` fails a share of the calls a client makes, the ways a bad
day at SQS does: refused before anything happened (throttling, a 500), or
done by SQS with the answer lost on the way back (a read timeout after the
call succeeded: the caller cannot tell it happened). It uses the client's
``before-call``/``after-call`` events, which boto3 and the in-memory client
both emit, so it works on either backend without mocking anything.

``run_degraded`` is the issue-14 scenario (jobs through one worker while a
share of its calls fail), shared by ``benchmarks/degraded.py`` and the test.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError
from sqs_testing import queue_total

from sqs_workers import MemorySession, SQSEnv, create_standard_queue
from sqs_workers.worker import Worker


def client_error(code: str, status: int, operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


class FaultInjector:
    """Fail ``rate`` of the calls ``client`` makes (while ``enabled``).

    Of the failures, ``lost_share`` happen after the call went through (the
    answer is lost); the rest are refused before (throttling or 500).
    ``actions`` limits it to those operation names (None: every call).
    ``latency``: seconds every call is held first, as a round trip to a real
    endpoint would (failures and retries then cost time, as they do there).
    ``failure_seconds``: how long a failing call takes before it raises, as
    botocore's own retries of a 5xx or throttling answer, or a read timeout,
    take a while in real life.
    """

    def __init__(
        self,
        client: Any,
        rate: float,
        lost_share: float = 0.3,
        actions: set[str] | None = None,
        seed: int = 14,
        latency: float = 0.0,
        failure_seconds: float = 0.0,
    ) -> None:
        self.rate = rate
        self.latency = latency
        self.failure_seconds = failure_seconds
        self.lost_share = lost_share
        self.actions = actions
        self.enabled = True
        self.injected: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        client.meta.events.register("before-call.sqs.*", self._before)
        client.meta.events.register("after-call.sqs.*", self._after)

    def _draw(self, name: str) -> float | None:
        if not self.enabled or (self.actions is not None and name not in self.actions):
            return None
        with self._lock:
            return self._random.random()

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.latency and self.enabled:
            time.sleep(self.latency)
        draw = self._draw(model.name)
        if draw is None or draw >= self.rate:
            return
        if draw < self.rate * self.lost_share:
            context["sqs_faults_lose_answer"] = True  # fail it after the call
            return
        with self._lock:
            self.injected[f"{model.name} refused"] += 1
        if self.failure_seconds:
            time.sleep(self.failure_seconds)
        if draw < self.rate * (1 + self.lost_share) / 2:
            raise client_error("ThrottlingException", 400, model.name)
        raise client_error("InternalError", 500, model.name)

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if context.pop("sqs_faults_lose_answer", False):
            with self._lock:
                self.injected[f"{model.name} answer lost"] += 1
            if self.failure_seconds:
                time.sleep(self.failure_seconds)
            raise ReadTimeoutError(endpoint_url="injected: answer lost")


@dataclass
class DegradedFigures:
    jobs: int
    runs: int
    duplicated: int  # jobs that ran more than once
    lost: int  # jobs that never ran
    injected: int  # SQS calls failed on purpose
    seconds: float
    worker_error: BaseException | None

    def summary(self) -> str:
        share = 100.0 * self.duplicated / self.jobs if self.jobs else 0.0
        return (
            f"sent {self.jobs}, runs {self.runs}, duplicated {self.duplicated} "
            f"({share:.2f}%), lost {self.lost}, injected failures "
            f"{self.injected}, {self.seconds:.1f}s, worker error "
            f"{self.worker_error!r}"
        )


def run_degraded(
    jobs: int = 3000,
    concurrency: int = 8,
    visibility: int = 5,
    rate: float = 0.3,
    job_seconds: float = 0.005,
    timeout: float = 120.0,
    seed: int = 14,
    faults_at_start: bool = True,
    latency: float = 0.0,
    failure_seconds: float = 0.0,
) -> DegradedFigures:
    """Send ``jobs`` jobs, run them with one worker whose SQS calls fail at
    ``rate``, wait until every job ran and the queue is empty (or
    ``timeout``), and count what ran twice and what never ran.
    ``faults_at_start=False`` spares the start-up calls (to compare with an
    engine that cannot start under faults). ``latency``: seconds each of the
    worker's calls takes (a round trip); ``failure_seconds``: how long a
    failing one takes."""
    session = MemorySession()
    producer = SQSEnv(session=session, queue_prefix="degraded_")
    create_standard_queue(producer, "jobs", visibility_timeout=visibility)
    queue = producer.queue("jobs")
    runs: Counter[int] = Counter()
    lock = threading.Lock()
    pause = random.Random(seed)

    def job(n: int) -> None:
        with lock:
            runs[n] += 1
            seconds = pause.uniform(0, 2 * job_seconds)
        time.sleep(seconds)

    task = queue.processor("job")(job)
    with queue.add_batch():
        for n in range(jobs):
            task.delay(n=n)

    # The worker's own env (and client): the only one that sees the faults.
    worker_env = SQSEnv(session=session, queue_prefix="degraded_")
    worker_queue = worker_env.queue("jobs")
    worker_queue.processor("job")(job)
    faults = FaultInjector(
        worker_env.sqs_client,
        rate,
        seed=seed,
        latency=latency,
        failure_seconds=failure_seconds,
    )
    faults.enabled = faults_at_start
    worker = Worker(worker_queue, concurrency=concurrency, wait_seconds=1)
    error: list[BaseException] = []

    def serve() -> None:
        try:
            worker.run()
        except BaseException as exc:  # reported in the figures
            error.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    began = time.monotonic()
    thread.start()
    if not faults_at_start:
        worker.started.wait(timeout)
        faults.enabled = True
    deadline = began + timeout
    while time.monotonic() < deadline and not error:
        with lock:
            done = len(runs) == jobs
        if done and _queue_empty(producer, queue):
            break
        time.sleep(0.05)
    seconds = time.monotonic() - began
    faults.enabled = False
    worker.stop(wait=30)
    thread.join(30)
    with lock:
        total = sum(runs.values())
        duplicated = sum(1 for count in runs.values() if count > 1)
        lost = jobs - len(runs)
    return DegradedFigures(
        jobs,
        total,
        duplicated,
        lost,
        sum(faults.injected.values()),
        seconds,
        error[0] if error else None,
    )


def _queue_empty(env: SQSEnv, queue: Any) -> bool:
    return queue_total(queue) == 0


class FailEntries:
    """The first ``times`` calls of ``action``: one entry is not done and
    comes back in the response's ``Failed`` list with ``code``, as SQS
    reports a partial batch failure.

    Acts on the API's own parameters: ``before-call`` on the in-memory client,
    ``before-parameter-build`` on boto3 (whose ``before-call`` carries the
    serialized request instead).
    """

    def __init__(
        self, client: Any, action: str, code: str = "InternalError", times: int = 1
    ) -> None:
        self.code = code
        self.left = times
        self.failed_ids: list[str] = []
        events = client.meta.events
        events.register(f"before-parameter-build.sqs.{action}", self._strip)
        events.register(f"before-call.sqs.{action}", self._strip)
        events.register(f"after-call.sqs.{action}", self._report)

    def _strip(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        entries = params.get("Entries")
        if not entries or self.left <= 0 or "sqs_faults_failed" in context:
            return
        self.left -= 1
        entry = entries.pop(0)
        context["sqs_faults_failed"] = entry["Id"]

    def _report(
        self, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        entry_id = context.pop("sqs_faults_failed", None)
        if entry_id is None:
            return
        self.failed_ids.append(entry_id)
        parsed.setdefault("Failed", []).append(
            {
                "Id": entry_id,
                "SenderFault": False,
                "Code": self.code,
                "Message": f"injected {self.code}",
            }
        )


class Concurrent:
    """The most calls of ``action`` in flight at once through ``client``.

    Each call waits (up to ``hold`` seconds) for another to overlap it, so
    calls that can overlap do, and calls made one at a time are not slowed
    by much more than ``hold``.
    """

    def __init__(self, client: Any, action: str, hold: float = 0.5) -> None:
        self.active = 0
        self.most = 0
        self.hold = hold
        self._overlap = threading.Condition()
        events = client.meta.events
        events.register(f"before-call.sqs.{action}", self._enter)
        events.register(f"after-call.sqs.{action}", self._leave)

    def _enter(self, **_: Any) -> None:
        with self._overlap:
            self.active += 1
            self.most = max(self.most, self.active)
            self._overlap.notify_all()
            self._overlap.wait_for(lambda: self.most >= 2, self.hold)

    def _leave(self, **_: Any) -> None:
        with self._overlap:
            self.active -= 1
