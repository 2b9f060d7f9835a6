"""``worker MODULE:ATTR [QUEUE|GLOB ...]``: run an app's queues from the shell."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import click

from sqs_workers.cli.common import BadInput, Connection, Failure, is_glob, match_names
from sqs_workers.shutdown_policies import IdleShutdown, NeverShutdown, ShutdownPolicy
from sqs_workers.sqs.limits import MAX_WAIT_SECONDS

logger = logging.getLogger("sqs_workers.cli")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def load_app(spec: str) -> Any:
    """The ``SQSEnv`` named by ``module:attr`` (an instance or a factory)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise BadInput(f"APP must look like 'module:attribute', got {spec!r}")
    # Like `python -m`: modules in the current directory can be found.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BadInput(
            f"cannot import {module_name!r} ({type(error).__name__}: {error}); "
            "is it on PYTHONPATH?"
        ) from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise BadInput(f"module {module_name!r} has no attribute {attr!r}")
        value = getattr(value, part)
    from sqs_workers.sqs_env import SQSEnv

    if not isinstance(value, SQSEnv) and callable(value):
        value = value()
    if not isinstance(value, SQSEnv):
        raise BadInput(
            f"{spec} is a {type(value).__name__}, not an SQSEnv "
            "(or a function returning one)"
        )
    return value


def has_processors(queue: Any) -> bool:
    from sqs_workers.queue import RawQueue

    if isinstance(queue, RawQueue):
        return queue.processor is not None
    return bool(getattr(queue, "processors", None))


def choose_queues(env: Any, patterns: tuple[str, ...], spec: str) -> list[str]:
    """The queues to run: the patterns' matches, or every queue the app registered.

    Globs match the app's queues and the SQS queues with its prefix, and
    skip queues without processors (a DLQ matched by 'emails*'); a queue
    named exactly must have processors.
    """
    registered = list(env.queues)
    if not patterns:
        if not registered:
            raise BadInput(f"{spec} registers no processors: nothing to run")
        return registered
    known = registered + [n for n in env.get_all_known_queues() if n not in registered]
    chosen = []
    for pattern in patterns:
        for name in match_names([pattern], known):
            if name in chosen:
                continue
            if has_processors(env.queue(name)):
                chosen.append(name)
            elif not is_glob(pattern):
                raise BadInput(
                    f"queue {name!r} has no processor in {spec} (registered: "
                    + (", ".join(registered) or "none")
                    + ")"
                )
            else:
                logger.info("Skipping %s: no processor registered", name)
    if not chosen:
        raise BadInput(f"no queue with processors matches {' '.join(patterns)}")
    return chosen


def check_exist(env: Any, names: list[str]) -> None:
    from botocore.exceptions import ClientError

    from sqs_workers.queue import NOT_FOUND_CODES

    for name in names:
        try:
            env.queue(name).get_queue_url()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
                raise BadInput(
                    f"unknown queue {name!r} (SQS name "
                    f"{env.get_sqs_queue_name(name)!r}); create it with "
                    f"`sqs-workers queue create {name}`"
                ) from None
            raise


