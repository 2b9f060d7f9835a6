"""``worker``: a real process on the moto server (an app on the in-memory SQS
cannot share its queues with the test process)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import TIMEOUT, run_in_process, subprocess_env
from conftest_helpers import take_all
from moto_server import free_port, start_moto_server
from sqs_testing import wait_until

from sqs_workers import MemorySession, SQSEnv, create_standard_queue

APP = """
import os, time, logging
from pathlib import Path
from sqs_workers import SQSEnv

marks = Path(os.environ["MARKS"])
sqs = SQSEnv(queue_prefix=os.environ["SQS_WORKERS_QUEUE_PREFIX"])
log = logging.getLogger("app")

@sqs.processor("work", "job")
def job(n, sleep=0.0):
    (marks / f"started-{n}").touch()
    time.sleep(sleep)
    log.info("job %s done", n)
    (marks / f"done-{n}").touch()

@sqs.processor("other", "job")
def other(n):
    (marks / f"other-{n}").touch()

not_an_env = 42
"""


@pytest.fixture
def app(tmp_path: Path, moto_server: str, random_string: str) -> SQSEnv:
    (tmp_path / "cliapp.py").write_text(textwrap.dedent(APP))
    (tmp_path / "marks").mkdir()
    return SQSEnv(session=boto3.Session(), queue_prefix=f"w_{random_string}_")


def start_worker(app: SQSEnv, tmp_path: Path, *args: str, **env: str) -> Any:
    return subprocess.Popen(
        [sys.executable, "-m", "sqs_workers", "worker", "cliapp:sqs", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(app.queue_prefix, MARKS=str(tmp_path / "marks"), **env),
    )


def marks(tmp_path: Path, kind: str) -> set[int]:
    return {
        int(p.name.rsplit("-", 1)[1]) for p in (tmp_path / "marks").glob(f"{kind}-*")
    }


def test_worker_runs_jobs_and_logs_json(app: SQSEnv, tmp_path: Path) -> None:
    create_standard_queue(app, "work")
    for n in range(3):
        app.queue("work").add_job("job", n=n)
    process = start_worker(
        app,
        tmp_path,
        "work",
        "--wait",
        "1",
        "--idle-shutdown",
        "1",
        "--log-format",
        "json",
        "--log-jobs",
        "--cost-summary",
        "--price-per-million",
        "0.5",
    )
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert marks(tmp_path, "done") == {0, 1, 2}
    records = [json.loads(line) for line in err.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["message"] == "job 1 done" and r["logger"] == "app" for r in records)
    jobs = [r for r in records if r["logger"] == "sqs_workers.jobs"]
    assert len(jobs) == 3
    assert {r["outcome"] for r in jobs} == {"success"}
    assert all(r["queue_name"] == "work" and r["job_name"] == "job" for r in jobs)
    assert all(r["receive_count"] == 1 and r["duration"] >= 0 for r in jobs)
    assert len({r["message_id"] for r in jobs}) == 3
    assert take_all(app, "work") == []
    # --cost-summary: the worker's calls per action, and their total.
    costs = [r for r in records if r["logger"] == "sqs_workers.cost"]
    rows = {r["action"]: r for r in costs if "action" in r}
    assert rows["ReceiveMessage"]["calls"] >= 2  # the jobs' and the idle one
    assert rows["DeleteMessageBatch"]["billed_requests"] >= 1
    (total,) = [r for r in costs if "action" not in r]
    assert total["billed_requests"] == sum(r["billed_requests"] for r in rows.values())
    assert total["cost"] == total["billed_requests"] * 0.5 / 1e6


def test_sigterm_stops_the_worker_warmly_with_nothing_lost(
    app: SQSEnv, tmp_path: Path
) -> None:
    create_standard_queue(app, "work")
    with app.queue("work").add_batch():
        for n in range(8):
            app.queue("work").add_job("job", n=n, sleep=0.5)
    process = start_worker(app, tmp_path, "work", "--wait", "1", "--concurrency", "2")
    wait_until(lambda: marks(tmp_path, "started"), what="a job to start")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    started, done = marks(tmp_path, "started"), marks(tmp_path, "done")
    assert started == done  # running jobs finished within the grace period
    left = {json_n(m) for m in take_all(app, "work")}  # released at once
    assert left | done == set(range(8))
    assert not left & done


def json_n(message: Any) -> int:
    import pickle
    import zlib
    from base64 import urlsafe_b64decode

    return int(pickle.loads(zlib.decompress(urlsafe_b64decode(message.body)))["n"])


def test_several_queues_globs_and_the_endpoint_option(
    app: SQSEnv, tmp_path: Path, moto_server: str
) -> None:
    for name in ("work", "other", "work-dlq"):
        create_standard_queue(app, name)
    app.queue("work").add_job("job", n=1)
    app.queue("other").add_job("job", n=2)
    process = start_worker(
        app,
        tmp_path,
        "w*",
        "other",
        "--wait",
        "1",
        "--idle-shutdown",
        "1",
        # The app's own client would go to the first; --endpoint-url (from
        # the environment) is exported to it.
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        SQS_WORKERS_ENDPOINT_URL=moto_server,
    )
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert marks(tmp_path, "done") == {1}
    assert marks(tmp_path, "other") == {2}
    assert "Skipping work-dlq: no processor registered" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nomodule:sqs"], "cannot import 'nomodule'"),
        (["cliapp"], "APP must look like 'module:attribute'"),
        (["cliapp:missing"], "has no attribute 'missing'"),
        (["cliapp:not_an_env"], "is a int, not an SQSEnv"),
        (["cliapp:sqs", "nosuchqueue"], "no queue matches 'nosuchqueue'"),
        (["cliapp:sqs", "work"], "unknown queue 'work'"),
        (["cliapp:sqs", "--concurrency", "0"], "Invalid value for '--concurrency'"),
        (["cliapp:sqs", "--bogus"], "No such option"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    app: SQSEnv, tmp_path: Path, args: list[str], expected: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sqs_workers", "worker", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=subprocess_env(app.queue_prefix, MARKS=str(tmp_path / "marks")),
    )
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_a_queue_without_processors_is_refused(app: SQSEnv, tmp_path: Path) -> None:
    create_standard_queue(app, "work-dlq")
    done = subprocess.run(
        [sys.executable, "-m", "sqs_workers", "worker", "cliapp:sqs", "work-dlq"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=subprocess_env(app.queue_prefix, MARKS=str(tmp_path / "marks")),
    )
    assert done.returncode == 2
    assert "has no processor in cliapp:sqs (registered: work, other)" in done.stderr


def health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def test_health_is_503_when_the_sqs_server_is_gone(
    tmp_path: Path, random_string: str, moto_server: str
) -> None:
    server = start_moto_server()  # our own, to stop it
    try:
        session = boto3.Session()
        client = session.client("sqs", endpoint_url=server.endpoint_url)
        env = SQSEnv(sqs_client=client, queue_prefix=f"h_{random_string}_")
        create_standard_queue(env, "work")
        (tmp_path / "cliapp.py").write_text(textwrap.dedent(APP))
        (tmp_path / "marks").mkdir()
        port = free_port()
        process = start_worker(
            env,
            tmp_path,
            "work",
            "--wait",
            "1",
            "--health-port",
            str(port),
            "--health-stall",
            "2",
            AWS_ENDPOINT_URL=server.endpoint_url,
        )
        try:
            wait_until(lambda: health(port)[0] == 200, what="health 200")
            server.stop()
            status = wait_until(
                lambda: health(port)[0] == 503 and health(port), what="health 503"
            )
            assert status[1]["status"] == "stalled"
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=TIMEOUT)
    finally:
        server.stop()


def test_health_is_503_while_stopping(app: SQSEnv, tmp_path: Path) -> None:
    create_standard_queue(app, "work")
    app.queue("work").add_job("job", n=1, sleep=1.5)
    port = free_port()
    process = start_worker(
        app, tmp_path, "work", "--wait", "1", "--health-port", str(port)
    )
    wait_until(lambda: marks(tmp_path, "started"), what="the job to start")
    assert health(port)[0] == 200
    process.send_signal(signal.SIGTERM)
    assert wait_until(lambda: health(port)[1].get("status") == "stopping")
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert marks(tmp_path, "done") == {1}


def test_load_app_accepts_a_factory(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "factoryapp.py").write_text(
        "from sqs_workers import SQSEnv, MemorySession\n"
        "def make():\n    return SQSEnv(session=MemorySession())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run = run_in_process(
        MemorySession().client("sqs"), "", "worker", "factoryapp:make", input=None
    )
    assert run.exit_code == 2
    assert "registers no processors" in run.stderr


def metric(port: int, name: str, **labels: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return -1.0
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and line.split("}")[0] == f"{name}{{{wanted}":
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("processes", ["1", "2"])
def test_metrics_count_the_jobs_really_run(
    app: SQSEnv, tmp_path: Path, processes: str
) -> None:
    pytest.importorskip("prometheus_client")
    create_standard_queue(app, "work")
    with app.queue("work").add_batch():
        for n in range(4):
            app.queue("work").add_job("job", n=n)
    port = free_port()
    process = start_worker(
        app,
        tmp_path,
        "work",
        "--wait",
        "1",
        "--metrics-port",
        str(port),
        "--processes",
        processes,
    )
    try:
        labels = {"queue": "work", "job": "job", "outcome": "succeeded"}
        wait_until(
            lambda: metric(port, "sqs_workers_jobs_total", **labels) == 4,
            what="4 succeeded jobs in the metrics",
        )
        assert marks(tmp_path, "done") == {0, 1, 2, 3}
        sqs_name = app.get_sqs_queue_name("work")
        assert (
            metric(
                port,
                "sqs_workers_sqs_requests_total",
                action="ReceiveMessage",
                queue=sqs_name,
            )
            >= 1
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
