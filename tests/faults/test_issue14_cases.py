"""Issue 14's cases (1)-(7), end to end: a worker process on the moto server.

Each test reproduces one case as the issue reports it (scaled down to keep
the suite fast) and asserts what the issue asks for; each fails on the code
before the fix (checked: the code of commit 5cebd09). Case (4) lives in
test_degraded_sqs.py and test_acks_degraded.py.
"""

from __future__ import annotations

import json
import pickle
import time
import zlib
from base64 import urlsafe_b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from faults.helpers import (
    FaultQueue,
    Figures,
    Ledger,
    WorkerProcess,
    server_counts,
    wait_until,
)
from faults.proxy import FaultProxy, Faults

pytestmark = pytest.mark.faults

Report = Callable[[str, Figures], None]
Spawn = Callable[..., WorkerProcess]
MakeQueue = Callable[..., FaultQueue]


def dead_lettered(queue: FaultQueue, seen: set[str]) -> set[str]:
    """MessageIds in the DLQ so far (kept hidden, so each is seen once)."""
    assert queue.dlq_url is not None
    for message in queue.client.receive_message(
        QueueUrl=queue.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", []):
        seen.add(message["MessageId"])
    return seen


def send_ids(queue: FaultQueue, jobs: dict[str, float]) -> dict[str, str]:
    """Send ``record`` jobs one by one; {MessageId: job_id}."""
    ids = {}
    for job_id, seconds in jobs.items():
        message_id = queue.jobs.add_job("record", job_id=job_id, seconds=seconds)
        ids[str(message_id)] = job_id
    return ids


# -- (1) a json worker never unpickles --------------------------------------


class Trap:
    """Unpickling this creates a file: proof that the worker ran our code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def pickled(value: Any, protocol: int | None) -> str:
    """The wire text of the pickle (None: default protocol) codecs."""
    data = pickle.dumps(value, protocol=protocol)
    return urlsafe_b64encode(zlib.compress(data)).decode()


def test_case1_a_json_worker_refuses_pickled_messages(
    make_queue: MakeQueue, spawn_worker: Spawn, ledger: Ledger, tmp_path: Path
) -> None:
    queue = make_queue(visibility=30, max_receive_count=2)
    worker = spawn_worker(
        queue, codec="json", backoff="constant0", options={"wait_seconds": 1}
    )
    body_trap, context_trap = tmp_path / "body-ran", tmp_path / "context-ran"
    messages = {
        "c1-body": (
            pickled({"job_id": "c1-body", "x": Trap(body_trap)}, None),
            pickled({}, None),
            "pickle",
        ),
        "c1-context": (
            pickled({"job_id": "c1-context"}, 2),
            pickled({"x": Trap(context_trap)}, 2),
            "pickle_compat",
        ),
    }
    ids = {}
    for job_id, (body, context, content_type) in messages.items():
        ids[
            queue.client.send_message(
                QueueUrl=queue.url,
                MessageBody=body,
                MessageAttributes={
                    "JobName": {"DataType": "String", "StringValue": "record"},
                    "ContentType": {"DataType": "String", "StringValue": content_type},
                    "JobContext": {"DataType": "String", "StringValue": context},
                },
            )["MessageId"]
        ] = job_id
    in_dlq: set[str] = set()
    wait_until(
        lambda: (
            dead_lettered(queue, in_dlq) >= set(ids)
            or ledger.started()
            or body_trap.exists()
            or context_trap.exists()
        ),
        15,
        "the pickled messages in the DLQ (or run)",
        poll=0.2,
    )
    assert not body_trap.exists(), "the worker unpickled a message body"
    assert not context_trap.exists(), "the worker unpickled a message context"
    assert not ledger.started(), "a pickled job ran on a json worker"
    assert in_dlq >= set(ids)
    logged = json.dumps(worker.log_records())
    for message_id in ids:
        assert message_id in logged, f"refused message {message_id} not logged"


# -- (2) a message that arrives late in a long poll ---------------------------


def test_case2_a_message_received_late_in_a_long_poll_runs(
    make_queue: MakeQueue,
    start_proxy: Callable[..., FaultProxy],
    spawn_worker: Spawn,
    ledger: Ledger,
    report: Report,
) -> None:
    """Visibility 2 s, long polls of 4 s: a message sent 3 s into a poll
    (moto answers the poll at once) must run at once, not be judged expired.
    (The issue saw it with a message held by another consumer until then.)"""
    visibility, wait = 2, 4
    queue = make_queue(visibility=visibility)
    proxy = start_proxy()  # no faults: it shows when each poll began
    spawn_worker(queue, endpoint=proxy.endpoint_url, options={"wait_seconds": wait})
    polls = len(proxy.calls("ReceiveMessage"))
    wait_until(
        lambda: len(proxy.calls("ReceiveMessage")) > polls, wait + 5, "a new poll"
    )
    poll_began = proxy.calls("ReceiveMessage")[-1].started
    # Setting up the case, not asserting: send it 3 s into that poll.
    wait_until(lambda: time.monotonic() >= poll_began + 3, 5, "3 s into the poll")
    send_ids(queue, {"late": 0})
    released = time.monotonic()
    try:
        wait_until(lambda: ledger.done().get("late"), wait + 4, "the late message run")
    finally:
        attributes = queue.client.get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["All"]
        )["Attributes"]
        figures = Figures.of(
            ["late"],
            ledger,
            ran_after=f"{time.monotonic() - released:.1f}s",
            in_flight=attributes.get("ApproximateNumberOfMessagesNotVisible"),
        )
        report("(2) message sent 3 s into a 4 s poll, visibility 2 s", figures)


# -- (3) defaults: nothing dead-lettered unrun, nothing run twice --------------


def test_case3_defaults_send_nothing_to_the_dlq_without_running_it(
    make_queue: MakeQueue, spawn_worker: Spawn, ledger: Ledger, report: Report
) -> None:
    """A bare process_queue() on a queue with visibility 2 s and
    maxReceiveCount 2: 16 jobs of 0.3 s all run, none is dead-lettered."""
    queue = make_queue(visibility=2, max_receive_count=2)
    spawn_worker(queue, entry="process_queue")
    ids = send_ids(queue, {f"d{i}": 0.3 for i in range(16)})
    in_dlq: set[str] = set()

    def settled() -> bool:
        done = ledger.done()
        dead = dead_lettered(queue, in_dlq)
        return all(done.get(job) or mid in dead for mid, job in ids.items())

    wait_until(settled, 20, "every job run or dead-lettered", poll=0.2)
    unrun_in_dlq = [ids[m] for m in in_dlq if not ledger.started().get(ids[m])]
    figures = Figures.of(
        list(ids.values()),
        ledger,
        dead_lettered=len(in_dlq),
        dead_lettered_unrun=len(unrun_in_dlq),
    )
    report("(3) defaults, 16 jobs of 0.3 s, visibility 2 s, maxReceiveCount 2", figures)
    assert not in_dlq, f"dead-lettered: {sorted(ids[m] for m in in_dlq)}"
    assert figures.lost == 0


def test_case3_defaults_run_a_job_longer_than_the_visibility_once(
    make_queue: MakeQueue, spawn_worker: Spawn, ledger: Ledger, report: Report
) -> None:
    """A bare process_queue(), visibility 2 s, 2 jobs of 4 s: 2 runs."""
    queue = make_queue(visibility=2)
    spawn_worker(queue, entry="process_queue")
    ids = send_ids(queue, {"slow0": 4, "slow1": 4})

    def settled() -> bool:
        started, done = ledger.started(), ledger.done()
        if any(n > 1 for n in started.values()):
            return True  # a job ran again: no need to wait for more
        nothing_running = all(n <= done.get(job, 0) for job, n in started.items())
        return nothing_running and server_counts(queue.client, queue.url) == (0, 0)

    wait_until(settled, 20, "every message deleted", poll=0.2)
    starts = sum(ledger.started().values())
    figures = Figures.of(list(ids.values()), ledger, starts=starts)
    report("(3) defaults, 2 jobs of 4 s, visibility 2 s", figures)
    assert figures.lost == 0
    assert ledger.started() == {"slow0": 1, "slow1": 1}, figures.line()


# -- (5) the visibility timeout cannot be read ------------------------------


def test_case5_an_unreadable_visibility_timeout_is_not_assumed(
    make_queue: MakeQueue,
    start_proxy: Callable[..., FaultProxy],
    spawn_worker: Spawn,
    ledger: Ledger,
    report: Report,
) -> None:
    """GetQueueAttributes denied; queue visibility 2 s; 4 jobs of 3 s at
    concurrency 4: while they run, another consumer never sees their
    messages (the worker asked for the visibility it assumed), and each job
    runs once."""
    queue = make_queue(visibility=2)
    proxy = start_proxy(
        Faults(deny_rate=1.0, actions=frozenset({"GetQueueAttributes"}))
    )
    worker = spawn_worker(
        queue,
        endpoint=proxy.endpoint_url,
        options={"concurrency": 4, "wait_seconds": 1},
    )
    ids = send_ids(queue, {f"v{i}": 3.0 for i in range(4)})
    seen_by_another: list[str] = []

    def all_done_watching() -> bool:
        # Another consumer looks (and leaves what it sees visible at once);
        # a job the worker had started by then must not be visible.
        started = set(ledger.started())
        for message in queue.client.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", []):
            job = ids.get(message["MessageId"], "?")
            if job in started:
                seen_by_another.append(job)
        return all(ledger.done().get(job) for job in ids.values())

    wait_until(all_done_watching, 20, "every job run", poll=0.2)
    wait_until(
        lambda: server_counts(queue.client, queue.url) == (0, 0),
        10,
        "every message deleted",
        poll=0.2,
    )
    figures = Figures.of(
        list(ids.values()), ledger, seen_by_another=len(seen_by_another)
    )
    report("(5) visibility unreadable (2 s), 4 jobs of 3 s, concurrency 4", figures)
    assert worker.alive(), worker.describe()
    assert proxy.by_action().get(("GetQueueAttributes", "deny")), "never denied"
    assert figures.lost == 0
    assert not seen_by_another, f"running jobs' messages visible: {seen_by_another}"
    assert figures.extra_runs == 0, figures.line()


# -- (6) SQS errors at start ----------------------------------------------------


def test_case6_a_brief_sqs_outage_at_start_does_not_end_the_worker(
    make_queue: MakeQueue,
    start_proxy: Callable[..., FaultProxy],
    spawn_worker: Spawn,
    ledger: Ledger,
    report: Report,
) -> None:
    """GetQueueUrl throttled or failing (5xx) for the first 8 s (longer than
    botocore's own three attempts last)."""
    queue = make_queue(visibility=30)
    proxy = start_proxy(
        Faults(
            throttle_rate=0.5,
            error_rate=0.5,
            actions=frozenset({"GetQueueUrl"}),
            seconds=8,
        )
    )
    worker = spawn_worker(
        queue, endpoint=proxy.endpoint_url, options={"wait_seconds": 1}
    )
    ids = send_ids(queue, {f"s{i}": 0 for i in range(5)})
    wait_until(
        lambda: (
            all(ledger.done().get(job) for job in ids.values()) or not worker.alive()
        ),
        20,
        "every job run (or the worker gone)",
        poll=0.2,
    )
    figures = Figures.of(
        list(ids.values()),
        ledger,
        start_faults=sum(
            n
            for (action, fate), n in proxy.by_action().items()
            if action == "GetQueueUrl" and fate != "forwarded"
        ),
    )
    report("(6) GetQueueUrl failing for 8 s at start", figures)
    assert worker.alive(), worker.describe()
    assert figures.lost == 0


# -- (7) failures are logged with the message id --------------------------------


def test_case7_an_unknown_job_is_logged_with_its_message_id(
    make_queue: MakeQueue, spawn_worker: Spawn
) -> None:
    queue = make_queue(visibility=30)
    worker = spawn_worker(queue, codec="json", options={"wait_seconds": 1})
    message_id = str(queue.jobs.add_job("no_such_job", job_id="x"))

    def failure_record() -> dict[str, Any] | None:
        for record in worker.log_records():
            if "no_such_job" in json.dumps(record) and record["level"] in (
                "ERROR",
                "WARNING",
            ):
                return record
        return None

    record = wait_until(failure_record, 10, "the unknown job logged")
    text = json.dumps(record)
    assert message_id in text, f"message id missing from {text}"
    assert queue.name in text, f"queue name missing from {text}"
