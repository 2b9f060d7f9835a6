"""Backoff policies: how long a failed message stays hidden."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from sqs_workers import (
    DEFAULT_BACKOFF,
    IMMEDIATE_RETURN,
    ConstantBackoff,
    ExponentialBackoff,
    SQSEnv,
)
from sqs_workers.backoff_policies import BackoffPolicy

from .helpers import make_queue, queued_count, visible_count


class FakeMessage:
    def __init__(self, receive_count: int) -> None:
        self.attributes = {"ApproximateReceiveCount": str(receive_count)}


def test_constant_backoff() -> None:
    assert ConstantBackoff().get_visibility_timeout(FakeMessage(1)) == 0
    assert ConstantBackoff(5).get_visibility_timeout(FakeMessage(3)) == 5
    assert ConstantBackoff(backoff_value=7).get_visibility_timeout(FakeMessage(9)) == 7
    assert IMMEDIATE_RETURN.get_visibility_timeout(FakeMessage(4)) == 0
    assert isinstance(IMMEDIATE_RETURN, BackoffPolicy)
    assert isinstance(DEFAULT_BACKOFF, BackoffPolicy)


def _samples(policy: ExponentialBackoff, receive_count: int) -> list[float]:
    return [
        policy.get_visibility_timeout(FakeMessage(receive_count)) for _ in range(400)
    ]


@pytest.mark.parametrize(
    ("kwargs", "receive_count", "expected"),
    [
        ({}, 1, 1),
        ({}, 5, 16),
        ({}, 8, 128),
        ({"base": 3}, 4, 27),
        ({"multiplier": 10}, 3, 40),
        ({"min_visibility_timeout": 30}, 4, 38),
        ({"base": 2, "multiplier": 5, "min_visibility_timeout": 10}, 5, 90),
    ],
)
def test_exponential_backoff_grows(
    kwargs: dict[str, Any], receive_count: int, expected: float
) -> None:
    samples = _samples(ExponentialBackoff(**kwargs), receive_count)
    assert abs(statistics.mean(samples) - expected) <= max(1.0, expected * 0.05)
    low = max(kwargs.get("min_visibility_timeout", 0), expected * 0.5 - 1)
    assert all(low <= s <= expected * 1.5 + 1 for s in samples)


def test_exponential_backoff_jitters() -> None:
    samples = _samples(ExponentialBackoff(), 11)  # about 1024 s
    assert len(set(samples)) > 1


def test_exponential_backoff_is_clamped() -> None:
    policy = ExponentialBackoff(max_visbility_timeout=100)
    assert all(s <= 100 for s in _samples(policy, 30))
    assert statistics.mean(_samples(policy, 30)) >= 99
    assert all(s <= 1800 for s in _samples(ExponentialBackoff(), 40))
    floor = ExponentialBackoff(min_visibility_timeout=60, multiplier=0)
    assert all(s >= 60 for s in _samples(floor, 1))


def test_misspelled_keyword_is_accepted() -> None:
    policy = ExponentialBackoff(
        base=2, min_visibility_timeout=0, max_visbility_timeout=50, multiplier=1
    )
    assert all(0 <= s <= 50 for s in _samples(policy, 20))
    positional = ExponentialBackoff(2, 0, 50, 1)
    assert all(s <= 50 for s in _samples(positional, 20))


def test_queue_backoff_overrides_env_backoff(
    sqs_session: Any, random_string: str
) -> None:
    env = SQSEnv(
        session=sqs_session,
        queue_prefix=f"bk_{random_string}_",
        backoff_policy=ConstantBackoff(600),
    )
    immediate = make_queue(env, "immediate", backoff_policy=IMMEDIATE_RETURN)
    slow = make_queue(env, "slow")
    assert slow.backoff_policy.get_visibility_timeout(FakeMessage(1)) == 600
    for queue in (immediate, slow):

        @queue.processor("job")
        def job() -> None:
            raise ValueError("fails")

        queue.add_job("job")
        queue.process_batch()
    assert visible_count(immediate) == 1
    assert visible_count(slow) == 0
    assert queued_count(slow) == 1


def test_default_backoff_hides_a_failed_message(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q", backoff_policy=DEFAULT_BACKOFF)

    @queue.processor("job")
    def job() -> None:
        raise ValueError("fails")

    queue.add_job("job")
    result = queue.process_batch()
    assert result.failed_count() == 1
    assert queued_count(queue) == 1
