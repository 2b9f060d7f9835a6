"""JSON log lines: one object per record, for log shippers (Loki, ELK, CloudWatch).

Each line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``,
``logger`` and ``message``, then every field the record carries in
``extra`` (the worker adds the job's: queue_name, job_name, message_id,
receive_count, duration, outcome) and, when an exception is attached,
``exception`` (its type and message) and ``traceback``. Use it without the
CLI too::

    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter())
    logging.getLogger().addHandler(handler)
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from sqs_workers.middleware import JobOutcome, JobRun, Middleware

# Attributes every LogRecord has: anything else on a record came from `extra`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


class JSONFormatter(logging.Formatter):
    """Formats a record as one line of JSON (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["exception"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an `extra` value JSON cannot encode is shown, not fatal.
        return json.dumps(entry, default=str, ensure_ascii=False)


def _utc_iso(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class JobLog(Middleware):
    """One INFO record per job as it ends, with every field of the job.

    ``worker --log-jobs``: ``queue_name``, ``job_name``, ``message_id``,
    ``receive_count``, ``duration`` (seconds), ``outcome`` (success, retry,
    drop, error, refused) and, when the handler raised, ``exception``. Off
    by default: a record per job costs a few microseconds.
    """

    def __init__(self, logger_name: str = "sqs_workers.jobs") -> None:
        self.logger = logging.getLogger(logger_name)

    def after_job(self, job: JobRun, outcome: JobOutcome) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        extra: dict[str, Any] = {
            "queue_name": job.queue_name,
            "job_name": job.job_name,
            "message_id": job.message_id,
            "receive_count": job.receive_count,
            "duration": round(outcome.duration, 6),
            "outcome": outcome.kind,
        }
        if outcome.exception is not None:
            error = outcome.exception
            extra["exception"] = f"{type(error).__name__}: {error}"
        self.logger.info(
            "%s.%s %s in %.3fs",
            job.queue_name,
            job.job_name or job.message_id,
            outcome.kind,
            outcome.duration,
            extra=extra,
        )
