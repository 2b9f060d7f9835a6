"""How long a failed message stays invisible before it is retried."""

from __future__ import annotations

import random
from typing import Any

# SQS refuses a visibility timeout above 12 hours.
MAX_SQS_VISIBILITY_TIMEOUT = 43200


class BackoffPolicy:
    def get_visibility_timeout(self, message: Any) -> float:
        raise NotImplementedError()


class ConstantBackoff(BackoffPolicy):
    """Retry after a fixed delay (0: make the message visible at once)."""

    def __init__(self, backoff_value: float = 0) -> None:
        self.backoff_value = backoff_value

    def get_visibility_timeout(self, message: Any) -> float:
        return self.backoff_value

    def __repr__(self) -> str:
        return f"ConstantBackoff({self.backoff_value})"


class ExponentialBackoff(BackoffPolicy):
    """Retry after about ``min + multiplier * base ** (receives - 1)`` seconds.

    The delay gets ±10% jitter so that a burst of failures does not come back
    as a burst, and is clamped to [min, max].
    ``max_visbility_timeout`` (sic) is the original package's keyword and stays
    accepted; ``max_visibility_timeout`` is the spelling to use.
    """

    def __init__(
        self,
        base: float = 2,
        min_visibility_timeout: float = 0,
        max_visbility_timeout: float = 30 * 60,
        multiplier: float = 1,
        *,
        max_visibility_timeout: float | None = None,
    ) -> None:
        self.base = base
        self.min_visibility_timeout = min_visibility_timeout
        self.max_visibility_timeout = (
            max_visbility_timeout
            if max_visibility_timeout is None
            else max_visibility_timeout
        )
        self.multiplier = multiplier

    def get_visibility_timeout(self, message: Any) -> int:
        previous_receives = int(message.attributes["ApproximateReceiveCount"]) - 1
        try:
            growth = self.base**previous_receives
        except OverflowError:
            growth = float("inf")
        mean = self.min_visibility_timeout + self.multiplier * growth
        jittered = mean * random.uniform(0.9, 1.1)
        upper = min(self.max_visibility_timeout, MAX_SQS_VISIBILITY_TIMEOUT)
        return round(max(self.min_visibility_timeout, min(upper, jittered)))

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoff(base={self.base}, "
            f"min_visibility_timeout={self.min_visibility_timeout}, "
            f"max_visibility_timeout={self.max_visibility_timeout}, "
            f"multiplier={self.multiplier})"
        )


DEFAULT_BACKOFF = ExponentialBackoff()
IMMEDIATE_RETURN = ConstantBackoff()
