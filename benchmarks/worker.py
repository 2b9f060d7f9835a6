"""Worker engine benchmarks: figures printed beside a baseline from the same run.

    python benchmarks/worker.py            # all (the 1M-job RSS run takes a while)
    python benchmarks/worker.py --quick    # smaller N everywhere
    python benchmarks/worker.py --only moto,sleepers

Sections (each prints its figure, its baseline and the target):

- ``moto``: no-op jobs drained from a moto server by our worker vs the best
  plain boto3 consumer (receive 10 / delete batch 10, in 1 and in 4 threads);
  and ``add_batch()`` vs a plain ``send_message_batch`` loop. Stock moto
  slows down with queue depth (it reads the clock once per stored message on
  every call), so the queue is kept shallow: each round fills it with a small
  chunk (untimed), then times the drain; rounds alternate between consumers.
- ``sleepers``: handlers sleeping 50 ms, 64 threads and 512 async, in memory,
  as a share of the ideal concurrency / 50 ms.
- ``calls``: SQS calls per job, by action, at steady load (a producer
  batching with ``add_batch()`` while the worker consumes), in memory.
- ``released``: enqueue + process of no-op jobs in memory, ours vs the
  released sqs-workers 0.7.3 (own virtualenv under /tmp, subprocess; the same
  script runs in both interpreters).
- ``rss``: RSS growth of one worker over 1,000,000 in-memory jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402
from common import plain_delete, plain_receive, queue_noops  # noqa: E402

from sqs_workers import MemorySession, SQSEnv, create_standard_queue  # noqa: E402
from sqs_workers.worker import Worker  # noqa: E402

RELEASED = "0.7.3"
# The round trip the "roundtrip" section adds to every call (--latency-ms).
LATENCY_MS = 15.0


def line(name: str, ours: float, base: float, unit: str, target: str) -> None:
    ratio = ours / base if base else float("inf")
    print(
        f"  {name:<44} ours {ours:>10.4g} {unit:<7} baseline {base:>10.4g}  "
        f"ratio {ratio:5.2f}  (target {target})",
        flush=True,
    )


def figure(name: str, value: float, unit: str, target: str) -> None:
    """A figure whose target is absolute (no baseline to compare with)."""
    print(f"  {name:<44} ours {value:>10.4g} {unit:<7} (target {target})", flush=True)


def wait_for(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.0005)


# -- moto ------------------------------------------------------------------------


class Deletes:
    """Counts messages really deleted (successful DeleteMessageBatch entries),
    and the calls made, by action."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        self._waiting: list[int] = []  # the counts waiters wait to pass
        client.meta.events.register("after-call.sqs.DeleteMessageBatch", self._seen)
        client.meta.events.register("before-call.sqs.*", self._call)

    def _call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    def _seen(self, parsed: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.count += len(parsed.get("Successful", ()))
            # Wake a waiter only once its count is passed: woken per batch,
            # it would cost the consumer a GIL hand-over per delete call,
            # which the plain consumers (joined, not waited on) do not pay.
            if self._waiting and self.count > min(self._waiting):
                self.changed.notify_all()

    def wait_above(self, count: int, timeout: float = 1.0) -> None:
        """Block until more than ``count`` messages were deleted (or timeout)."""
        with self._lock:
            if self.count <= count:
                self._waiting.append(count)
                try:
                    self.changed.wait(timeout)
                finally:
                    self._waiting.remove(count)


class Meter:
    """What one consumer run cost, over exactly its timed window: wall time,
    this process's CPU, and (given their pids) the SQS server's and the
    round-trip proxy's CPU."""

    def __init__(
        self, server_pid: int | None = None, proxy_pid: int | None = None
    ) -> None:
        self._pids = (server_pid, proxy_pid)
        self.elapsed = self.cpu = self.server_cpu = self.proxy_cpu = 0.0

    def _now(self) -> tuple[float, ...]:
        others = (proc_cpu(pid) if pid else 0.0 for pid in self._pids)
        return time.perf_counter(), time.process_time(), *others

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> float:
        end = self._now()
        self.elapsed, self.cpu, self.server_cpu, self.proxy_cpu = (
            b - a for a, b in zip(self._start, end, strict=True)
        )
        return self.elapsed


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plain_consumer(
    client: Any, url: str, total: int, threads: int, meter: Meter | None = None
) -> float:
    """The best a hand-written boto3 loop does: receive 10, delete batch 10."""
    done = [0]
    lock = threading.Lock()

    def consume() -> None:
        while done[0] < total:
            messages = plain_receive(client, url)
            if not messages:
                continue
            plain_delete(client, url, messages)
            with lock:
                done[0] += len(messages)

    meter = meter or Meter()
    meter.start()
    workers = [threading.Thread(target=consume) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return meter.stop()


def our_consumer(
    queue: Any, deletes: Deletes, total: int, meter: Meter | None = None, **options: Any
) -> float:
    worker = Worker(queue, wait_seconds=1, **options)
    before = deletes.count
    meter = meter or Meter()
    meter.start()
    thread = threading.Thread(target=worker.run)
    thread.start()
    # Woken by the deletes themselves: a polling loop here would cost this
    # process CPU (and GIL switches) the plain consumers do not pay.
    deadline = time.monotonic() + 120
    while deletes.count - before < total:
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        deletes.wait_above(before + total - 1)
    elapsed = meter.stop()
    worker.stop(wait=30)  # untimed: waits out the last long poll
    thread.join()
    return elapsed


def bench_moto(quick: bool) -> None:
    from moto_server import start_moto_server

    server = start_moto_server()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": server.endpoint_url,
        }
    )
    try:
        _bench_moto(quick)
    finally:
        server.stop()


