"""Wire compatibility with the released sqs-workers (0.7.3 from PyPI), both ways.

During a rolling upgrade producers and workers of both packages share queues,
so each side must process what the other sends. For each codec (``json``,
``pickle``, ``pickle_compat``) one module-scoped exchange:

1. our package sends jobs (``add_job``, ``AsyncTask.delay`` with positional
   arguments, both again inside ``add_batch()``, one outside any context), raw
   messages and FIFO jobs with ``_group_id``/``_deduplication_id``, with a
   context set (``with env.context(...)``), to the ``o2r_*`` queues;
2. ONE launch of ``released_peer.py`` in the released package's venv processes
   them with the released worker, reporting what its handlers received, and
   sends the same kinds of jobs to the ``r2o_*`` queues;
3. the tests process the ``r2o_*`` queues with our ``queue.process_batch()``
   and compare what the handlers got (kwargs and context, compared by value and
   by ``repr`` so that types must match too; FIFO group, deduplication id and
   order) with what was sent, and check that every queue ends up empty;
4. one job sent by each package to the same queue is compared on the wire:
   attributes, content type, encoding (pickle protocol) and decoded values.

Processors are registered with ``pass_context=True`` on both sides. The
workers' default codec differs from the jobs' one, so they must decode by each
message's ``ContentType``. Payloads hold non-ASCII text, nested dicts/lists,
ints (also past 2**53), floats and None; the pickle codecs also carry tuples,
bytes, datetimes, Decimals, non-string keys and frozensets.

Subprocesses: one venv check per session (plus the build, the first time) and
one peer launch per codec.
"""

from __future__ import annotations

import base64
import contextlib
import json
import pickle
import string
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest

from sqs_workers import (
    RawQueue,
    SQSEnv,
    create_fifo_queue,
    create_standard_queue,
)
from sqs_workers.codecs import CONTENT_TYPES_CODECS
from sqs_workers.context import SQSContext
from sqs_workers.processors import Processor

pytestmark = [
    pytest.mark.interop,
    # Building the released package's venv the first time (pip) can take a while.
    pytest.mark.timeout(900),
]

CODECS = ["json", "pickle", "pickle_compat"]
CONTEXT = {"remote_addr": "203.0.113.7", "request_id": "req-Zoë-42", "attempt": 1}
PROCESS_DEADLINE_SECONDS = 20.0

# Queue names, without the per-exchange prefix. o2r: ours sends, released
# processes; r2o: released sends, ours processes.
O2R_JOBS, R2O_JOBS = "o2r_jobs", "r2o_jobs"
O2R_FIFO, R2O_FIFO = "o2r_jobs.fifo", "r2o_jobs.fifo"
O2R_RAW, R2O_RAW = "o2r_raw", "r2o_raw"
WIRE = "wire"  # one job from each side, compared attribute by attribute

RAW_BODIES = [
    "plain ascii body",
    'Grüße, Zoë — 世界 🚀 <xml attr="1">&amp;</xml>\n\ttabbed',
    '{"json": ["as", "a", "raw", "body"], "n": 1}',
]


def other_codec(codec: str) -> str:
    """The workers' default codec: never the jobs' one."""
    return "pickle" if codec == "json" else "json"


def payload(codec: str, marker: str) -> dict[str, Any]:
    """Job kwargs exercising what each codec can carry."""
    kwargs: dict[str, Any] = {
        "marker": marker,
        "text": 'Grüße, Zoë — 世界 🚀 "quoted" <&> \\ backslash',
        "count": 42,
        "big": 2**62 + 1,
        "ratio": 0.1,
        "tiny": -7.5e-3,
        "nothing": None,
        "flag": False,
        "nested": {
            "list": [1, 2.5, None, {"deep": ["ä", True, []]}],
            "empty": {},
            "ünï": {"ints": [0, -1, 10**20]},
        },
    }
    if codec != "json":
        kwargs.update(
            tuple=(1, "ü", None),
            raw_bytes=b"\x00\xff\xfe",
            when=datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=timezone.utc),
            price=Decimal("19.99"),
            int_keys={1: "one", (2, 3): "pair"},
            ids=frozenset({3, 1, 2}),
        )
    return kwargs


