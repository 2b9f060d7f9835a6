"""The pytest plugin of sqs_workers (loaded by the ``pytest11`` entry point).

Fixtures: ``sqs_kit`` (an ``SQSTestKit``), ``sqs_env`` (its env), ``sqs_clock``
(its fake clock), ``sqs_app_env`` (your env to switch to the test backend),
``sqs_server_endpoint`` (the SQS server, on the server backend).

The backend is the in-memory SQS on a fake clock unless
``--sqs-backend=moto`` (or ``SQS_WORKERS_TEST_BACKEND=moto``) is given: then
the same fixtures run against an SQS server, at ``--sqs-endpoint`` (or
``SQS_WORKERS_TEST_ENDPOINT``), or on a moto server started for the session.
The helpers themselves live in ``sqs_workers.testing``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from sqs_workers.memory_sqs import FakeClock
from sqs_workers.sqs_env import SQSEnv
from sqs_workers.testing import SQSTestKit
from sqs_workers.testing.backends import Backend, MemoryBackend, ServerBackend

BACKEND_VARIABLE = "SQS_WORKERS_TEST_BACKEND"
ENDPOINT_VARIABLE = "SQS_WORKERS_TEST_ENDPOINT"
BACKENDS = ("memory", "moto")
ENV_INI = "sqs_workers_env"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sqs_workers", "sqs_workers testing kit")
    group.addoption(
        "--sqs-backend",
        choices=BACKENDS,
        default=None,
        help=f"where the sqs_kit/sqs_env fixtures keep queues: memory (default, "
        f"fake clock) or moto (a real SQS server); env: {BACKEND_VARIABLE}",
    )
    group.addoption(
        "--sqs-endpoint",
        default=None,
        help="URL of the SQS server for --sqs-backend=moto (default: start a "
        f"moto server for the session); env: {ENDPOINT_VARIABLE}",
    )
    parser.addini(
        ENV_INI,
        "your SQSEnv as 'module:attribute'; sqs_env gives it, switched to the "
        "test backend for each test",
        default="",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    backend = _backend_name(config)
    return None if backend == "memory" else f"sqs_workers test backend: {backend}"


def _backend_name(config: pytest.Config) -> str:
    name = config.getoption("--sqs-backend") or os.environ.get(BACKEND_VARIABLE)
    name = (name or "memory").lower()
    if name not in BACKENDS:
        raise pytest.UsageError(
            f"{BACKEND_VARIABLE}={name!r}: choose one of {', '.join(BACKENDS)}"
        )
    return name


@pytest.fixture(scope="session")
def sqs_server_endpoint(pytestconfig: pytest.Config) -> Iterator[str]:
    """The SQS server's URL: ``--sqs-endpoint``, or a moto server started now."""
    given = pytestconfig.getoption("--sqs-endpoint") or os.environ.get(
        ENDPOINT_VARIABLE
    )
    if given:
        yield given
        return
    from sqs_workers.testing.moto import MotoServer

    server = MotoServer()
    try:
        yield server.endpoint_url
    finally:
        server.stop()


@pytest.fixture
def sqs_app_env(pytestconfig: pytest.Config) -> SQSEnv | None:
    """Your env, for ``sqs_env`` to switch to the test backend (None: a fresh one).

    Set the ini option ``sqs_workers_env = "myapp.jobs:sqs"``, or override
    this fixture in your conftest.py.
    """
    path = str(pytestconfig.getini(ENV_INI) or "").strip()
    return _import_env(path) if path else None


@pytest.fixture
def sqs_kit(
    request: pytest.FixtureRequest, sqs_app_env: SQSEnv | None
) -> Iterator[SQSTestKit]:
    """An ``SQSTestKit`` on the test backend; closed (and your env given back) after."""
    backend: Backend
    if _backend_name(request.config) == "memory":
        backend = MemoryBackend()
    else:
        backend = ServerBackend(request.getfixturevalue("sqs_server_endpoint"))
    kit = SQSTestKit(sqs_app_env, backend)
    try:
        yield kit
    finally:
        kit.close()


@pytest.fixture
def sqs_env(sqs_kit: SQSTestKit) -> SQSEnv:
    """The kit's env: yours switched to the test backend, or a fresh one."""
    return sqs_kit.env


@pytest.fixture
def sqs_clock(sqs_kit: SQSTestKit) -> FakeClock:
    """The fake clock of the in-memory backend; skips the test on a server."""
    if sqs_kit.backend.name != "memory":
        pytest.skip("moves time: runs on the in-memory backend only")
    return sqs_kit.clock


def _import_env(path: str) -> SQSEnv:
    module_name, _, attribute = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise pytest.UsageError(
            f"{ENV_INI} = {path!r}: write 'module:attribute', e.g. 'myapp.jobs:sqs'"
        )
    env: Any = getattr(importlib.import_module(module_name), attribute, None)
    if not isinstance(env, SQSEnv):
        raise pytest.UsageError(
            f"{ENV_INI} = {path!r}: {attribute!r} in {module_name} is "
            f"{type(env).__name__}, not an SQSEnv"
        )
    return env