def _bench_moto(quick: bool) -> None:
    total, rounds = (300, 1) if quick else (400, 6)
    env = SQSEnv(session=boto3.Session(), queue_prefix=f"bench_{uuid.uuid4().hex[:6]}_")
    create_standard_queue(env, "drain", visibility_timeout=60)
    queue = env.queue("drain")

    @queue.processor("noop")
    def noop(n: int) -> None:
        pass

    client = boto3.client("sqs", config=BotoConfig(max_pool_connections=64))
    url = queue.get_queue_url()
    deletes = Deletes(queue.client)
    plain_deletes = Deletes(client)

    consumers: dict[str, tuple[Deletes, Callable[[], float]]] = {
        "boto3 1 thread": (
            plain_deletes,
            lambda: plain_consumer(client, url, total, 1),
        ),
        "boto3 4 threads": (
            plain_deletes,
            lambda: plain_consumer(client, url, total, 4),
        ),
        "ours (default options)": (
            deletes,
            lambda: our_consumer(queue, deletes, total),
        ),
        "ours (concurrency=4)": (
            deletes,
            lambda: our_consumer(queue, deletes, total, concurrency=4),
        ),
        "ours (prefetch=10, ack_delay=0.01)": (
            deletes,
            lambda: our_consumer(queue, deletes, total, prefetch=10, ack_delay=0.01),
        ),
    }
    times: Counter[str] = Counter()
    receives: Counter[str] = Counter()
    for _ in range(rounds):
        for name, (counter, consume) in consumers.items():
            before = counter.calls["ReceiveMessage"]
            feeder = Feeder(env, noop, counter, total)
            times[name] += consume()
            feeder.join()
            receives[name] += counter.calls["ReceiveMessage"] - before
    rate = {name: total * rounds / seconds for name, seconds in times.items()}
    print(
        f"moto server, no-op jobs: {rounds} x {total} jobs per consumer; a feeder "
        f"thread (add_batch, 10 at a time) keeps at most {WINDOW} messages stored "
        "(visible + in flight), since stock moto slows with depth"
    )
    for name, value in rate.items():
        per_job = receives[name] / (total * rounds)
        print(f"  {name:<48} {value:6.0f} jobs/s  {per_job:.3f} receives/job")
    best_plain = max(rate["boto3 1 thread"], rate["boto3 4 threads"])
    best_ours = max(rate[name] for name in rate if name.startswith("ours"))
    line(
        "drain: our worker vs best boto3 consumer",
        best_ours,
        best_plain,
        "jobs/s",
        ">= 0.95",
    )
    line(
        "drain: default options vs best boto3",
        rate["ours (default options)"],
        best_plain,
        "jobs/s",
        "informative",
    )
    bench_enqueue(env, client, 2 if quick else 6)


WINDOW = 40