@dataclass
class Job:
    """A job to send, and what the processing side's handler must get."""

    key: str  # identifies the job on arrival: store's "marker", greet's "name"
    # "store": store(context=None, **kwargs);
    # "greet": greet(name, payload, count=1, context=None)
    job: str
    via: str  # add_job | delay | batch_add_job | batch_delay
    kwargs: dict[str, Any]
    args: tuple[Any, ...] = ()
    context: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def expected_kwargs(self) -> dict[str, Any]:
        if self.job == "store":
            return self.kwargs
        bound = (
            dict(zip(["name", "payload", "count"], self.args, strict=False))
            | self.kwargs
        )
        return {
            "name": bound["name"],
            "payload": bound["payload"],
            "count": bound.get("count", 1),
        }

    def expected_context(self) -> dict[str, Any]:
        return dict(CONTEXT) if self.context else {}

    def to_plan(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "via": self.via,
            "kwargs": encode(self.kwargs),
            "args": encode(self.args),
            "context": self.context,
            "options": self.options,
        }


def standard_jobs(codec: str) -> list[Job]:
    return [
        Job("add_job", "store", "add_job", payload(codec, "add_job")),
        Job(
            "delay-Zoë",
            "greet",
            "delay",
            {"count": 3},
            args=("delay-Zoë", payload(codec, "delay-payload")),
        ),
        Job("batch-add_job", "store", "batch_add_job", payload(codec, "batch-add_job")),
        # count is left out: the worker's function default (1) fills it in.
        Job("batch-delay", "greet", "batch_delay", {}, args=("batch-delay", [1, "二"])),
        Job("no-context", "store", "add_job", {"marker": "no-context"}, context=False),
    ]


def fifo_jobs(codec: str) -> list[Job]:
    return [
        Job(
            "fifo-1",
            "store",
            "add_job",
            {"marker": "fifo-1", "step": 1, "text": "ü"},
            options={"_group_id": "order-42", "_deduplication_id": f"{codec}-d-1"},
        ),
        Job(
            "fifo-2",
            "greet",
            "delay",
            {"payload": {"step": 2}},
            args=("fifo-2",),
            options={"_group_id": "order-42", "_deduplication_id": f"{codec}-d-2"},
        ),
        # No _group_id: both packages put FIFO jobs in the group "default".
        Job(
            "fifo-default-group",
            "store",
            "add_job",
            {"marker": "fifo-default-group"},
            options={"_deduplication_id": f"{codec}-d-3"},
        ),
    ]


def wire_job(codec: str) -> Job:
    return Job("wire", "store", "add_job", payload(codec, "wire"))


def encode(value: Any) -> str:
    """Plain stdlib pickle as transport to/from the peer (not a package codec)."""
    return base64.b64encode(pickle.dumps(value)).decode("ascii")


