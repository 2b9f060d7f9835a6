"""Fixtures running every conformance test on the in-memory SQS and on moto.

``sqs`` is a :class:`Backend`: a boto3-shaped client plus the means to let
time pass.  On memory, time is a FakeClock that tests advance instantly; on
moto, time is real, so tests use short timeouts and wait with a deadline.
Tests marked ``moto_differs`` follow AWS's documented behaviour; their moto
run is expected to fail (xfail with the marker's reason), or is skipped with
``skip=True`` where moto lacks the operation altogether.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from sqs_workers.memory_sqs import FakeClock, MemoryAWS, MemorySession

from .helpers import Backend


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("moto_differs")
        if marker is None or "conformance" not in str(item.path):
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("sqs") == "moto":
            reason = "moto: " + marker.kwargs.get("reason", "differs from AWS here")
            if marker.kwargs.get("skip"):  # e.g. not implemented: slow 500s
                item.add_marker(pytest.mark.skip(reason=reason))
            else:
                item.add_marker(pytest.mark.xfail(reason=reason, strict=False))


@pytest.fixture(params=["memory", "moto"])
def sqs(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        clock = FakeClock()
        aws = MemoryAWS(clock=clock)
        client = MemorySession(aws).client("sqs", region_name="us-east-1")
        backend = Backend("memory", client, clock)
    else:
        endpoint = request.getfixturevalue("moto_server")
        client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        backend = Backend("moto", client, None)
    backend.prefix = f"c{uuid.uuid4().hex[:8]}"
    yield backend
    backend.cleanup()


@pytest.fixture
def memory_only(sqs: Backend) -> Backend:
    """For tests that moto cannot drive in reasonable time; the test says why."""
    if sqs.kind != "memory":
        pytest.skip("needs a fake clock (the reason is in the test's docstring)")
    return sqs


@pytest.fixture
def queue(sqs: Backend) -> str:
    """A fresh standard queue's URL."""
    return sqs.create()


@pytest.fixture
def fifo(sqs: Backend) -> str:
    """A fresh FIFO queue's URL (explicit deduplication ids)."""
    return sqs.create(fifo=True)
