"""Shutdown policies: when process_queue returns on its own."""

from __future__ import annotations

from typing import Any

from sqs_workers import SQSEnv
from sqs_workers.core import BatchProcessingResult
from sqs_workers.shutdown_policies import (
    ASAP_SHUTDOWN,
    NEVER_SHUTDOWN,
    AndShutdown,
    IdleShutdown,
    MaxTasksShutdown,
    NeverShutdown,
    OrShutdown,
)

from .helpers import make_queue, run_in_thread


def _result(n: int) -> BatchProcessingResult:
    result = BatchProcessingResult("q")
    for i in range(n):
        result.update_with_message(object(), i % 2 == 0)
    return result


def test_reprs() -> None:
    assert repr(IdleShutdown(10)) == "IdleShutdown(10)"
    assert repr(MaxTasksShutdown(5)) == "MaxTasksShutdown(5)"
    assert repr(NeverShutdown()) == "NeverShutdown()"
    assert repr(NEVER_SHUTDOWN) == "NeverShutdown()"
    assert repr(ASAP_SHUTDOWN) == "IdleShutdown(0)"
    combined = repr(OrShutdown(IdleShutdown(10), MaxTasksShutdown(5)))
    assert combined.startswith("OrShutdown(")
    assert "IdleShutdown(10)" in combined and "MaxTasksShutdown(5)" in combined
    both = repr(AndShutdown(IdleShutdown(1), MaxTasksShutdown(2)))
    assert both.startswith("AndShutdown(")
    assert "IdleShutdown(1)" in both and "MaxTasksShutdown(2)" in both


def test_never_shutdown() -> None:
    policy = NeverShutdown()
    for n in (0, 5, 0):
        policy.update_state(_result(n))
        assert not policy.need_shutdown()


def test_max_tasks_shutdown_counts_succeeded_and_failed() -> None:
    policy = MaxTasksShutdown(5)
    assert not policy.need_shutdown()
    policy.update_state(_result(3))
    assert not policy.need_shutdown()
    policy.update_state(_result(0))
    assert not policy.need_shutdown()
    policy.update_state(_result(2))
    assert policy.need_shutdown()


def test_idle_shutdown() -> None:
    asap = IdleShutdown(0)
    asap.update_state(_result(2))
    assert not asap.need_shutdown()
    asap.update_state(_result(0))
    assert asap.need_shutdown()
    patient = IdleShutdown(idle_seconds=3600)
    patient.update_state(_result(0))
    assert not patient.need_shutdown()


def test_or_and_and_shutdown() -> None:
    either = OrShutdown(MaxTasksShutdown(1), IdleShutdown(3600))
    both = AndShutdown(MaxTasksShutdown(1), IdleShutdown(0))
    either.update_state(_result(1))
    both.update_state(_result(1))
    assert either.need_shutdown()
    assert not both.need_shutdown()  # not idle: the last batch had a task
    both.update_state(_result(0))
    assert both.need_shutdown()


def test_batch_processing_result() -> None:
    result = BatchProcessingResult("q")
    a, b, c = object(), object(), object()
    result.update_with_message(a, True)
    result.update_with_message(b, False)
    result.update_with_message(c, True)
    assert result.queue_name == "q"
    assert result.succeeded == [a, c]
    assert result.failed == [b]
    assert (result.succeeded_count(), result.failed_count()) == (2, 1)
    assert result.total_count() == 3


class CountingPolicy:
    """A custom policy: stop after being told about ``n`` batches."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.results: list[Any] = []

    def update_state(self, batch_processing_result: Any) -> None:
        self.results.append(batch_processing_result)

    def need_shutdown(self) -> bool:
        return len(self.results) >= self.n


def test_custom_policy_with_process_queue(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    seen: list[int] = []
    queue.connect_processor("job", lambda n: seen.append(n))
    queue.add_job("job", n=1)
    policy = CountingPolicy(3)
    run_in_thread(lambda: queue.process_queue(shutdown_policy=policy, wait_second=0))
    assert len(policy.results) == 3
    assert all(isinstance(r, BatchProcessingResult) for r in policy.results)
    assert sum(r.total_count() for r in policy.results) == 1
    assert seen == [1]


def test_max_tasks_shutdown_with_process_queue(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q")
    seen: list[int] = []
    queue.connect_processor("job", lambda n: seen.append(n))
    for n in range(4):
        queue.add_job("job", n=n)
    run_in_thread(
        lambda: queue.process_queue(shutdown_policy=MaxTasksShutdown(4), wait_second=1)
    )
    assert sorted(seen) == [0, 1, 2, 3]


def test_max_tasks_shutdown_returns_without_waiting_for_another_poll(
    sqs: SQSEnv,
) -> None:
    # The original returned as soon as the policy said so after a batch; a
    # long wait_second must not hold the return for another long poll.
    queue = make_queue(sqs, "q")
    queue.connect_processor("job", lambda: None)
    queue.add_job("job")
    run_in_thread(
        lambda: queue.process_queue(
            shutdown_policy=MaxTasksShutdown(1), wait_second=20
        ),
        timeout=10,
    )
