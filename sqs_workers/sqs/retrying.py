"""Retrying SQS calls that failed for a reason that may go away.

botocore already retries a few times inside one call; this is the outer layer
the worker relies on so that throttling, 5xx answers, timeouts and dropped
connections never end the worker loop. Errors that will not go away by
waiting (a missing queue, bad parameters, denied access) are raised at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
        "KmsThrottled",
        "SlowDown",
    }
)


# Per-entry failure codes of a batch call (``Failed`` entries) worth sending
# again; anything else (an invalid receipt handle, a message no longer in
# flight) will fail the same way every time.
_RETRYABLE_ENTRY_CODES = _RETRYABLE_CODES | {"ServiceUnavailable", "InternalError"}


def is_retryable_entry(failure: dict[str, Any]) -> bool:
    """A ``Failed`` entry of a batch response that may succeed if sent again."""
    if failure.get("SenderFault"):
        return False
    return str(failure.get("Code", "")) in _RETRYABLE_ENTRY_CODES


def is_transient(error: BaseException) -> bool:
    """True when the same call may succeed if tried again later."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _RETRYABLE_CODES or int(status or 0) >= 500
    return isinstance(error, (BotoConnectionError, HTTPClientError, BotoCoreError))


def backoff_delay(attempt: int, base: float = 0.1, cap: float = 20.0) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**n)]."""
    return random.uniform(0, min(cap, base * (2**attempt)))


def call_with_retry(
    fn: Callable[..., T],
    *,
    description: str,
    attempts: int = 6,
    sleep: Callable[[float], Any] = time.sleep,
    **kwargs: Any,
) -> T:
    """Call ``fn(**kwargs)``; retry transient failures with jittered backoff."""
    for attempt in range(attempts):
        try:
            return fn(**kwargs)
        except Exception as error:
            if not is_transient(error) or attempt == attempts - 1:
                raise
            delay = backoff_delay(attempt)
            logger.warning(
                "SQS %s failed (%s); retrying in %.2fs", description, error, delay
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def retry_for(
    fn: Callable[[], T],
    *,
    description: str,
    timeout: float,
    wait: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``fn()``; retry transient failures with jittered backoff for up to
    ``timeout`` seconds (the worker's start-up: a queue lookup during a brief
    throttling or 5xx spell should wait it out, not end the worker).

    Errors that waiting cannot fix (a missing queue, denied access) are raised
    at once; a transient one still failing at the deadline is raised too.
    ``wait(delay)`` sleeps between attempts; it may return True to give up
    early (e.g. the worker was asked to stop), re-raising the last error.
    """
    deadline = clock() + timeout
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as error:
            remaining = deadline - clock()
            if not is_transient(error) or remaining <= 0:
                raise
            delay = min(remaining, backoff_delay(min(attempt, 8), base=0.2, cap=5.0))
            attempt += 1
            logger.warning(
                "SQS %s failed (%s: %s); retrying in %.2fs (giving up in %.0fs)",
                description,
                type(error).__name__,
                error,
                delay,
                remaining,
            )
            if wait(delay):
                raise
