"""Options: flat keywords land in their group; bad ones fail at once; signal
handlers are left alone off the main thread."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from sqs_workers import create_standard_queue
from sqs_workers.worker import (
    HeartbeatOptions,
    ShutdownOptions,
    SupervisorOptions,
    WorkerOptions,
)
from sqs_workers.worker.options import supervisor_options_from, worker_options_from
from sqs_workers.worker.signals import may_install

from .helpers import running_worker


def test_flat_keywords_land_in_their_group() -> None:
    options = worker_options_from(
        concurrency=8,
        heartbeat_interval=5,
        grace_period=3,
        handle_signals=False,
    )
    assert options.concurrency == 8
    assert options.heartbeat == HeartbeatOptions(interval=5)
    assert options.shutdown == ShutdownOptions(grace_period=3, handle_signals=False)


def test_keywords_override_a_given_dataclass() -> None:
    base = WorkerOptions(concurrency=4, heartbeat=HeartbeatOptions(interval=2))
    options = worker_options_from(base, heartbeat=False, wait_seconds=1)
    assert options.concurrency == 4 and options.wait_seconds == 1
    assert options.heartbeat == HeartbeatOptions(enabled=False, interval=2)
    assert not options.heartbeat_enabled


def test_defaults_keep_the_original_behaviour() -> None:
    options = WorkerOptions()
    assert options.concurrency == 1 and options.wait_seconds == 10
    # On at every concurrency: prefetched and running messages stay hidden
    # (issue 14: the one-at-a-time default dead-lettered unrun jobs).
    assert options.heartbeat_enabled
    assert WorkerOptions(concurrency=2).heartbeat_enabled
    assert options.startup_timeout == 60
    assert options.prefetch_count == 20
    assert WorkerOptions(concurrency=64).prefetch_count == 64


@pytest.mark.parametrize(
    "kwargs", [{"concurency": 2}, {"interval": 2}, {"heartbeat_every": 2}]
)
def test_unknown_options_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        worker_options_from(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"concurrency": 0}, {"wait_seconds": 21}, {"receivers": 0}]
)
def test_bad_values_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        WorkerOptions(**kwargs)


def test_supervisor_options_pass_worker_keywords_to_children() -> None:
    options = supervisor_options_from(processes=3, concurrency=8, grace_period=9)
    assert options.processes == 3
    assert options.worker.concurrency == 8
    assert options.worker.shutdown.grace_period == 9
    assert supervisor_options_from() == SupervisorOptions()


def test_no_signal_handlers_off_the_main_thread(sqs: Any) -> None:
    create_standard_queue(sqs, "q", visibility_timeout=30)
    before = signal.getsignal(signal.SIGTERM)
    with running_worker(sqs.queue("q")) as worker:
        assert worker.started.wait(10)
        assert signal.getsignal(signal.SIGTERM) is before
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            may_install(True)
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join()
    assert errors  # asking for them off the main thread is an error
