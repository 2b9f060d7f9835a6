"""SQSEnv and queue objects: sessions, names, URLs, creating and finding queues."""

from __future__ import annotations

import functools
import warnings
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sqs_workers import (
    JobQueue,
    RawQueue,
    SQSEnv,
    create_fifo_queue,
    create_standard_queue,
    delete_queue,
)
from sqs_workers.context import SQSContext
from sqs_workers.core import BatchProcessingResult
from sqs_workers.shutdown_policies import MaxTasksShutdown

from .helpers import CallSpy, make_queue, queued_count, receive_n, run_in_thread


def assert_job_round_trip(env: SQSEnv, value: int) -> None:
    """A job sent through ``env`` comes back to its processor."""
    queue = make_queue(env, "q")
    seen: list[int] = []
    queue.connect_processor("job", lambda x: seen.append(x))
    queue.add_job("job", x=value)
    queue.process_batch()
    assert seen == [value]


def test_queue_returns_the_same_object(sqs: SQSEnv) -> None:
    q1 = sqs.queue("same")
    assert isinstance(q1, JobQueue)
    assert sqs.queue("same") is q1
    raw = sqs.queue("rawq", RawQueue)
    assert isinstance(raw, RawQueue)
    assert sqs.queue("rawq", RawQueue) is raw


def test_queue_names_get_the_prefix(sqs: SQSEnv) -> None:
    assert sqs.get_sqs_queue_name("foo") == sqs.queue_prefix + "foo"
    queue = sqs.queue("foo")
    assert queue.get_sqs_queue_name() == sqs.queue_prefix + "foo"
    assert queue.name == "foo"


def test_create_standard_queue_returns_url_and_sets_attributes(sqs: SQSEnv) -> None:
    url = create_standard_queue(
        sqs, "attrs", message_retention_period=600, visibility_timeout=7
    )
    assert isinstance(url, str)
    assert (
        url
        == sqs.sqs_client.get_queue_url(QueueName=sqs.get_sqs_queue_name("attrs"))[
            "QueueUrl"
        ]
    )
    attrs = sqs.sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attrs["VisibilityTimeout"] == "7"
    assert attrs["MessageRetentionPeriod"] == "600"


def test_create_fifo_queue(sqs: SQSEnv) -> None:
    url = create_fifo_queue(sqs, "f.fifo", content_based_deduplication=True)
    attrs = sqs.sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"


def test_get_all_known_queues_and_delete_queue(sqs: SQSEnv) -> None:
    create_standard_queue(sqs, "one")
    create_standard_queue(sqs, "two")
    create_fifo_queue(sqs, "three.fifo")
    assert sorted(sqs.get_all_known_queues()) == ["one", "three.fifo", "two"]
    delete_queue(sqs, "two")
    assert sorted(sqs.get_all_known_queues()) == ["one", "three.fifo"]


def test_get_queue_gives_a_resource_style_queue(sqs: SQSEnv) -> None:
    url = create_standard_queue(sqs, "res")
    queue = sqs.queue("res")
    assert queue.get_queue().url == url


def test_missing_queue_error_names_the_full_sqs_name(sqs: SQSEnv) -> None:
    queue = sqs.queue("does_not_exist")
    with pytest.raises(ClientError) as info:
        queue.add_job("job", x=1)
    assert sqs.get_sqs_queue_name("does_not_exist") in str(info.value)
    with pytest.raises(ClientError) as info:
        queue.process_batch()
    assert sqs.get_sqs_queue_name("does_not_exist") in str(info.value)


