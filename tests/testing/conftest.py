"""Running test files against the plugin, as users run them.

``run_tests`` writes a test module into a fresh pytester directory and runs
it in-process; the plugin comes from the installed package's ``pytest11``
entry point, as in a user's project. It runs each behaviour on the
in-memory backend and on the moto server (``--sqs-backend=moto``);
``run_memory_tests`` is for what only the in-memory backend can do (move
time, look at messages without receiving them).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import pytest

RunTests = Callable[..., pytest.RunResult]


def runner(pytester: pytest.Pytester, options: list[str]) -> RunTests:
    def run(source: str, *args: Any) -> pytest.RunResult:
        pytester.makepyfile(test_user=textwrap.dedent(source))
        return pytester.runpytest("-p", "no:cacheprovider", *options, *args)

    return run


@pytest.fixture(params=["memory", "moto"])
def run_tests(pytester: pytest.Pytester, request: pytest.FixtureRequest) -> RunTests:
    options = []
    if request.param == "moto":
        endpoint = request.getfixturevalue("moto_server")
        options = ["--sqs-backend=moto", f"--sqs-endpoint={endpoint}"]
    return runner(pytester, options)


@pytest.fixture
def run_memory_tests(pytester: pytest.Pytester) -> RunTests:
    return runner(pytester, [])
