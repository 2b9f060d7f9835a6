"""Helpers for the fault suite: worker processes, their ledger, the figures.

A test sends jobs straight to the SQS server, runs the worker under test in
a child process (``worker_main.py``), possibly through the fault proxy, and
reads the ledger the jobs write to count how often each job ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqs_testing import server_counts, wait_until

import sqs_workers
from sqs_workers import SQSEnv

WORKER_SCRIPT = Path(__file__).with_name("worker_main.py")
PACKAGE_ROOT = Path(sqs_workers.__file__).resolve().parents[1]
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

__all__ = [
    "FaultQueue",
    "Figures",
    "Ledger",
    "WorkerProcess",
    "drain_ids",
    "server_counts",
    "wait_until",
]


class Ledger:
    """What the jobs of every worker process wrote (see worker_main.py)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def events(self) -> list[tuple[str, str, int]]:
        lines = self.path.read_text().splitlines()
        events = []
        for line in lines:
            parts = line.split()
            if len(parts) == 3:  # a line cut by a SIGKILL mid-write is skipped
                events.append((parts[0], parts[1], int(parts[2])))
        return events

    def count(self, event: str) -> Counter[str]:
        return Counter(job for kind, job, _ in self.events() if kind == event)

    def started(self) -> Counter[str]:
        return self.count("start")

    def done(self) -> Counter[str]:
        return self.count("done")

    def ready(self, pid: int) -> bool:
        return any(kind == "ready" and p == pid for kind, _, p in self.events())


@dataclass
class Figures:
    """What a fault test measured: each job sent, how often it ran to the end."""

    sent: int
    processed: int  # jobs that ran to the end at least once
    duplicated: int  # jobs that ran to the end more than once
    extra_runs: int  # runs beyond the first, over all jobs
    lost: int  # jobs sent that never ran to the end
    notes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, sent: list[str], ledger: Ledger, **notes: Any) -> Figures:
        done = ledger.done()
        runs = [done.get(job, 0) for job in sent]
        return cls(
            sent=len(sent),
            processed=sum(1 for r in runs if r > 0),
            duplicated=sum(1 for r in runs if r > 1),
            extra_runs=sum(r - 1 for r in runs if r > 1),
            lost=sum(1 for r in runs if r == 0),
            notes=notes,
        )

    def line(self) -> str:
        notes = " ".join(f"{k}={v}" for k, v in self.notes.items())
        return (
            f"sent={self.sent} processed={self.processed} "
            f"duplicated={self.duplicated} extra_runs={self.extra_runs} "
            f"lost={self.lost} {notes}"
        ).strip()


@dataclass
class FaultQueue:
    """A queue made for one test, reached straight on the server (no proxy)."""

    name: str
    url: str
    env: SQSEnv
    dlq_url: str | None = None

    @property
    def client(self) -> Any:
        return self.env.sqs_client

    @property
    def jobs(self) -> Any:
        """The JobQueue to send with (``add_job``, ``add_batch``)."""
        return self.env.queue(self.name)


class WorkerProcess:
    """One ``worker_main.py`` child: start, signal, wait, read its log."""

    def __init__(
        self,
        workdir: Path,
        endpoint_url: str,
        prefix: str,
        queue: str,
        ledger: Ledger,
        **config: Any,
    ) -> None:
        self.workdir = workdir
        self.endpoint_url = endpoint_url
        self.ledger = ledger
        index = len(list(workdir.glob("worker-*.log")))
        self.log_path = workdir / f"worker-{index}.log"
        self.output_path = workdir / f"worker-{index}.out"
        self.config = {
            "queue": queue,
            "prefix": prefix,
            "ledger": str(ledger.path),
            "log": str(self.log_path),
            **config,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> WorkerProcess:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") and key != "LOCALSTACK_HOST"
        }
        env.update(FAKE_AWS_ENV)
        env["AWS_ENDPOINT_URL"] = self.endpoint_url
        env["PYTHONUNBUFFERED"] = "1"
        # The child runs the very package the tests import (a worktree's,
        # not whatever an editable install points at).
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        with self.output_path.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), json.dumps(self.config)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "worker not started"
        return self.process.pid

    def wait_ready(self, timeout: float = 20.0) -> WorkerProcess:
        wait_until(
            lambda: self.ledger.ready(self.pid) or not self.alive(),
            timeout,
            "the worker process to start",
        )
        assert self.alive(), f"worker exited at start:\n{self.output()}"
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after ``timeout``."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.alive():
            self.signal(signal.SIGKILL)
            self.wait(10)

    def output(self) -> str:
        """stdout and stderr (a crash's traceback lands here)."""
        try:
            return self.output_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def log_records(self) -> list[dict[str, Any]]:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # cut by a kill
        return records

    def describe(self) -> str:
        """For assertion messages: exit code, output and the last log lines."""
        code = self.process.poll() if self.process else None
        logs = "\n".join(json.dumps(r) for r in self.log_records()[-15:])
        return f"exit code {code}\n--- output ---\n{self.output()}\n--- log ---\n{logs}"


def drain_ids(client: Any, url: str, visibility: int = 30) -> list[str]:
    """Receive what a queue has right now (hidden for ``visibility``): MessageIds."""
    ids: list[str] = []
    while True:
        messages = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return ids
        ids.extend(m["MessageId"] for m in messages)