class Feeder:
    """Keeps the queue shallow: sends 10 more whenever fewer than WINDOW are stored."""

    def __init__(self, env: Any, task: Any, deletes: Deletes, total: int) -> None:
        self._task, self._deletes, self._total = task, deletes, total
        self._base = deletes.count
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        sent = 0
        while sent < self._total:
            stored = sent - (self._deletes.count - self._base)
            if stored > WINDOW - 10:  # wait for deletes, without polling
                self._deletes.wait_above(self._base + sent - (WINDOW - 10))
                continue
            with self._task.batch():
                for n in range(10):
                    self._task.delay(n=n)
            sent += 10

    def join(self) -> None:
        self._thread.join()


def bench_enqueue(env: Any, client: Any, rounds: int) -> None:
    from sqs_workers import codecs

    chunk = 50  # per fresh queue: stock moto's sends slow down with depth
    codec = codecs.get_codec("pickle_compat")
    context = codec.serialize({})

    def ours(name: str) -> float:
        create_standard_queue(env, name)
        queue = env.queue(name)
        task = queue.connect_processor("noop", lambda n: None)
        queue.get_queue_url()  # looked up once, untimed (the plain loop has it too)
        start = time.perf_counter()
        with queue.add_batch():
            for n in range(chunk):
                task.delay(n=n)
        return time.perf_counter() - start

    def plain(name: str) -> float:
        url = client.create_queue(QueueName=env.get_sqs_queue_name(name))["QueueUrl"]
        start = time.perf_counter()
        entries: list[dict[str, Any]] = []
        for n in range(chunk):
            entries.append(
                {
                    "Id": str(len(entries)),
                    "MessageBody": codec.serialize({"n": n}),
                    "MessageAttributes": {
                        "JobName": {"DataType": "String", "StringValue": "noop"},
                        "ContentType": {
                            "DataType": "String",
                            "StringValue": "pickle_compat",
                        },
                        "JobContext": {"DataType": "String", "StringValue": context},
                    },
                }
            )
            if len(entries) == 10:
                client.send_message_batch(QueueUrl=url, Entries=entries)
                entries = []
        if entries:
            client.send_message_batch(QueueUrl=url, Entries=entries)
        return time.perf_counter() - start

    times: Counter[str] = Counter()
    for i in range(rounds):
        for name, send in (("ours", ours), ("plain", plain)):
            times[name] += send(f"enqueue_{name}_{i}")
    jobs = chunk * rounds
    print(f"moto server, enqueue: {rounds} rounds of {chunk} jobs, each to a new queue")
    line(
        "enqueue: add_batch() vs send_message_batch loop",
        jobs / times["ours"],
        jobs / times["plain"],
        "jobs/s",
        ">= 0.95",
    )


# -- in memory -----------------------------------------------------------------------


def memory_queue(name: str = "q") -> Any:
    env = SQSEnv(session=MemorySession(), queue_prefix="bench_")
    create_standard_queue(env, name, visibility_timeout=60)
    return env.queue(name)


def run_until(queue: Any, done: list[int], total: int, **options: Any) -> float:
    worker = Worker(queue, wait_seconds=1, **options)
    start = time.perf_counter()
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_for(lambda: done[0] >= total)
    elapsed = time.perf_counter() - start
    worker.stop(wait=30)
    thread.join()
    return elapsed


def bench_sleepers(quick: bool) -> None:
    rounds = 20 if quick else 80
    print(f"in memory, handlers sleeping 50 ms ({rounds} rounds of the concurrency)")
    for concurrency, kind in ((64, "threads"), (512, "async")):
        queue = memory_queue()
        done = [0]
        if kind == "threads":

            @queue.processor("sleep")
            def sleep_sync(n: int, done: list[int] = done) -> None:
                time.sleep(0.05)
                done[0] += 1

            task: Any = sleep_sync
        else:

            @queue.processor("sleep")
            async def sleep_async(n: int, done: list[int] = done) -> None:
                await asyncio.sleep(0.05)
                done[0] += 1

            task = sleep_async
        total = concurrency * rounds
        with queue.add_batch():
            for n in range(total):
                task.delay(n=n)
        elapsed = run_until(queue, done, total, concurrency=concurrency)
        ideal = concurrency / 0.05
        line(
            f"sleep 50 ms, concurrency {concurrency} ({kind}), % of ideal",
            100 * total / elapsed / ideal,
            100.0,
            "%",
            ">= 90%",
        )


