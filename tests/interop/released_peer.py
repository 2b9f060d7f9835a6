"""The released ``sqs-workers`` as the other side of the wire (a subprocess).

Runs INSIDE the separate virtualenv that holds the released package from PyPI,
never in the test interpreter, so the two ``sqs_workers`` packages never meet.
It imports nothing from this repository.

It reads a JSON plan on stdin and performs its steps in order, in one launch:

``{"endpoint": URL, "queue_prefix": P, "codec": C, "worker_codec": W,
"steps": [STEP, ...]}``: jobs are sent with an env whose codec is C, and
processed with another env whose (default) codec is W.

Steps (``kwargs`` values travel as base64 of a stdlib pickle, so that tuples,
bytes or datetimes survive the trip from the test to here unchanged; that
transport is plain ``pickle``, independent of either package's codecs):

- ``{"action": "send", "queue": Q, "context": {...}, "jobs": [JOB, ...]}``
  sends each job with the released package. A JOB is ``{"job": NAME,
  "via": "add_job" | "delay" | "batch_add_job" | "batch_delay", "kwargs": B64,
  "args": B64 (delay only), "options": {"_group_id": ..., ...},
  "context": bool}``: ``batch_*`` jobs are sent together inside one
  ``add_batch()``; ``context`` false sends outside ``env.context(...)``.
- ``{"action": "send_raw", "queue": Q, "bodies": [str, ...]}``
- ``{"action": "process", "queue": Q, "expect": N}`` processes the job queue
  with the released worker (``process_batch``) until N jobs were handled (or
  a deadline passed), then once more to catch anything unexpected.
- ``{"action": "process_raw", "queue": Q, "expect": N}``: the same, raw queue.

It prints one JSON line on stdout: ``{"peer": {...}, "steps": [RESULT, ...]}``
with, per handled job, the job name, the handler's kwargs and context (as
``repr`` and as base64 pickle), and the SQS message's attributes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import pickle
import sys
import threading
import time
from typing import Any

PROCESS_DEADLINE_SECONDS = 20.0


def encode(value: Any) -> str:
    return base64.b64encode(pickle.dumps(value)).decode("ascii")


def decode(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def describe_message(message: Any) -> dict[str, Any]:
    """What SQS delivered, besides the body: system and message attributes."""
    attributes = dict(message.attributes or {})
    message_attributes = {
        name: {
            "DataType": value.get("DataType"),
            "StringValue": value.get("StringValue"),
        }
        for name, value in (message.message_attributes or {}).items()
    }
    return {
        "message_id": message.message_id,
        "group_id": attributes.get("MessageGroupId"),
        "deduplication_id": attributes.get("MessageDeduplicationId"),
        "message_attributes": message_attributes,
    }


class Peer:
    def __init__(self, plan: dict[str, Any]) -> None:
        import boto3

        import sqs_workers
        from sqs_workers.processors import Processor

        self.plan = plan
        self.sqs_workers = sqs_workers
        self.received: list[dict[str, Any]] = []
        self.tasks: dict[tuple[int, str], dict[str, Any]] = {}
        current = threading.local()
        self.current = current

        class RecordingProcessor(Processor):
            """Keeps the SQS message at hand for the handler to describe it."""

            def process_message(self, message: Any) -> Any:
                current.message = message
                try:
                    return super().process_message(message)
                finally:
                    current.message = None

        def make_env(codec: str) -> Any:
            env = sqs_workers.SQSEnv(
                session=boto3.Session(),
                queue_prefix=plan["queue_prefix"],
                codec=codec,
                processor_maker=RecordingProcessor,
            )
            endpoint = env.sqs_client.meta.endpoint_url
            if endpoint.rstrip("/") != plan["endpoint"].rstrip("/"):
                raise RuntimeError(f"boto3 talks to {endpoint}, not {plan['endpoint']}")
            return env

        # The sender's default codec is the jobs' codec; the worker's default
        # is another one, so it must decode by each message's ContentType.
        self.env = make_env(plan["codec"])
        self.worker_env = make_env(plan.get("worker_codec", plan["codec"]))

    # -- handlers of the released worker -------------------------------------

    def record(self, job: str, kwargs: dict[str, Any], context: Any) -> None:
        context_dict = context.to_dict() if context is not None else None
        entry = {
            "job": job,
            "kwargs_repr": repr(kwargs),
            "kwargs": encode(kwargs),
            "context_type": type(context).__name__,
            "context_repr": repr(context_dict),
            "context": encode(context_dict),
        }
        message = getattr(self.current, "message", None)
        if message is not None:
            entry.update(describe_message(message))
        self.received.append(entry)

    def job_queue(self, env: Any, name: str) -> Any:
        queue = env.queue(name)
        if (id(env), name) not in self.tasks:

            @queue.processor("store", pass_context=True)
            def store(context: Any = None, **kwargs: Any) -> None:
                self.record("store", kwargs, context)

            @queue.processor("greet", pass_context=True)
            def greet(
                name: str, payload: Any, count: int = 1, context: Any = None
            ) -> None:
                kwargs = {"name": name, "payload": payload, "count": count}
                self.record("greet", kwargs, context)

            self.tasks[id(env), name] = {"store": store, "greet": greet}
        return queue

    def raw_queue(self, name: str) -> Any:
        queue = self.worker_env.queue(name, queue_maker=self.sqs_workers.RawQueue)

        @queue.raw_processor()
        def raw(message: Any) -> None:
            self.received.append({"body": message.body, **describe_message(message)})

        return queue

    # -- steps -----------------------------------------------------------------

    def send(self, step: dict[str, Any]) -> dict[str, Any]:
        queue = self.job_queue(self.env, step["queue"])
        context = step.get("context") or {}
        message_ids: list[Any] = []
        batch = [j for j in step["jobs"] if j["via"].startswith("batch_")]
        single = [j for j in step["jobs"] if not j["via"].startswith("batch_")]
        for job in single:
            message_ids.append(self.send_one(queue, job, context))
        if batch:
            with queue.add_batch():
                for job in batch:
                    message_ids.append(self.send_one(queue, job, context))
        return {"message_ids": message_ids}

    def send_one(self, queue: Any, job: dict[str, Any], context: dict[str, Any]) -> Any:
        kwargs = decode(job["kwargs"])
        options = job.get("options") or {}
        scope = (
            self.env.context(**context)
            if job.get("context", True)
            else contextlib.nullcontext()
        )
        with scope:
            if job["via"].endswith("delay"):
                task = self.tasks[id(self.env), queue.name][job["job"]]
                args = decode(job["args"]) if job.get("args") else ()
                return task.delay(*args, **options, **kwargs)
            return queue.add_job(job["job"], **options, **kwargs)

    def send_raw(self, step: dict[str, Any]) -> dict[str, Any]:
        queue = self.env.queue(step["queue"], queue_maker=self.sqs_workers.RawQueue)
        return {"message_ids": [queue.add_raw_job(body) for body in step["bodies"]]}

    def process(self, step: dict[str, Any], raw: bool = False) -> dict[str, Any]:
        if raw:
            queue = self.raw_queue(step["queue"])
        else:
            queue = self.job_queue(self.worker_env, step["queue"])
        self.received = []
        succeeded = failed = batches = 0
        deadline = time.monotonic() + PROCESS_DEADLINE_SECONDS
        while (
            len(self.received) < step["expect"]
            and not failed
            and time.monotonic() < deadline
        ):
            result = queue.process_batch(wait_seconds=1)
            succeeded += result.succeeded_count()
            failed += result.failed_count()
            batches += 1
        # One more look: anything beyond what was expected shows up here.
        result = queue.process_batch(wait_seconds=0)
        succeeded += result.succeeded_count()
        failed += result.failed_count()
        return {
            "received": self.received,
            "succeeded": succeeded,
            "failed": failed,
            "batches": batches + 1,
        }

    def run(self) -> dict[str, Any]:
        results = []
        for step in self.plan["steps"]:
            action = step["action"]
            if action == "send":
                results.append(self.send(step))
            elif action == "send_raw":
                results.append(self.send_raw(step))
            elif action == "process":
                results.append(self.process(step))
            elif action == "process_raw":
                results.append(self.process(step, raw=True))
            else:
                raise ValueError(f"unknown action {action!r}")
        return {"peer": self.identity(), "steps": results}

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "version": version("sqs-workers"),
            "module_file": self.sqs_workers.__file__,
            "prefix": sys.prefix,
            "executable": sys.executable,
        }


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    plan = json.load(sys.stdin)
    output = Peer(plan).run()
    sys.stdout.write(json.dumps(output) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
