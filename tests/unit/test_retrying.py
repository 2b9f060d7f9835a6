"""Which SQS failures are retried, and how."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from sqs_workers.sqs.retrying import backoff_delay, call_with_retry, is_transient


def client_error(code: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "ReceiveMessage")


@pytest.mark.parametrize(
    "error",
    [
        client_error("ThrottlingException"),
        client_error("RequestThrottled"),
        client_error("InternalError", 500),
        client_error("Whatever", 503),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_transient_errors_are_retried(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        client_error("AWS.SimpleQueueService.NonExistentQueue"),
        client_error("InvalidParameterValue"),
        client_error("AccessDenied", 403),
        ValueError("a bug of ours"),
    ],
)
def test_permanent_errors_are_raised_at_once(error: Exception) -> None:
    assert not is_transient(error)
    attempts: list[int] = []

    def fail() -> None:
        attempts.append(1)
        raise error

    with pytest.raises(type(error)):
        call_with_retry(fail, description="test", sleep=lambda _: None)
    assert len(attempts) == 1


def test_transient_failure_is_retried_until_it_succeeds() -> None:
    failures = [client_error("ThrottlingException"), client_error("X", 500)]
    slept: list[float] = []

    def flaky(value: int) -> int:
        if failures:
            raise failures.pop(0)
        return value

    assert call_with_retry(flaky, description="test", sleep=slept.append, value=7) == 7
    assert len(slept) == 2


def test_retries_give_up_after_the_attempt_budget() -> None:
    def always_throttled() -> None:
        raise client_error("ThrottlingException")

    with pytest.raises(ClientError):
        call_with_retry(
            always_throttled, description="test", attempts=3, sleep=lambda _: None
        )


def test_backoff_is_jittered_and_capped() -> None:
    delays = [backoff_delay(attempt, base=0.1, cap=2.0) for attempt in range(20)]
    assert all(0 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 1
