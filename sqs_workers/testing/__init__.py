"""Testing jobs: an in-memory SQS on a fake clock, run-until-idle, inspection.

Usable with any test runner; the pytest plugin (``sqs_workers.testing.pytest_plugin``,
installed with the package) wraps it in fixtures. See the README, "Testing
your jobs".
"""

from sqs_workers.testing.backends import (
    MemoryBackend,
    ServerBackend,
    TimeTravelUnavailable,
)
from sqs_workers.testing.jobs import Job
from sqs_workers.testing.kit import SQSTestKit
from sqs_workers.testing.run import (
    JobError,
    JobNotProcessed,
    RunawayJobs,
    RunResult,
    run_until_idle,
)

__all__ = [
    "Job",
    "JobError",
    "JobNotProcessed",
    "MemoryBackend",
    "RunResult",
    "RunawayJobs",
    "SQSTestKit",
    "ServerBackend",
    "TimeTravelUnavailable",
    "run_until_idle",
]