def setup_logging(log_format: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        from sqs_workers.logging_json import JSONFormatter

        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if level.upper() != "DEBUG":  # botocore's INFO lines are noise to operators
        logging.getLogger("botocore").setLevel(logging.WARNING)


def export_connection(connection: Connection) -> None:
    """Let the app's boto3 clients follow --endpoint-url and --region.

    The app builds its own client at import; botocore reads these variables
    then (AWS_ENDPOINT_URL_SQS: the SQS endpoint only).
    """
    if connection.endpoint_url:
        os.environ["AWS_ENDPOINT_URL_SQS"] = connection.endpoint_url
    if connection.region:
        os.environ["AWS_DEFAULT_REGION"] = connection.region


def prepare_metrics() -> str | None:
    """A directory for prometheus_client's multiprocess mode (None: the user's).

    Worker processes forked by the supervisor write their counts there and
    the server in this process adds them up (one process works the same).
    It must be set before prometheus_client is first imported, so before the
    app is.
    """
    if importlib.util.find_spec("prometheus_client") is None:
        raise BadInput(
            "--metrics-port needs the 'metrics' extra: "
            "pip install 'sqs-workers[metrics]'"
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = tempfile.mkdtemp(prefix="sqs-workers-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def serve_metrics(env: Any, port: int, host: str) -> None:
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    from sqs_workers.metrics import PrometheusMetrics

    PrometheusMetrics(registry=CollectorRegistry()).install(env)
    served = CollectorRegistry()
    MultiProcessCollector(served)
    start_http_server(port, addr=host, registry=served)


def policy_maker(idle_shutdown: float | None) -> Callable[[], ShutdownPolicy]:
    if idle_shutdown is None:
        return NeverShutdown
    return lambda: IdleShutdown(idle_shutdown)


@click.command(
    epilog="""\b
Examples:
  sqs-workers worker myapp.jobs:sqs                 every queue the app registers
  sqs-workers worker myapp.jobs:sqs emails 'reports*' --concurrency 8
  sqs-workers worker myapp.jobs:make_env emails --processes 4 \
      --max-jobs-per-process 1000
  sqs-workers worker myapp.jobs:sqs emails --idle-shutdown 60 --log-format json
  sqs-workers worker myapp.jobs:sqs emails --health-port 8080

\b
APP is 'module:attribute': an SQSEnv, or a function returning one (the
current directory is importable). The worker uses the app's own SQSEnv
(session, queue_prefix); --endpoint-url and --region are exported as
AWS_ENDPOINT_URL_SQS and AWS_DEFAULT_REGION before the app is imported.
One queue in one process runs queue.process_queue(); several queues, or
--processes/--max-jobs-per-process, run sqs.process_queues() (one
supervised process per queue and per --processes).
SIGTERM or Ctrl-C stops it warmly: running jobs get --grace-period seconds,
nothing held is lost; a second signal stops it at once."""
)
@click.argument("app", metavar="MODULE:ATTR")
@click.argument("patterns", metavar="[QUEUE|GLOB]...", nargs=-1)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Jobs running at once per process (threads, or the event loop).",
)
@click.option(
    "--receivers",
    type=click.IntRange(min=1),
    default=None,
    help="ReceiveMessage calls in flight at once per queue "
    "(default: adaptive, 1 to 8).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes per queue (supervised, restarted if they crash).",
)
@click.option(
    "--max-jobs-per-process",
    type=click.IntRange(min=1),
    metavar="N",
    help="Recycle a worker process after N jobs (a guard against leaks).",
)
@click.option(
    "--idle-shutdown",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Stop once no job has come for SECONDS (batch-style runs).",
)
@click.option(
    "--grace-period",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="On stop, how long running jobs get to finish.",
)
@click.option(
    "--wait",
    type=click.IntRange(0, MAX_WAIT_SECONDS),
    default=10,
    show_default=True,
    metavar="SECONDS",
    help="Long-poll wait of each receive.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object per line with the job's fields.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
@click.option(
    "--cost-summary",
    is_flag=True,
    help="At stop, log the SQS requests made and what they cost.",
)
@click.option(
    "--price-per-million",
    type=click.FloatRange(min=0),
    default=0.40,
    show_default=True,
    metavar="USD",
    help="For --cost-summary (SQS standard: 0.40, FIFO: 0.50).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve Prometheus metrics (needs the 'metrics' extra).",
)
@click.option(
    "--log-jobs",
    is_flag=True,
    help="Log one line per job with its queue, job, message id, receive count, "
    "duration and outcome.",
)
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve a health check: 200 while alive, 503 when stalled or stopping.",
)
@click.option(
    "--health-host", default="0.0.0.0", show_default=True, help="Its address."
)
@click.option(
    "--health-stall",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="503 when no SQS call succeeded for this long (above --wait and your "
    "longest job).",
)
@click.pass_obj
def worker(
    connection: Connection,
    app: str,
    patterns: tuple[str, ...],
    concurrency: int,
    receivers: int | None,
    processes: int,
    max_jobs_per_process: int | None,
    idle_shutdown: float | None,
    grace_period: float,
    wait: int,
    log_format: str,
    log_level: str,
    health_port: int | None,
    health_host: str,
    health_stall: float,
    metrics_port: int | None,
    log_jobs: bool,
    cost_summary: bool,
    price_per_million: float,
) -> None:
    """Run the jobs of the app's queues until stopped (SIGTERM/Ctrl-C)."""
    setup_logging(log_format, log_level)
    export_connection(connection)
    metrics_dir = prepare_metrics() if metrics_port is not None else None
    env = load_app(app)
    if connection.queue_prefix and connection.queue_prefix != env.queue_prefix:
        logger.warning(
            "Queue prefix %r (option or SQS_WORKERS_QUEUE_PREFIX) ignored: "
            "the worker uses the app's, %r",
            connection.queue_prefix,
            env.queue_prefix,
        )
    names = choose_queues(env, patterns, app)
    check_exist(env, names)
    if log_jobs:
        from sqs_workers.logging_json import JobLog

        env.add_middleware(JobLog())
    if cost_summary:
        from sqs_workers.cost import CostReport, RequestLedger

        ledger = RequestLedger()
        ledger.watch(env.sqs_client)
        env.add_middleware(CostReport(ledger, price_per_million))
    if metrics_port is not None:
        serve_metrics(env, metrics_port, health_host)
        logger.info("Metrics on http://%s:%d/metrics", health_host, metrics_port)
    monitor = None
    if health_port is not None:
        from sqs_workers.cli.health import HealthMonitor

        monitor = HealthMonitor(health_stall)
        monitor.watch(env.sqs_client)
        port = monitor.serve(health_host, health_port)
        logger.info("Health check on http://%s:%d/", health_host, port)
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "receivers": receivers,
        "grace_period": grace_period,
    }
    logger.info("Working on %s (%s)", ", ".join(names), app)
    try:
        if len(names) == 1 and processes == 1 and max_jobs_per_process is None:
            env.queue(names[0]).process_queue(
                policy_maker(idle_shutdown)(), wait_second=wait, **options
            )
        else:
            env.process_queues(
                names,
                policy_maker(idle_shutdown),
                processes=processes,
                max_jobs_per_process=max_jobs_per_process,
                wait_seconds=wait,
                **options,
            )
    except click.ClickException:
        raise
    except Exception as error:
        logger.exception("Worker failed")
        raise Failure(f"worker failed: {type(error).__name__}: {error}") from None
    finally:
        if monitor is not None:
            monitor.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    logger.info("Worker stopped")


COMMANDS = [worker]