def decode(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


# -- our side ---------------------------------------------------------------


class Ours:
    """Our package as sender and worker, mirroring released_peer.Peer."""

    def __init__(self, queue_prefix: str, codec: str) -> None:
        current = threading.local()
        self.current = current
        self.received: list[dict[str, Any]] = []
        self.tasks: dict[str, dict[str, Any]] = {}

        class RecordingProcessor(Processor):
            """Keeps the SQS message at hand for the handler to describe it."""

            def process_message(self, message: Any) -> Any:
                current.message = message
                try:
                    return super().process_message(message)
                finally:
                    current.message = None

        self.env = SQSEnv(
            session=boto3.Session(),
            queue_prefix=queue_prefix,
            codec=codec,
            processor_maker=RecordingProcessor,
            # The worker's own codec differs from the jobs' on purpose (a
            # message is decoded by its ContentType); it trusts every codec,
            # as a worker of the released package did.
            accept_content=sorted(CONTENT_TYPES_CODECS),
        )

    def record(self, job: str, kwargs: dict[str, Any], context: Any) -> None:
        assert isinstance(context, SQSContext), type(context)
        entry = {
            "job": job,
            "kwargs": kwargs,
            "kwargs_repr": repr(kwargs),
            "context": context.to_dict(),
        }
        entry.update(describe_message(self.current.message))
        self.received.append(entry)

    def job_queue(self, name: str) -> Any:
        queue = self.env.queue(name)
        if name not in self.tasks:

            @queue.processor("store", pass_context=True)
            def store(context: Any = None, **kwargs: Any) -> None:
                self.record("store", kwargs, context)

            @queue.processor("greet", pass_context=True)
            def greet(
                name: str, payload: Any, count: int = 1, context: Any = None
            ) -> None:
                kwargs = {"name": name, "payload": payload, "count": count}
                self.record("greet", kwargs, context)

            self.tasks[name] = {"store": store, "greet": greet}
        return queue

    def raw_queue(self, name: str) -> Any:
        queue = self.env.queue(name, queue_maker=RawQueue)

        @queue.raw_processor()
        def raw(message: Any) -> None:
            self.received.append({"body": message.body, **describe_message(message)})

        return queue

    def send(self, queue_name: str, jobs: list[Job]) -> list[Any]:
        queue = self.job_queue(queue_name)
        single = [j for j in jobs if not j.via.startswith("batch_")]
        batch = [j for j in jobs if j.via.startswith("batch_")]
        ids = [self.send_one(queue, job) for job in single]
        if batch:
            with queue.add_batch():
                ids.extend(self.send_one(queue, job) for job in batch)
        return ids

    def send_one(self, queue: Any, job: Job) -> Any:
        scope = self.env.context(**CONTEXT) if job.context else contextlib.nullcontext()
        with scope:
            if job.via.endswith("delay"):
                task = self.tasks[queue.name][job.job]
                return task.delay(*job.args, **job.options, **job.kwargs)
            return queue.add_job(job.job, **job.options, **job.kwargs)

    def send_raw(self, queue_name: str, bodies: list[str]) -> list[Any]:
        queue = self.env.queue(queue_name, queue_maker=RawQueue)
        return [queue.add_raw_job(body) for body in bodies]

    def process(self, queue: Any, expect: int) -> dict[str, Any]:
        self.received = []
        succeeded = failed = 0
        deadline = time.monotonic() + PROCESS_DEADLINE_SECONDS
        while (
            len(self.received) < expect and not failed and time.monotonic() < deadline
        ):
            result = queue.process_batch(wait_seconds=1)
            succeeded += result.succeeded_count()
            failed += result.failed_count()
        # One more look: anything beyond what was expected shows up here.
        result = queue.process_batch(wait_seconds=0)
        succeeded += result.succeeded_count()
        failed += result.failed_count()
        return {"received": self.received, "succeeded": succeeded, "failed": failed}

    def queue_url(self, name: str) -> str:
        sqs_name = self.env.get_sqs_queue_name(name)
        return str(self.env.sqs_client.get_queue_url(QueueName=sqs_name)["QueueUrl"])


def describe_message(message: Any) -> dict[str, Any]:
    attributes = dict(message.attributes or {})
    return {
        "message_id": message.message_id,
        "group_id": attributes.get("MessageGroupId"),
        "deduplication_id": attributes.get("MessageDeduplicationId"),
        "message_attributes": {
            name: {
                "DataType": value.get("DataType"),
                "StringValue": value.get("StringValue"),
            }
            for name, value in (message.message_attributes or {}).items()
        },
    }


# -- the exchange -------------------------------------------------------------


@dataclass
class Exchange:
    codec: str
    ours: Ours  # sends (default codec: the jobs' codec)
    worker: Ours  # processes (default codec: another one)
    peer: dict[str, Any]  # what the released package reported, per step
    sent_by_ours: dict[str, list[Any]]


@pytest.fixture(scope="module", params=CODECS)
def exchange(
    request: pytest.FixtureRequest, moto_server: str, run_released_peer: Any
) -> Iterator[Exchange]:
    codec = str(request.param)
    prefix = f"interop_{uuid.uuid4().hex[:8]}_{codec}_"
    ours = Ours(prefix, codec)
    worker = Ours(prefix, other_codec(codec))
    for name in (O2R_JOBS, R2O_JOBS, O2R_RAW, R2O_RAW, WIRE):
        create_standard_queue(ours.env, name)
    for name in (O2R_FIFO, R2O_FIFO):
        create_fifo_queue(ours.env, name)

    sent_by_ours = {
        O2R_JOBS: ours.send(O2R_JOBS, standard_jobs(codec)),
        O2R_FIFO: ours.send(O2R_FIFO, fifo_jobs(codec)),
        O2R_RAW: ours.send_raw(O2R_RAW, RAW_BODIES),
        WIRE: ours.send(WIRE, [wire_job(codec)]),
    }

    def send(queue: str, jobs: list[Job]) -> dict[str, Any]:
        plan_jobs = [job.to_plan() for job in jobs]
        return {"action": "send", "queue": queue, "context": CONTEXT, "jobs": plan_jobs}

    steps = {
        O2R_JOBS: {"action": "process", "queue": O2R_JOBS, "expect": 5},
        O2R_FIFO: {"action": "process", "queue": O2R_FIFO, "expect": 3},
        O2R_RAW: {"action": "process_raw", "queue": O2R_RAW, "expect": 3},
        R2O_JOBS: send(R2O_JOBS, standard_jobs(codec)),
        R2O_FIFO: send(R2O_FIFO, fifo_jobs(codec)),
        R2O_RAW: {"action": "send_raw", "queue": R2O_RAW, "bodies": RAW_BODIES},
        WIRE: send(WIRE, [wire_job(codec)]),
    }
    output = run_released_peer(
        {
            "queue_prefix": prefix,
            "codec": codec,
            "worker_codec": other_codec(codec),
            "steps": list(steps.values()),
        }
    )
    peer = dict(zip(steps, output["steps"], strict=True))
    peer["stderr"] = output["stderr"]
    yield Exchange(codec, ours, worker, peer, sent_by_ours)

    client = ours.env.sqs_client
    for name in steps:
        with contextlib.suppress(Exception):
            client.delete_queue(QueueUrl=ours.queue_url(name))


# -- checks -----------------------------------------------------------------


def by_key(received: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in received:
        key = entry["kwargs"].get("marker") or entry["kwargs"].get("name")
        assert key not in found, f"job {key!r} was handled twice"
        found[key] = entry
    return found


def check_handled(received: list[dict[str, Any]], jobs: list[Job]) -> None:
    """Each job reached its handler once, with exactly its kwargs and context."""
    found = by_key(received)
    assert sorted(found) == sorted(job.key for job in jobs)
    for job in jobs:
        got = found[job.key]
        want = job.expected_kwargs()
        assert got["job"] == job.job, job.key
        assert got["kwargs"] == want, job.key
        assert got["kwargs_repr"] == repr(want), f"{job.key}: types differ"
        assert got["context"] == job.expected_context(), job.key


def check_fifo_routing(received: list[dict[str, Any]], jobs: list[Job]) -> None:
    """Group and deduplication ids arrive as sent; order holds within a group."""
    found = by_key(received)
    for job in jobs:
        got = found[job.key]
        assert got["group_id"] == job.options.get("_group_id", "default"), job.key
        assert got["deduplication_id"] == job.options["_deduplication_id"], job.key
    order = [by_key([e]).popitem()[0] for e in received]
    assert order.index("fifo-1") < order.index("fifo-2"), order


def check_job_attributes(received: list[dict[str, Any]], codec: str) -> None:
    for entry in received:
        attrs = entry["message_attributes"]
        assert sorted(attrs) == ["ContentType", "JobContext", "JobName"], attrs
        assert {a["DataType"] for a in attrs.values()} == {"String"}, attrs
        assert attrs["ContentType"]["StringValue"] == codec
        assert attrs["JobName"]["StringValue"] == entry["job"]


def peer_received(exchange: Exchange, step: str) -> list[dict[str, Any]]:
    """The released handlers' reports, decoded (kwargs, context by value)."""
    received = []
    for entry in exchange.peer[step]["received"]:
        entry = dict(entry)
        if "kwargs" in entry:
            entry["kwargs"] = decode(entry["kwargs"])
            entry["context"] = decode(entry["context"])
            assert entry["context_type"] == "SQSContext", entry
            assert entry["context_repr"] == repr(entry["context"])
        received.append(entry)
    return received


def assert_queue_empty(ours: Ours, name: str) -> None:
    client = ours.env.sqs_client
    url = ours.queue_url(name)
    counts = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    assert set(counts.values()) == {"0"}, f"{name}: {counts}"
    left = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert not left.get("Messages"), f"{name}: {left['Messages']}"


def check_peer_processed(exchange: Exchange, step: str, expect: int) -> None:
    result = exchange.peer[step]
    assert (result["succeeded"], result["failed"]) == (expect, 0), (
        f"released worker on {step}: {result['succeeded']} ok, "
        f"{result['failed']} failed\n{exchange.peer['stderr'][-3000:]}"
    )


# -- released sends, ours processes -------------------------------------------


def test_released_jobs_processed_by_ours(exchange: Exchange) -> None:
    ours = exchange.worker
    jobs = standard_jobs(exchange.codec)
    result = ours.process(ours.job_queue(R2O_JOBS), expect=len(jobs))
    check_handled(result["received"], jobs)
    check_job_attributes(result["received"], exchange.codec)
    assert (result["succeeded"], result["failed"]) == (len(jobs), 0)
    assert_queue_empty(ours, R2O_JOBS)


def test_released_fifo_jobs_processed_by_ours(exchange: Exchange) -> None:
    ours = exchange.worker
    jobs = fifo_jobs(exchange.codec)
    result = ours.process(ours.job_queue(R2O_FIFO), expect=len(jobs))
    check_handled(result["received"], jobs)
    check_fifo_routing(result["received"], jobs)
    assert (result["succeeded"], result["failed"]) == (len(jobs), 0)
    assert_queue_empty(ours, R2O_FIFO)


def test_released_raw_processed_by_ours(exchange: Exchange) -> None:
    ours = exchange.worker
    result = ours.process(ours.raw_queue(R2O_RAW), expect=len(RAW_BODIES))
    assert sorted(e["body"] for e in result["received"]) == sorted(RAW_BODIES)
    assert (result["succeeded"], result["failed"]) == (len(RAW_BODIES), 0)
    assert_queue_empty(ours, R2O_RAW)


# -- ours sends, released processes -------------------------------------------


def test_ours_jobs_processed_by_released(exchange: Exchange) -> None:
    jobs = standard_jobs(exchange.codec)
    assert len(exchange.sent_by_ours[O2R_JOBS]) == len(jobs)
    received = peer_received(exchange, O2R_JOBS)
    check_handled(received, jobs)
    check_job_attributes(received, exchange.codec)
    check_peer_processed(exchange, O2R_JOBS, len(jobs))
    assert_queue_empty(exchange.ours, O2R_JOBS)


def test_ours_fifo_jobs_processed_by_released(exchange: Exchange) -> None:
    jobs = fifo_jobs(exchange.codec)
    received = peer_received(exchange, O2R_FIFO)
    check_handled(received, jobs)
    check_fifo_routing(received, jobs)
    check_peer_processed(exchange, O2R_FIFO, len(jobs))
    assert_queue_empty(exchange.ours, O2R_FIFO)


def test_ours_raw_processed_by_released(exchange: Exchange) -> None:
    received = peer_received(exchange, O2R_RAW)
    assert sorted(e["body"] for e in received) == sorted(RAW_BODIES)
    check_peer_processed(exchange, O2R_RAW, len(RAW_BODIES))
    assert_queue_empty(exchange.ours, O2R_RAW)


# -- the same job from each side, side by side ----------------------------------


def test_same_job_same_wire_format(exchange: Exchange) -> None:
    """The same job sent by each package: same attributes, same encoding.

    Decoded with the standard library (not with either package), following
    the documented wire format; the pickle protocol must match too.
    """
    ours, codec = exchange.ours, exchange.codec
    queue = ours.env.queue(WIRE)
    messages: list[Any] = []
    deadline = time.monotonic() + PROCESS_DEADLINE_SECONDS
    while len(messages) < 2 and time.monotonic() < deadline:
        messages += queue.get_raw_messages(wait_seconds=1)
    by_id = {m.message_id: m for m in messages}
    [ours_id] = exchange.sent_by_ours[WIRE]
    [released_id] = exchange.peer[WIRE]["message_ids"]
    assert sorted(by_id) == sorted([ours_id, released_id])
    sides = {"ours": by_id[ours_id], "released": by_id[released_id]}

    wire = {}
    for who, message in sides.items():
        attrs = describe_message(message)["message_attributes"]
        body, context = message.body, attrs["JobContext"]["StringValue"]
        wire[who] = {
            "attributes": {n: a["DataType"] for n, a in attrs.items()},
            "content_type": attrs["ContentType"]["StringValue"],
            "job_name": attrs["JobName"]["StringValue"],
            "kwargs_repr": repr(wire_decode(codec, body)),
            "context": wire_decode(codec, context),
            "encoding": (wire_encoding(codec, body), wire_encoding(codec, context)),
        }
    job = wire_job(codec)
    assert wire["ours"]["attributes"] == {
        "ContentType": "String",
        "JobContext": "String",
        "JobName": "String",
    }
    assert wire["ours"] == wire["released"]
    assert wire["ours"]["content_type"] == codec
    assert wire["ours"]["job_name"] == "store"
    assert wire["ours"]["kwargs_repr"] == repr(job.kwargs)
    assert wire["ours"]["context"] == CONTEXT
    if codec == "pickle_compat":
        assert wire["ours"]["encoding"] == ("pickle protocol 2",) * 2

    for message in sides.values():
        message.delete()
    assert_queue_empty(ours, WIRE)


URLSAFE_BASE64 = frozenset(string.ascii_letters + string.digits + "-_=")


def wire_decode(codec: str, text: str) -> Any:
    """The documented format: json.dumps, or pickle -> zlib -> urlsafe base64."""
    if codec == "json":
        return json.loads(text)
    assert set(text) <= URLSAFE_BASE64, text
    return pickle.loads(zlib.decompress(base64.urlsafe_b64decode(text)))


def wire_encoding(codec: str, text: str) -> str:
    if codec == "json":
        return "json"
    raw = zlib.decompress(base64.urlsafe_b64decode(text))
    assert raw[0] == pickle.PROTO[0], raw[:2]
    return f"pickle protocol {raw[1]}"
