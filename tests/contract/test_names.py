"""Package names and import paths: every documented name imports as documented."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

import sqs_workers

ROOT_NAMES = [
    "SQSEnv",
    "JobQueue",
    "RawQueue",
    "MemorySession",
    "SQSError",
    "ProcessingResult",
    "RetryJob",
    "ExponentialBackoff",
    "ConstantBackoff",
    "DEFAULT_BACKOFF",
    "IMMEDIATE_RETURN",
    "create_standard_queue",
    "create_fifo_queue",
    "delete_queue",
    "batching",
]

MODULE_NAMES = {
    "sqs_workers.sqs_env": ["SQSEnv"],
    "sqs_workers.queue": [
        "GenericQueue",
        "JobQueue",
        "RawQueue",
        "SQSBatchError",
        "DEFAULT_MESSAGE_GROUP_ID",
        "SEND_BATCH_SIZE",
        "MAX_MESSAGE_LENGTH",
    ],
    "sqs_workers.async_task": ["AsyncTask", "BakedAsyncTask", "AsyncTaskDelayArgs"],
    "sqs_workers.processors": [
        "Processor",
        "ProcessingResult",
        "RetryJob",
        "DEFAULT_CONTEXT_VAR",
    ],
    "sqs_workers.backoff_policies": [
        "BackoffPolicy",
        "ConstantBackoff",
        "ExponentialBackoff",
        "DEFAULT_BACKOFF",
        "IMMEDIATE_RETURN",
    ],
    "sqs_workers.shutdown_policies": [
        "ShutdownPolicy",
        "NeverShutdown",
        "IdleShutdown",
        "MaxTasksShutdown",
        "OrShutdown",
        "AndShutdown",
        "NEVER_SHUTDOWN",
        "ASAP_SHUTDOWN",
    ],
    "sqs_workers.batching": ["BatchingConfiguration", "NoBatching", "BatchMessages"],
    "sqs_workers.codecs": [
        "JSONCodec",
        "PickleCodec",
        "PickleCompatCodec",
        "get_codec",
        "CONTENT_TYPES_CODECS",
        "DEFAULT_CONTENT_TYPE",
    ],
    "sqs_workers.context": ["SQSContext"],
    "sqs_workers.core": ["BatchProcessingResult", "RedrivePolicy", "get_job_name"],
    "sqs_workers.deadletter_queue": ["DeadLetterQueue", "PushBackSender"],
    "sqs_workers.memory_sqs": [
        "MemorySession",
        "MemoryAWS",
        "MemoryQueue",
        "MemoryMessage",
    ],
    "sqs_workers.sqs_manage": [
        "create_standard_queue",
        "create_fifo_queue",
        "delete_queue",
    ],
    "sqs_workers.config": ["Config"],
    "sqs_workers.utils": [
        "string_to_object",
        "instantiate_from_string",
        "instantiate_from_dict",
        "validate_arguments",
        "bind_arguments",
        "ensure_string",
        "batcher",
    ],
    "sqs_workers.exceptions": ["SQSError"],
}


@pytest.mark.parametrize("name", ROOT_NAMES)
def test_root_exports(name: str) -> None:
    assert hasattr(sqs_workers, name), name
    exec(f"from sqs_workers import {name}", {})


@pytest.mark.parametrize(
    ("module", "name"),
    [(m, n) for m, names in MODULE_NAMES.items() for n in names],
)
def test_module_names(module: str, name: str) -> None:
    mod = importlib.import_module(module)
    assert hasattr(mod, name), f"{module}.{name}"


def test_root_names_are_the_module_ones() -> None:
    from sqs_workers import (
        backoff_policies,
        exceptions,
        memory_sqs,
        processors,
        queue,
        sqs_env,
        sqs_manage,
    )

    assert sqs_workers.SQSEnv is sqs_env.SQSEnv
    assert sqs_workers.JobQueue is queue.JobQueue
    assert sqs_workers.RawQueue is queue.RawQueue
    assert sqs_workers.MemorySession is memory_sqs.MemorySession
    assert sqs_workers.SQSError is exceptions.SQSError
    assert sqs_workers.ProcessingResult is processors.ProcessingResult
    assert sqs_workers.RetryJob is processors.RetryJob
    assert sqs_workers.ExponentialBackoff is backoff_policies.ExponentialBackoff
    assert sqs_workers.ConstantBackoff is backoff_policies.ConstantBackoff
    assert sqs_workers.DEFAULT_BACKOFF is backoff_policies.DEFAULT_BACKOFF
    assert sqs_workers.IMMEDIATE_RETURN is backoff_policies.IMMEDIATE_RETURN
    assert sqs_workers.create_standard_queue is sqs_manage.create_standard_queue
    assert sqs_workers.create_fifo_queue is sqs_manage.create_fifo_queue
    assert sqs_workers.delete_queue is sqs_manage.delete_queue
    assert sqs_workers.batching is importlib.import_module("sqs_workers.batching")


def test_constant_values() -> None:
    from sqs_workers import codecs, processors, queue, shutdown_policies

    assert queue.DEFAULT_MESSAGE_GROUP_ID == "default"
    assert queue.SEND_BATCH_SIZE == 10
    assert queue.MAX_MESSAGE_LENGTH == 1048576
    assert processors.DEFAULT_CONTEXT_VAR == "context"
    assert codecs.DEFAULT_CONTENT_TYPE == "pickle_compat"
    assert {"json", "pickle", "pickle_compat"} <= set(codecs.CONTENT_TYPES_CODECS)
    assert codecs.CONTENT_TYPES_CODECS["json"] is codecs.JSONCodec
    assert codecs.CONTENT_TYPES_CODECS["pickle"] is codecs.PickleCodec
    assert codecs.CONTENT_TYPES_CODECS["pickle_compat"] is codecs.PickleCompatCodec
    assert isinstance(sqs_workers.DEFAULT_BACKOFF, sqs_workers.ExponentialBackoff)
    assert isinstance(sqs_workers.IMMEDIATE_RETURN, sqs_workers.ConstantBackoff)
    assert isinstance(shutdown_policies.NEVER_SHUTDOWN, shutdown_policies.NeverShutdown)
    assert isinstance(shutdown_policies.ASAP_SHUTDOWN, shutdown_policies.IdleShutdown)
    assert shutdown_policies.ASAP_SHUTDOWN.idle_seconds == 0


def test_error_classes() -> None:
    from sqs_workers.queue import SQSBatchError

    assert issubclass(sqs_workers.SQSError, Exception)
    assert issubclass(SQSBatchError, sqs_workers.SQSError)
    assert issubclass(sqs_workers.RetryJob, Exception)


def test_async_task_delay_args_keys() -> None:
    from sqs_workers.async_task import AsyncTaskDelayArgs

    assert set(AsyncTaskDelayArgs.__annotations__) == {
        "_content_type",
        "_delay_seconds",
        "_deduplication_id",
        "_group_id",
    }


def _params(fn: object) -> dict[str, object]:
    return {
        name: p.default
        for name, p in inspect.signature(fn).parameters.items()  # type: ignore[arg-type]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def test_sqs_env_is_a_dataclass_with_documented_fields() -> None:
    import boto3

    from sqs_workers.context import SQSContext
    from sqs_workers.processors import Processor

    assert dataclasses.is_dataclass(sqs_workers.SQSEnv)
    fields = {f.name: f for f in dataclasses.fields(sqs_workers.SQSEnv)}
    expected_order = [
        "session",
        "queue_prefix",
        "codec",
        "retry_max_attempts",
        "retry_mode",
        "backoff_policy",
        "processor_maker",
        "context_maker",
        "context",
        "sqs_client",
        "sqs_resource",
        "queues",
    ]
    names = [f.name for f in dataclasses.fields(sqs_workers.SQSEnv)]
    assert [n for n in names if n in expected_order] == expected_order
    assert fields["session"].default is boto3
    assert fields["queue_prefix"].default == ""
    assert fields["codec"].default == "pickle_compat"
    assert fields["retry_max_attempts"].default == 3
    assert fields["retry_mode"].default == "standard"
    assert fields["backoff_policy"].default is sqs_workers.DEFAULT_BACKOFF
    assert fields["processor_maker"].default is Processor
    assert fields["context_maker"].default is SQSContext
    assert fields["context"].default is None
    assert fields["sqs_client"].default is None
    assert fields["sqs_resource"].default is None


def test_public_signatures() -> None:
    from sqs_workers import queue, sqs_manage
    from sqs_workers.backoff_policies import ConstantBackoff, ExponentialBackoff
    from sqs_workers.config import Config
    from sqs_workers.sqs_env import SQSEnv

    assert list(_params(SQSEnv.queue))[:5] == [
        "self",
        "queue_name",
        "queue_maker",
        "batching_policy",
        "backoff_policy",
    ]
    assert _params(SQSEnv.queue)["queue_maker"] is queue.JobQueue
    assert _params(SQSEnv.queue)["backoff_policy"] is None
    assert "queue_url" in _params(SQSEnv.queue)
    assert _params(SQSEnv.processor) == {
        "self": inspect.Parameter.empty,
        "queue_name": inspect.Parameter.empty,
        "job_name": inspect.Parameter.empty,
        "pass_context": False,
        "context_var": "context",
    }
    assert list(_params(SQSEnv.redrive_policy)) == [
        "self",
        "dead_letter_queue_name",
        "max_receive_count",
    ]
    pq = _params(SQSEnv.process_queues)
    assert list(pq)[:3] == ["self", "queue_names", "shutdown_policy_maker"]
    assert pq["queue_names"] is None
    assert _params(sqs_manage.create_standard_queue) == {
        "env": inspect.Parameter.empty,
        "queue_name": inspect.Parameter.empty,
        "message_retention_period": None,
        "visibility_timeout": None,
        "redrive_policy": None,
    }
    assert _params(sqs_manage.create_fifo_queue) == {
        "env": inspect.Parameter.empty,
        "queue_name": inspect.Parameter.empty,
        "content_based_deduplication": False,
        "message_retention_period": None,
        "visibility_timeout": None,
        "redrive_policy": None,
    }
    assert list(_params(sqs_manage.delete_queue)) == ["env", "queue_name"]

    add_job = _params(queue.JobQueue.add_job)
    assert list(add_job)[:6] == [
        "self",
        "job_name",
        "_content_type",
        "_delay_seconds",
        "_deduplication_id",
        "_group_id",
    ]
    assert all(add_job[k] is None for k in list(add_job)[2:6])
    assert list(_params(queue.JobQueue.add_raw_job)) == [
        "self",
        "job_name",
        "message_body",
        "job_context",
        "content_type",
        "delay_seconds",
        "deduplication_id",
        "group_id",
    ]
    assert _params(queue.RawQueue.add_raw_job) == {
        "self": inspect.Parameter.empty,
        "message_body": inspect.Parameter.empty,
        "delay_seconds": 0,
        "deduplication_id": None,
        "group_id": "default",
    }
    assert list(_params(queue.JobQueue.processor))[:4] == [
        "self",
        "job_name",
        "pass_context",
        "context_var",
    ]
    assert _params(queue.JobQueue.processor)["pass_context"] is False
    assert list(_params(queue.JobQueue.connect_processor))[:3] == [
        "self",
        "job_name",
        "processor",
    ]
    gq = queue.GenericQueue
    assert _params(gq.get_raw_messages)["max_messages"] == 10
    assert list(_params(gq.get_raw_messages))[:2] == ["self", "wait_seconds"]
    assert _params(gq.process_batch)["wait_seconds"] == 0
    assert _params(gq.drain_queue)["wait_seconds"] == 0
    assert list(_params(gq.process_queue))[:3] == [
        "self",
        "shutdown_policy",
        "wait_second",
    ]
    assert _params(gq.process_queue)["wait_second"] == 10

    assert _params(ConstantBackoff)["backoff_value"] == 0
    eb = _params(ExponentialBackoff)
    assert list(eb)[:4] == [
        "base",
        "min_visibility_timeout",
        "max_visbility_timeout",
        "multiplier",
    ]
    assert (eb["base"], eb["min_visibility_timeout"], eb["multiplier"]) == (2, 0, 1)
    assert eb["max_visbility_timeout"] == 1800
    assert list(_params(Config))[:3] == ["parent", "options", "maker_key"]
    assert _params(Config)["maker_key"] == "maker"


def test_generic_queue_constructor_arguments() -> None:
    from sqs_workers.queue import GenericQueue

    params = list(_params(GenericQueue))
    assert params[:4] == ["env", "name", "backoff_policy", "batching_policy"]
