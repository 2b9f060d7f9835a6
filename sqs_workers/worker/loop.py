"""The sequential worker loop (one batch at a time)."""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from sqs_workers.core import BatchProcessingResult
from sqs_workers.queue import NOT_FOUND_CODES
from sqs_workers.retrying import backoff_delay
from sqs_workers.shutdown_policies import ShutdownPolicy

logger = logging.getLogger(__name__)


def run_queue_worker(
    queue: Any, shutdown_policy: ShutdownPolicy, wait_seconds: float
) -> None:
    """Process batches until the policy says stop; SQS errors never end it."""
    failures = 0
    while True:
        try:
            result = queue.process_batch(wait_seconds=wait_seconds)
            failures = 0
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
                raise
            failures += 1
            _log_and_wait(queue, error, failures)
            result = BatchProcessingResult(queue.name)
        except Exception as error:
            failures += 1
            _log_and_wait(queue, error, failures)
            result = BatchProcessingResult(queue.name)
        shutdown_policy.update_state(result)
        if shutdown_policy.need_shutdown():
            return


def _log_and_wait(queue: Any, error: BaseException, failures: int) -> None:
    delay = backoff_delay(min(failures, 8), base=0.2)
    logger.warning(
        "Receiving from %s failed (%s); retrying in %.1fs", queue.name, error, delay
    )
    time.sleep(delay)
