"""Shared fixtures: every behaviour test runs on both backends.

``sqs_session`` is parametrized over the in-memory SQS (``memory``) and a real
moto server on loopback (``moto``); select one with ``-k memory``/``-k moto``.
The moto server is started once per test session; every test gets its own
queue-name prefix so tests never see each other's queues.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto_server import MotoServer, start_moto_server

from sqs_workers import MemorySession, SQSEnv

# pytester: the testing kit's plugin is tested as users load it (tests/testing).
pytest_plugins = ["pytester"]

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer | str]:
    """The SQS endpoint all server-backed tests talk to.

    Point every boto3 client of the process at it through the standard
    environment variables, so ``SQSEnv()`` with the default ``boto3`` session,
    a ``boto3.Session()`` and ``localstack_client`` all reach it unchanged.
    """
    external = os.environ.get("SQS_WORKERS_TEST_ENDPOINT")
    server = None if external else start_moto_server()
    endpoint = external or server.endpoint_url  # type: ignore[union-attr]
    saved = {k: os.environ.get(k) for k in [*FAKE_AWS_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(FAKE_AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["LOCALSTACK_HOST"] = endpoint.split("://", 1)[1]
    try:
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if server is not None:
            server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str) -> str:
    return moto_server


@pytest.fixture(params=["memory", "moto"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sqs_session(backend: str, request: pytest.FixtureRequest) -> Any:
    if backend == "memory":
        return MemorySession()
    request.getfixturevalue("moto_server")
    return boto3.Session()


@pytest.fixture
def random_string() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def sqs(sqs_session: Any, random_string: str) -> Iterator[SQSEnv]:
    env = SQSEnv(session=sqs_session, queue_prefix=f"t_{random_string}_")
    yield env
    for name in env.get_all_known_queues():
        try:
            env.sqs_client.delete_queue(
                QueueUrl=env.sqs_client.get_queue_url(
                    QueueName=env.get_sqs_queue_name(name)
                )["QueueUrl"]
            )
        except Exception:
            pass