def bench_calls(quick: bool) -> None:
    total = 20_000 if quick else 100_000
    queue = memory_queue()
    done = [0]

    @queue.processor("noop")
    def noop(n: int) -> None:
        done[0] += 1

    calls: Counter[str] = Counter()
    queue.client.meta.events.register(
        "before-call.sqs.*", lambda model, **_: calls.update([model.name])
    )
    stop = threading.Event()

    def produce() -> None:  # keep ~1000 jobs ahead of the worker
        sent = 0
        while sent < total and not stop.is_set():
            if sent - done[0] > 1000:
                time.sleep(0.001)
                continue
            with queue.add_batch():
                for n in range(min(200, total - sent)):
                    noop.delay(n=n)
            sent += min(200, total - sent)

    producer = threading.Thread(target=produce)
    producer.start()
    run_until(queue, done, total, concurrency=8)
    stop.set()
    producer.join()
    produced = calls["SendMessageBatch"] + calls["SendMessage"]
    consumer = sum(calls.values()) - produced
    print(
        f"in memory, steady load: a producer (add_batch, 200 at a time) "
        f"{total} jobs ahead of a concurrency-8 worker; calls per job by action:"
    )
    for action, count in sorted(calls.items()):
        print(f"  {action:<44} {count / total:.4f}")
    figure("consumer calls per job", consumer / total, "calls", "<= 0.2")
    figure(
        "consumer + batching producer calls per job",
        sum(calls.values()) / total,
        "calls",
        "<= 0.3",
    )


RELEASED_SCRIPT = """
import json, sys, time
from sqs_workers import MemorySession, SQSEnv, create_standard_queue
from sqs_workers.shutdown_policies import IdleShutdown
total = int(sys.argv[1])
env = SQSEnv(session=MemorySession())
create_standard_queue(env, "bench")
queue = env.queue("bench")
done = [0]

@queue.processor("noop")
def noop(n):
    done[0] += 1

start = time.perf_counter()
with queue.add_batch():
    for n in range(total):
        noop.delay(n=n)
queue.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
elapsed = time.perf_counter() - start
assert done[0] >= total, done[0]
print(json.dumps({"jobs_per_second": total / elapsed}))
"""


def released_python() -> Path:
    """The released package's interpreter: the interop tests' venv, or a new one."""
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    shared = Path(
        os.environ.get(
            "SQS_WORKERS_INTEROP_VENV",
            Path(tempfile.gettempdir()) / f"sqs-workers-{RELEASED}-venv-{tag}",
        )
    )
    for venv in (
        shared,
        Path(tempfile.gettempdir()) / f"sqs-workers-{RELEASED}-bench-{tag}",
    ):
        python = venv / "bin" / "python"
        if python.exists() and _imports_released(python):
            return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            f"sqs-workers=={RELEASED}",
            "typing_extensions",
        ],
        check=True,
    )
    return python


def _imports_released(python: Path) -> bool:
    probe = subprocess.run(
        [str(python), "-c", "import sqs_workers, sys; print(sqs_workers.__file__)"],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        env=_clean_env(),
    )
    return probe.returncode == 0 and "site-packages" in probe.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env.update(extra)
    return env


def run_script(python: str, total: int, pythonpath: str | None) -> float:
    extra = {"PYTHONPATH": pythonpath} if pythonpath else {}
    out = subprocess.run(
        [python, "-c", RELEASED_SCRIPT, str(total)],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        env=_clean_env(**extra),
        check=True,
        timeout=1800,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["jobs_per_second"])


def bench_released(quick: bool) -> None:
    python = released_python()
    print(
        f"in memory, enqueue (add_batch) + process_queue of no-op jobs; the same "
        f"script in two interpreters (ours; {RELEASED} from {python.parent.parent})"
    )
    for total in (1_000, 10_000) if quick else (1_000, 10_000, 50_000):
        ours = run_script(sys.executable, total, str(REPO))
        theirs = run_script(str(python), total, None)
        line(
            f"N={total}: ours vs released {RELEASED}", ours, theirs, "jobs/s", ">= 10x"
        )
    print(
        "  (the released in-memory queue scans every stored message on each "
        "receive, so its rate falls as N grows)"
    )


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    return 0.0