def test_queue_by_url_needs_no_name_lookup(
    sqs_session: Any, random_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator = SQSEnv(session=sqs_session, queue_prefix=f"u_{random_string}_")
    url = create_standard_queue(creator, "byurl")
    client = creator.sqs_client
    env = SQSEnv(
        session=sqs_session, queue_prefix=creator.queue_prefix, sqs_client=client
    )
    lookups = CallSpy(monkeypatch, env, "get_queue_url")
    queue = env.queue("byurl", queue_url=url)
    seen: list[int] = []
    queue.connect_processor("job", lambda x: seen.append(x))
    queue.add_job("job", x=5)
    result = queue.process_batch()
    assert result.succeeded_count() == 1
    assert seen == [5]
    assert len(lookups) == 0
    # same name, same URL: fine; a different URL: ValueError
    assert env.queue("byurl", queue_url=url) is queue
    with pytest.raises(ValueError):
        env.queue("byurl", queue_url=url + "x")


def test_env_codec_attribute_changes_the_default(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "codec")
    queue.add_job("job", x=1)
    sqs.codec = "json"
    queue.add_job("job", x=2)
    messages = sorted(receive_n(queue, 2), key=lambda m: m.body)
    types = {m.message_attributes["ContentType"]["StringValue"] for m in messages}
    assert types == {"pickle_compat", "json"}
    json_message = next(
        m
        for m in messages
        if m.message_attributes["ContentType"]["StringValue"] == "json"
    )
    assert json_message.body == '{"x": 2}'


def test_codec_given_to_env(sqs_session: Any, random_string: str) -> None:
    env = SQSEnv(session=sqs_session, queue_prefix=f"c_{random_string}_", codec="json")
    queue = make_queue(env, "q")
    queue.add_job("job", x=1)
    (message,) = receive_n(queue, 1)
    assert message.message_attributes["ContentType"]["StringValue"] == "json"


def test_env_context_is_made_by_context_maker(sqs_session: Any) -> None:
    env = SQSEnv(session=sqs_session)
    assert isinstance(env.context, SQSContext)

    class MyContext(SQSContext):
        pass

    env2 = SQSEnv(session=sqs_session, context_maker=MyContext)
    assert isinstance(env2.context, MyContext)


def test_env_process_batch(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "foo")
    seen: list[str] = []
    queue.connect_processor("hello", lambda name: seen.append(name))
    queue.add_job("hello", name="a")
    result = sqs.process_batch("foo")
    assert isinstance(result, BatchProcessingResult)
    assert seen == ["a"]
    assert result.succeeded_count() == 1
    assert queued_count(queue) == 0


def test_deprecated_env_add_job(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "dep")
    seen: list[int] = []
    queue.connect_processor("job", lambda x: seen.append(x))
    with pytest.warns(DeprecationWarning):
        sqs.add_job("dep", "job", x=3)
    queue.process_batch()
    assert seen == [3]


def test_env_processor_and_raw_processor_decorators(sqs: SQSEnv) -> None:
    make_queue(sqs, "jobs")
    make_queue(sqs, "raws", RawQueue)
    seen: list[Any] = []

    @sqs.processor("jobs", "say")
    def say(word: str) -> None:
        seen.append(word)

    @sqs.raw_processor("raws")
    def raw(message: Any) -> None:
        seen.append(message.body)

    say.delay(word="hi")
    sqs.queue("raws", RawQueue).add_raw_job("body!")
    sqs.queue("jobs").process_batch()
    sqs.queue("raws", RawQueue).process_batch()
    assert seen == ["hi", "body!"]


def test_sqs_client_and_resource_overrides(
    sqs_session: Any, random_string: str
) -> None:
    client = sqs_session.client("sqs")
    resource = sqs_session.resource("sqs")
    env = SQSEnv(
        session=sqs_session,
        queue_prefix=f"o_{random_string}_",
        sqs_client=client,
        sqs_resource=resource,
    )
    assert env.sqs_client is client
    assert env.sqs_resource is resource
    assert_job_round_trip(env, 1)


@pytest.mark.parametrize("backend", ["moto"])
def test_default_boto3_session(sqs: SQSEnv, random_string: str) -> None:
    env = SQSEnv(queue_prefix=f"d_{random_string}_")
    assert env.session is boto3
    assert_job_round_trip(env, 1)


@pytest.mark.parametrize("backend", ["moto"])
def test_boto3_session_object(
    backend: str, moto_server: Any, random_string: str
) -> None:
    env = SQSEnv(session=boto3.Session(), queue_prefix=f"s_{random_string}_")
    queue = make_queue(env, "q")
    queue.add_job("job", x=1)
    assert len(receive_n(queue, 1)) == 1


@pytest.mark.parametrize("backend", ["moto"])
def test_localstack_client_session(
    backend: str, moto_server: Any, random_string: str
) -> None:
    localstack_session = pytest.importorskip("localstack_client.session")
    env = SQSEnv(
        session=localstack_session.Session(), queue_prefix=f"l_{random_string}_"
    )
    assert_job_round_trip(env, 7)
    assert "q" in env.get_all_known_queues()


@pytest.mark.parametrize("backend", ["moto"])
def test_process_queues_runs_every_queue(sqs: SQSEnv) -> None:
    q1 = make_queue(sqs, "pq1")
    q2 = make_queue(sqs, "pq2")
    other = make_queue(sqs, "not_listed")
    for queue in (q1, q2, other):
        queue.connect_processor("job", lambda x: None)
        queue.add_job("job", x=1)
    run_in_thread(
        lambda: sqs.process_queues(
            ["pq1", "pq2"], shutdown_policy_maker=functools.partial(MaxTasksShutdown, 1)
        ),
        timeout=60,
    )
    assert queued_count(q1) == 0
    assert queued_count(q2) == 0
    assert queued_count(other) == 1


def test_memory_sessions_share_a_memory_aws(random_string: str) -> None:
    from sqs_workers.memory_sqs import MemoryAWS, MemorySession

    aws = MemoryAWS()
    env1 = SQSEnv(session=MemorySession(aws), queue_prefix=random_string)
    env2 = SQSEnv(session=MemorySession(aws), queue_prefix=random_string)
    create_standard_queue(env1, "shared")
    env1.queue("shared").add_job("job", x=1)
    assert "shared" in env2.get_all_known_queues()
    assert len(receive_n(env2.queue("shared"), 1)) == 1
    # separate MemorySession() instances are separate worlds
    env3 = SQSEnv(session=MemorySession(), queue_prefix=random_string)
    assert env3.get_all_known_queues() == []


def test_warnings_are_not_raised_by_plain_use(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "plain")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        queue.add_job("job", x=1)


def test_queue_by_url_works_with_least_privilege(
    sqs: SQSEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only Send/Receive/Delete/ChangeMessageVisibility allowed: no name lookup,
    # no attribute reads, for sending, process_batch and process_queue.
    url = create_standard_queue(sqs, "lp")
    env = SQSEnv(session=sqs.session, queue_prefix=sqs.queue_prefix)

    def denied(**kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "Denied"
        )

    clients = [env.sqs_client, getattr(env.sqs_resource.meta, "client", None)]
    for client in filter(None, clients):
        for method in ("get_queue_url", "get_queue_attributes", "list_queues"):
            monkeypatch.setattr(client, method, denied)
    queue = env.queue("lp", queue_url=url)
    seen: list[int] = []
    queue.connect_processor("job", lambda n: seen.append(n))
    queue.add_job("job", n=1)
    assert queue.process_batch().succeeded_count() == 1
    queue.add_job("job", n=2)
    run_in_thread(
        lambda: queue.process_queue(shutdown_policy=MaxTasksShutdown(1), wait_second=0)
    )
    assert seen == [1, 2]
