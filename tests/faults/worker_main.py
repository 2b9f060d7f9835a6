"""A worker process for the fault suite: ``python worker_main.py CONFIG_JSON``.

It runs one JobQueue of the package under test against the SQS endpoint in
``$AWS_ENDPOINT_URL`` (the fault proxy or the server itself), with jobs that
write to a ledger file that outlives the process, so a test can count how
many times each job ran even after a SIGKILL:

    start <job_id> <pid>     the handler began
    done <job_id> <pid>      the handler returned (the job succeeded)
    ready - <pid>            the worker is about to run

Log records go to ``config["log"]`` as JSON lines, with their ``extra``
fields, so a test can check what an operator would see. The process ends by
itself after ``config["max_seconds"]`` (a test that forgets it cannot leave
it running).

CONFIG keys: queue, prefix, ledger, log, options (worker keywords), codec,
backoff ("constant0" or absent), entry ("worker", or "process_queue" for a
bare ``queue.process_queue()``), env (extra SQSEnv keywords), max_seconds.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

# Standard LogRecord attributes: anything else on a record came from ``extra``.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}


class Ledger:
    """Appends one line per event; O_APPEND keeps threads' lines whole."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pid = os.getpid()

    def write(self, event: str, job_id: str) -> None:
        os.write(self._fd, f"{event} {job_id} {self._pid}\n".encode())


class JsonLines(logging.Handler):
    """One JSON object per record: level, logger, message, extras, error."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry: dict[str, Any] = {
                "time": record.created,
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            for key, value in vars(record).items():
                if key not in _RECORD_FIELDS:
                    entry[key] = value if _plain(value) else repr(value)
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                entry["error"] = f"{type(error).__name__}: {error}"
            os.write(self._fd, (json.dumps(entry) + "\n").encode())
        except Exception:
            self.handleError(record)


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict))


def register_jobs(queue: Any, ledger: Ledger) -> None:
    @queue.processor("record")
    def record(job_id: str, seconds: float = 0.0) -> None:
        ledger.write("start", job_id)
        if seconds:
            time.sleep(seconds)
        ledger.write("done", job_id)

    @queue.processor("fail")
    def fail(job_id: str) -> None:
        ledger.write("start", job_id)
        raise RuntimeError(f"job {job_id} always fails (a fault-suite poison job)")

    @queue.processor("strict")
    def strict(job_id: str, count: int) -> None:
        ledger.write("start", job_id)
        if not isinstance(count, int):
            raise ValueError(f"count must be an int, got {count!r}")
        ledger.write("done", job_id)


def main(config: dict[str, Any]) -> None:
    # Bounded: whatever the test does, this process does not outlive it long.
    watchdog = threading.Timer(config.get("max_seconds", 90), os._exit, (97,))
    watchdog.daemon = True
    watchdog.start()

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(JsonLines(config["log"]))

    import boto3

    from sqs_workers import ConstantBackoff, SQSEnv
    from sqs_workers.worker import Worker

    env = SQSEnv(
        session=boto3.Session(),
        queue_prefix=config["prefix"],
        codec=config.get("codec", "pickle_compat"),
        **config.get("env", {}),
    )
    backoff = ConstantBackoff(0) if config.get("backoff") == "constant0" else None
    queue = env.queue(config["queue"], backoff_policy=backoff)
    ledger = Ledger(config["ledger"])
    register_jobs(queue, ledger)
    options = config.get("options", {})
    ledger.write("ready", "-")
    if config.get("entry") == "process_queue":
        queue.process_queue(**options)
    else:
        Worker(queue, **options).run()
    logging.getLogger("faults.worker_main").info("worker returned")


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