def bench_rss(quick: bool) -> None:
    total = 200_000 if quick else 1_000_000
    queue = memory_queue()
    done = [0]

    @queue.processor("noop")
    def noop(n: int) -> None:
        done[0] += 1

    samples: list[tuple[int, float]] = []

    def produce() -> None:
        sent = 0
        while sent < total:
            if sent - done[0] > 5000:
                time.sleep(0.001)
                continue
            with queue.add_batch():
                for n in range(1000):
                    noop.delay(n=n)
            sent += 1000
            if sent % (total // 20) == 0:
                samples.append((done[0], rss_mib()))

    producer = threading.Thread(target=produce)
    producer.start()
    elapsed = run_until(queue, done, total, concurrency=8)
    producer.join()
    warm = samples[1][1] if len(samples) > 1 else samples[0][1]
    end = rss_mib()
    print(
        f"in memory, {total} no-op jobs (producer 5000 ahead, concurrency 8) in "
        f"{elapsed:.0f}s; RSS at 10%: {warm:.1f} MiB, at the end: {end:.1f} MiB"
    )
    figure("RSS growth after warm-up", end - warm, "MiB", "<= 10 MiB")


# -- round trips -------------------------------------------------------------------

# Messages stored at most while a round-trip run drains: stock moto spends
# ~15 ms of CPU per call on a near-empty queue and ~0.2 ms more per stored
# message, so a deeper queue would measure moto, not the consumers.
RT_WINDOW = 50


def start_proxy(upstream: str, latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    """tests/faults/proxy.py in its own process (it must not share our GIL)."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "tests" / "faults" / "proxy.py"),
            "--upstream",
            upstream,
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


class RtFeeder:
    """Keeps at most ``window`` messages stored, sending straight to the
    server (not through the proxy: the producer is not what is measured), and
    reports the CPU its own thread used so it can be taken off the
    consumer's. ``window=None``: queues all ``total`` before returning (the
    clock has not started yet), so it costs the drain nothing."""

    def __init__(
        self, task: Any, deletes: Deletes, total: int, window: int | None = RT_WINDOW
    ) -> None:
        self._task, self._deletes, self._total = task, deletes, total
        self._window = window
        self._base = deletes.count
        self.cpu = 0.0
        self._thread = threading.Thread(target=self._feed, daemon=True)
        if window is None:
            self._send(total)
        else:
            self._thread.start()

    def _feed(self) -> None:
        assert self._window is not None
        start = time.thread_time()
        sent = 0
        while sent < self._total:
            stored = sent - (self._deletes.count - self._base)
            if stored > self._window - 10:
                self._deletes.wait_above(self._base + sent - (self._window - 10))
                continue
            self._send(10)
            sent += 10
        self.cpu = time.thread_time() - start

    def _send(self, count: int) -> None:
        with self._task.batch():
            for n in range(count):
                self._task.delay(n=n)

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# What the README's "High-rate queues" recommends for a queue that is always
# deep: receivers fixed at 8, handlers inline (concurrency 1, the default).
RECOMMENDED = "ours, receivers=8"


def bench_roundtrip(quick: bool, latency_ms: float | None = None) -> None:
    """No-op jobs through a loopback proxy holding each call ``latency_ms``,
    against moto, then against the in-memory SQS served over HTTP (a server
    that is not the bottleneck), then the engine alone."""
    from memory_server import MemoryServer
    from moto_server import start_moto_server

    latency = LATENCY_MS if latency_ms is None else latency_ms
    for start_server, window in ((start_moto_server, RT_WINDOW), (MemoryServer, None)):
        server = start_server()
        proxy: subprocess.Popen[str] | None = None
        endpoint = server.endpoint_url
        if latency > 0:
            proxy, endpoint = start_proxy(server.endpoint_url, latency)
        try:
            proxy_pid = proxy.pid if proxy is not None else None
            _bench_roundtrip(quick, latency, server, endpoint, window, proxy_pid)
        finally:
            if proxy is not None:
                proxy.terminate()
                proxy.wait(10)
            server.stop()
    if latency:
        bench_rt_memory(quick, latency)


def _bench_roundtrip(
    quick: bool,
    latency: float,
    server: Any,
    endpoint: str,
    window: int | None,
    proxy_pid: int | None,
) -> None:
    """``window``: at most that many messages stored while a consumer drains
    (a feeder tops the queue up); None: all of them queued before the clock
    starts (a server whose cost does not grow with depth)."""
    if window is None:
        total, rounds = (1000, 1) if quick else (3000, 3)
    else:
        total, rounds = (300, 1) if quick else (600, 3)
    session = boto3.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    )
    config = BotoConfig(max_pool_connections=64)
    direct = session.client("sqs", endpoint_url=server.endpoint_url, config=config)
    prefix = f"rt_{uuid.uuid4().hex[:6]}_"
    feed_env = SQSEnv(session=session, sqs_client=direct, queue_prefix=prefix)
    create_standard_queue(feed_env, "drain", visibility_timeout=60)
    feed_task = feed_env.queue("drain").connect_processor("noop", lambda n: None)

    def consumer_queue() -> tuple[Any, Deletes]:
        client = session.client("sqs", endpoint_url=endpoint, config=config)
        env = SQSEnv(session=session, sqs_client=client, queue_prefix=prefix)
        queue = env.queue("drain")
        queue.connect_processor("noop", lambda n: None)
        return queue, Deletes(client)

    plain_client = session.client("sqs", endpoint_url=endpoint, config=config)
    plain_deletes = Deletes(plain_client)
    url = direct.get_queue_url(QueueName=prefix + "drain")["QueueUrl"]

    meter = Meter(server.process.pid, proxy_pid)

    def ours(**options: Any) -> tuple[Deletes, Callable[[], float]]:
        queue, deletes = consumer_queue()
        return deletes, lambda: our_consumer(queue, deletes, total, meter, **options)

    consumers: dict[str, tuple[Deletes, Callable[[], float]]] = {
        "boto3 loop, 1 thread": (
            plain_deletes,
            lambda: plain_consumer(plain_client, url, total, 1, meter),
        ),
        "boto3 loops, 4 threads": (
            plain_deletes,
            lambda: plain_consumer(plain_client, url, total, 4, meter),
        ),
        # One process's ceiling through botocore: past ~8 threads the GIL's
        # hand-overs (one per socket call) limit it, not the CPU or server.
        "boto3 loops, 16 threads": (
            plain_deletes,
            lambda: plain_consumer(plain_client, url, total, 16, meter),
        ),
        "ours, defaults": ours(),
        **{f"ours, receivers={n}": ours(receivers=n) for n in (1, 2, 4, 8)},
        "ours, receivers=4, concurrency=4": ours(receivers=4, concurrency=4),
    }
    samples: dict[str, list[tuple[float, ...]]] = {name: [] for name in consumers}
    for _ in range(rounds):
        for name, (counter, consume) in consumers.items():
            calls_before = sum(counter.calls.values())
            feeder = RtFeeder(feed_task, counter, total, window)
            elapsed = consume()
            calls = sum(counter.calls.values()) - calls_before
            feeder.join()
            busy = meter.server_cpu / elapsed
            proxy_busy = meter.proxy_cpu / elapsed
            cpu = meter.cpu - feeder.cpu
            samples[name].append(
                (
                    total / elapsed,
                    busy,
                    proxy_busy,
                    cpu / total,
                    calls / total,
                    cpu / elapsed,
                )
            )
    where = f"{latency:g} ms per call (loopback proxy)" if latency else "loopback"
    stored = (
        f"a feeder keeps <= {window} messages stored"
        if window
        else "all queued before each drain"
    )
    name = getattr(server, "description", "moto server")
    print(
        f"{name} at {where}, no-op jobs: {rounds} interleaved rounds "
        f"x {total} jobs per consumer, medians; {stored}. busy: the server's CPU "
        "share (one core = 100%); proxy: the proxy's; cpu/job: this process's "
        "CPU less the feeder's; client: that CPU in cores"
    )
    rates: dict[str, float] = {}
    for name, runs in samples.items():
        rate, busy, proxy_busy, cpu, calls, cores = (
            median([r[i] for r in runs]) for i in range(6)
        )
        rates[name] = rate
        print(
            f"  {name:<36} {rate:6.0f} jobs/s  busy {100 * busy:3.0f}%  "
            f"proxy {100 * proxy_busy:3.0f}%  cpu/job {1e6 * cpu:4.0f} µs  "
            f"client {cores:4.2f}  calls/job {calls:.3f}"
        )
    base = rates["boto3 loops, 4 threads"]
    line(
        "recommended (receivers=8) vs 4 boto3 loops",
        rates[RECOMMENDED],
        base,
        "jobs/s",
        ">= 1.2" if latency else ">= 0.95",
    )
    line(
        "defaults vs 4 boto3 loops",
        rates["ours, defaults"],
        base,
        "jobs/s",
        ">= 0.8" if latency else ">= 0.95",
    )
    line(
        "receivers=8 vs 16 boto3 loops (one process's ceiling)",
        rates["ours, receivers=8"],
        rates["boto3 loops, 16 threads"],
        "jobs/s",
        "(reference)",
    )
    bench_rt_sleepers(quick, feed_task, consumer_queue, latency, window)


def bench_rt_sleepers(
    quick: bool,
    feed_task: Any,
    consumer_queue: Callable[[], tuple[Any, Deletes]],
    latency: float,
    window: int | None,
) -> None:
    total = 400 if quick else 2000
    queue, deletes = consumer_queue()
    queue.connect_processor("noop", lambda n: time.sleep(0.05))
    feeder = RtFeeder(feed_task, deletes, total, window)
    elapsed = our_consumer(queue, deletes, total, concurrency=10)
    feeder.join()
    ideal = 10 / 0.05
    line(
        f"{total} jobs sleeping 50 ms, concurrency 10, % of ideal",
        100 * total / elapsed / ideal,
        100.0,
        "%",
        ">= 90%",
    )


def bench_rt_memory(quick: bool, latency: float) -> None:
    """The engine alone at the same round trip: the in-memory SQS with every
    call held ``latency`` ms by a client hook (no server to saturate)."""
    from sqs_faults import FaultInjector

    total, rounds = (2000, 1) if quick else (3000, 3)

    def deep_queue() -> tuple[Any, threading.Event]:
        queue = memory_queue()
        _, finished = queue_noops(queue, total)
        FaultInjector(queue.client, rate=0.0, latency=latency / 1000)
        return queue, finished

    def plain(threads: int) -> tuple[float, float]:
        queue, _ = deep_queue()
        meter = Meter()
        plain_consumer(queue.client, queue.get_queue_url(), total, threads, meter)
        return meter.elapsed, meter.cpu

    def ours(**options: Any) -> tuple[float, float]:
        queue, finished = deep_queue()
        worker = Worker(queue, wait_seconds=1, **options)
        meter = Meter()
        meter.start()
        thread = threading.Thread(target=worker.run)
        thread.start()
        if not finished.wait(120):
            raise TimeoutError("benchmark condition not reached")
        meter.stop()
        worker.stop(wait=30)
        thread.join()
        return meter.elapsed, meter.cpu

    consumers: dict[str, Callable[[], tuple[float, float]]] = {
        "boto3 loops, 4 threads": lambda: plain(4),
        "ours, defaults": ours,
        **{
            f"ours, receivers={n}": (lambda n=n: ours(receivers=n))  # type: ignore[misc]
            for n in (1, 2, 4, 8)
        },
        "ours, receivers=4, concurrency=4": lambda: ours(receivers=4, concurrency=4),
    }
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in consumers}
    for _ in range(rounds):
        for name, consume in consumers.items():
            runs[name].append(consume())
    print(
        f"in memory, every call held {latency:g} ms by a client hook (the engine "
        f"alone): {rounds} interleaved rounds x {total} queued no-op jobs, medians"
    )
    rates = {}
    for name, samples in runs.items():
        rates[name] = total / median([e for e, _ in samples])
        cpu = median([c for _, c in samples]) / total
        print(f"  {name:<44} {rates[name]:7.0f} jobs/s  cpu/job {1e6 * cpu:5.0f} µs")
    line(
        "recommended (receivers=8) vs 4 boto3 loops (engine alone)",
        rates[RECOMMENDED],
        rates["boto3 loops, 4 threads"],
        "jobs/s",
        ">= 1.2",
    )
    line(
        "defaults vs 4 boto3 loops (engine alone)",
        rates["ours, defaults"],
        rates["boto3 loops, 4 threads"],
        "jobs/s",
        ">= 0.8",
    )


SECTIONS: dict[str, Callable[[bool], None]] = {
    "moto": bench_moto,
    "roundtrip": bench_roundtrip,
    "sleepers": bench_sleepers,
    "calls": bench_calls,
    "released": bench_released,
    "rss": bench_rss,
}


def main() -> None:
    global LATENCY_MS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller N everywhere")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help="comma-separated sections"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=LATENCY_MS,
        help="roundtrip section: ms each call is held (0: straight to moto)",
    )
    args = parser.parse_args()
    LATENCY_MS = args.latency_ms
    version = sys.version.split()[0]
    print(f"python {version}, {os.cpu_count()} cores, boto3 {boto3.__version__}")
    for name in args.only.split(","):
        print(f"\n[{name}]", flush=True)
        SECTIONS[name](args.quick)


if __name__ == "__main__":
    main()
