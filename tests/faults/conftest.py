"""Fixtures of the fault suite (marker ``faults``): queues on the moto server,
the fault proxy, worker processes, and the figures table.

Each test reports what it measured with ``report(name, figures)``; the figures
are printed as the test runs (visible with ``-s``) and again as a table at
the end of the session, so they appear in the CI log of a plain
``python -m pytest`` run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from faults.helpers import FaultQueue, Figures, Ledger, WorkerProcess
from faults.proxy import FaultProxy, Faults
from sqs_workers import SQSEnv, create_standard_queue

_FIGURES = pytest.StashKey[list[tuple[str, str]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_FIGURES] = []


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    rows = config.stash.get(_FIGURES, [])
    if not rows:
        return
    terminalreporter.section("fault suite figures")
    width = max(len(name) for name, _ in rows)
    for name, line in rows:
        terminalreporter.write_line(f"{name:<{width}}  {line}")


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str, Figures], None]:
    """``report("what", figures)``: print now, and list in the session summary."""
    rows = request.config.stash[_FIGURES]

    def record(what: str, figures: Figures) -> None:
        line = figures.line()
        print(f"\n[fault figures] {what}: {line}")
        rows.append((what, line))

    return record


@pytest.fixture
def prefix() -> str:
    return f"f_{uuid.uuid4().hex[:10]}_"


@pytest.fixture
def server_env(moto_server: str, prefix: str) -> Iterator[SQSEnv]:
    """An env on the server itself (not through the proxy), json by default."""
    env = SQSEnv(session=boto3.Session(), queue_prefix=prefix, codec="json")
    yield env
    client = env.sqs_client
    for url in client.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
        try:
            client.delete_queue(QueueUrl=url)
        except Exception:
            pass


@pytest.fixture
def make_queue(server_env: SQSEnv) -> Callable[..., FaultQueue]:
    """``make_queue("jobs", visibility=2, max_receive_count=2)`` (with a DLQ)."""

    def make(
        name: str = "jobs",
        visibility: int = 30,
        max_receive_count: int | None = None,
    ) -> FaultQueue:
        dlq_url = None
        redrive = None
        if max_receive_count is not None:
            dlq_url = create_standard_queue(server_env, f"{name}_dlq")
            redrive = server_env.redrive_policy(f"{name}_dlq", max_receive_count)
        url = create_standard_queue(
            server_env, name, visibility_timeout=visibility, redrive_policy=redrive
        )
        return FaultQueue(name, url, server_env, dlq_url)

    return make


@pytest.fixture
def start_proxy(moto_server: str) -> Iterator[Callable[..., FaultProxy]]:
    """``start_proxy(Faults(...), seed=1)``: a proxy in front of the server."""
    proxies: list[FaultProxy] = []

    def start(*faults: Faults, seed: int = 14) -> FaultProxy:
        proxy = FaultProxy(moto_server, *faults, seed=seed, lifetime=300).start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.txt")


@pytest.fixture
def spawn_worker(
    tmp_path: Path, prefix: str, ledger: Ledger, moto_server: str
) -> Iterator[Callable[..., WorkerProcess]]:
    """``spawn_worker(queue, endpoint=proxy.endpoint_url, options={...})``.

    Started and waited for (its ``ready`` line); killed at teardown if alive.
    """
    spawned: list[WorkerProcess] = []

    def spawn(
        queue: FaultQueue, endpoint: str | None = None, **config: Any
    ) -> WorkerProcess:
        worker = WorkerProcess(
            tmp_path, endpoint or moto_server, prefix, queue.name, ledger, **config
        )
        spawned.append(worker)
        return worker.start().wait_ready()

    yield spawn
    for worker in spawned:
        worker.kill()
