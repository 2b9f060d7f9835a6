"""Prometheus metrics middleware: counts that match the jobs really run."""

from __future__ import annotations

import pytest

prometheus_client = pytest.importorskip("prometheus_client")

from sqs_workers import DropJob, RetryJob, SQSEnv, create_standard_queue  # noqa: E402
from sqs_workers.metrics import PrometheusMetrics  # noqa: E402


def sample(registry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_jobs_outcomes_durations_and_calls(sqs: SQSEnv) -> None:
    registry = prometheus_client.CollectorRegistry()
    PrometheusMetrics(registry).install(sqs)
    create_standard_queue(sqs, "work")
    queue = sqs.queue("work")

    @queue.processor("job")
    def job(what: str) -> None:
        if what == "fail":
            raise ValueError("boom")
        if what == "retry":
            raise RetryJob()
        if what == "drop":
            raise DropJob()

    with queue.add_batch():
        for what in ("ok", "ok", "fail", "retry", "drop"):
            queue.add_job("job", what=what)
    total = 0
    while total < 5:
        total += queue.process_batch().total_count()

    def jobs(outcome: str) -> float:
        return sample(
            registry, "sqs_workers_jobs_total", queue="work", job="job", outcome=outcome
        )

    assert [jobs(o) for o in ("succeeded", "failed", "retried", "dropped")] == [
        2,
        1,
        1,
        1,
    ]
    assert (
        sample(
            registry, "sqs_workers_job_duration_seconds_count", queue="work", job="job"
        )
        == 5
    )
    assert sample(registry, "sqs_workers_job_wait_seconds_count", queue="work") == 5
    assert sample(registry, "sqs_workers_jobs_running", queue="work") == 0
    assert sample(registry, "sqs_workers_jobs_prefetched", queue="work") == 0
    sqs_name = sqs.get_sqs_queue_name("work")
    assert (
        sample(
            registry,
            "sqs_workers_sqs_requests_total",
            queue=sqs_name,
            action="SendMessageBatch",
        )
        == 1
    )
    assert (
        sample(
            registry,
            "sqs_workers_sqs_requests_total",
            queue=sqs_name,
            action="ReceiveMessage",
        )
        >= 1
    )


def test_jobs_past_their_time_limit_are_counted(sqs: SQSEnv) -> None:
    """Outside a worker too (process_batch on the main thread: SIGALRM)."""
    import time

    registry = prometheus_client.CollectorRegistry()
    PrometheusMetrics(registry).install(sqs)
    create_standard_queue(sqs, "slow")
    queue = sqs.queue("slow")

    @queue.processor("nap", time_limit=0.2)
    def nap() -> None:
        time.sleep(30)

    nap.delay()
    result = queue.process_batch()
    assert result.total_count() == 1 and not result.succeeded
    labels = {"queue": "slow", "job": "nap"}
    assert (
        sample(registry, "sqs_workers_job_time_limits_total", **labels, limit="soft")
        == 1
    )
    assert sample(registry, "sqs_workers_jobs_total", **labels, outcome="failed") == 1
