"""Prometheus metrics, as middleware (the ``metrics`` extra: prometheus_client).

::

    from sqs_workers.metrics import PrometheusMetrics

    metrics = PrometheusMetrics()
    metrics.install(sqs)                  # middleware + SQS call counting
    prometheus_client.start_http_server(9100)

or ``sqs-workers worker app:sqs --metrics-port 9100``. What it counts:

- ``sqs_workers_jobs_total{queue, job, outcome}``: jobs ended, by outcome
  (succeeded, failed, retried, dropped, refused);
- ``sqs_workers_job_duration_seconds{queue, job}``: how long handlers ran;
- ``sqs_workers_job_time_limits_total{queue, job, limit}``: jobs that ended
  past their time limit (``limit``: ``soft``, the handler let
  ``JobTimeLimitExceeded`` out; ``hard``, the worker gave up on it);
- ``sqs_workers_job_wait_seconds{queue}``: from the message's send
  (SentTimestamp) to its job's start: queueing, retries and delays;
- ``sqs_workers_jobs_running{queue}`` and ``sqs_workers_jobs_prefetched{queue}``:
  jobs running now, and messages received but not yet started;
- ``sqs_workers_sqs_requests_total{queue, action}``: SQS API calls made
  through the clients it watches (what SQS bills).

Labels: ``queue`` is the queue's name as the worker knows it (API calls: the
SQS name, from the URL); ``job`` the job name ("" for raw queues).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from sqs_workers.middleware import (
    DROP,
    ERROR,
    REFUSED,
    RETRY,
    SUCCESS,
    JobOutcome,
    JobRun,
    Middleware,
)
from sqs_workers.time_limits import JobHardTimeLimitExceeded, JobTimeLimitExceeded

OUTCOMES = {
    SUCCESS: "succeeded",
    ERROR: "failed",
    RETRY: "retried",
    DROP: "dropped",
    REFUSED: "refused",
}
WAIT_BUCKETS = (0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)

_RUNNING = "metrics.running"
_STARTED = "metrics.started"


class PrometheusMetrics(Middleware):
    def __init__(
        self,
        registry: CollectorRegistry = REGISTRY,
        namespace: str = "sqs_workers",
    ) -> None:
        def name(suffix: str) -> str:
            return f"{namespace}_{suffix}"

        self.jobs = Counter(
            name("jobs"),
            "Jobs ended, by queue, job and outcome",
            ["queue", "job", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            name("job_duration_seconds"),
            "Time the handler took",
            ["queue", "job"],
            registry=registry,
        )
        self.time_limits = Counter(
            name("job_time_limits"),
            "Jobs that ended past their time limit, by queue, job and limit",
            ["queue", "job", "limit"],
            registry=registry,
        )
        self.wait = Histogram(
            name("job_wait_seconds"),
            "Time from the message's send (SentTimestamp) to its job's start",
            ["queue"],
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.running = Gauge(
            name("jobs_running"),
            "Jobs running now",
            ["queue"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.prefetched = Gauge(
            name("jobs_prefetched"),
            "Messages received and not yet started",
            ["queue"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.requests = Counter(
            name("sqs_requests"),
            "SQS API calls, by queue (SQS name) and action",
            ["queue", "action"],
            registry=registry,
        )

    # -- wiring ---------------------------------------------------------------------

    def install(self, env: Any) -> None:
        """Add this middleware to ``env`` and count the API calls of its client."""
        env.add_middleware(self)
        self.watch_client(env.sqs_client)

    def watch_client(self, client: Any) -> None:
        """Count the SQS calls made through ``client`` (botocore's or in memory)."""
        events = client.meta.events
        # botocore passes API parameters to before-parameter-build (it emits
        # the serialized request on before-call); the in-memory client emits
        # only before-call, with the API parameters.
        events.register("before-parameter-build.sqs.*", self._count_call)
        events.register("before-call.sqs.*", self._count_memory_call)

    def _count_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        url = params.get("QueueUrl") or ""
        self.requests.labels(url.rsplit("/", 1)[-1], model.name).inc()

    def _count_memory_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if "url_path" not in params:  # not botocore's serialized request
            self._count_call(params, model)

    # -- hooks ----------------------------------------------------------------------

    def after_receive(self, queue_name: str, message: Any) -> None:
        self.prefetched.labels(queue_name).inc()

    def before_job(self, job: JobRun) -> None:
        self._started(job)
        job.state[_RUNNING] = True
        self.running.labels(job.queue_name).inc()
        sent = job.message.attributes.get("SentTimestamp")
        if sent:
            waited = max(0.0, time.time() - int(sent) / 1000)
            self.wait.labels(job.queue_name).observe(waited)

    def after_job(self, job: JobRun, outcome: JobOutcome) -> None:
        self._started(job)  # refused jobs never reach before_job
        if job.state.pop(_RUNNING, False):
            self.running.labels(job.queue_name).dec()
        labels = (job.queue_name, job.job_name or "")
        self.jobs.labels(*labels, OUTCOMES.get(outcome.kind, outcome.kind)).inc()
        if outcome.kind != REFUSED:
            self.duration.labels(*labels).observe(outcome.duration)
        error = outcome.exception
        if error is not None and isinstance(error, JobTimeLimitExceeded):
            hard = isinstance(error, JobHardTimeLimitExceeded)
            self.time_limits.labels(*labels, "hard" if hard else "soft").inc()

    def _started(self, job: JobRun) -> None:
        """The job's messages leave the prefetched count (once)."""
        if not job.state.get(_STARTED):
            job.state[_STARTED] = True
            self.prefetched.labels(job.queue_name).dec(len(job.messages))
