"""Every example of the original README, as written there (slips fixed as the
contract says), on both backends. ``sqs`` stands for the README's ``SQSEnv()``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from sqs_workers import (
    DEFAULT_BACKOFF,
    IMMEDIATE_RETURN,
    MemorySession,
    RawQueue,
    SQSEnv,
    create_fifo_queue,
    create_standard_queue,
)
from sqs_workers.deadletter_queue import DeadLetterQueue
from sqs_workers.processors import Processor
from sqs_workers.shutdown_policies import IdleShutdown

from .helpers import process_until, queued_count, receive_n, run_in_thread, wait_until


def test_usage_classic_and_celery_way(
    sqs: SQSEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    create_standard_queue(sqs, "emails")
    queue = sqs.queue("emails")

    @queue.processor("send_email")
    def send_email(to: Any, subject: Any, body: Any) -> None:
        print(f"Sending email {subject} to {to}")

    queue.add_job(
        "send_email", to="user@example.com", subject="Hello world", body="hello world"
    )
    send_email.delay(to="user@example.com", subject="Hello world", body="hello world")
    process_until(queue, lambda: queued_count(queue) == 0)
    out = capsys.readouterr().out
    assert out.count("Sending email Hello world to user@example.com") == 2


def test_baked_tasks(sqs: SQSEnv, capsys: pytest.CaptureFixture[str]) -> None:
    create_standard_queue(sqs, "emails")
    queue = sqs.queue("emails")

    @queue.processor("send_email")
    def send_email(to: Any, subject: Any, body: Any) -> None:
        print(f"Sending email {subject} to {to}")

    task = send_email.bake(
        to="user@example.com", subject="Hello world", body="hello world"
    )
    task.delay()
    process_until(queue, lambda: queued_count(queue) == 0)
    assert "Sending email Hello world to user@example.com" in capsys.readouterr().out


def test_batching(sqs: SQSEnv, capsys: pytest.CaptureFixture[str]) -> None:
    create_standard_queue(sqs, "emails")
    queue = sqs.queue("emails")

    @queue.processor("send_email")
    def send_email(to: Any, subject: Any, body: Any) -> None:
        print(f"Sending email {subject} to {to}")

    # Classic ("explicit") API
    with queue.add_batch():
        queue.add_job(
            "send_email",
            to="user1@example.com",
            subject="Hello world",
            body="hello world",
        )
        queue.add_job(
            "send_email",
            to="user2@example.com",
            subject="Hello world",
            body="hello world",
        )
    # "Celery way"
    with send_email.batch():
        send_email.delay(
            to="user3@example.com", subject="Hello world", body="hello world"
        )
        send_email.delay(
            to="user4@example.com", subject="Hello world", body="hello world"
        )
    seen: list[str] = []

    def all_sent() -> bool:
        seen.append(capsys.readouterr().out)
        return all(f"to user{n}@example.com" in "".join(seen) for n in range(1, 5))

    process_until(queue, all_sent)


def test_synchronous_task_execution(
    sqs: SQSEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    create_standard_queue(sqs, "emails")
    queue = sqs.queue("emails")

    @queue.processor("send_email")
    def send_email(to: Any, subject: Any, body: Any) -> None:
        print(f"Sending email {subject} to {to}")

    with pytest.raises(RuntimeError) as info:
        send_email(to="user@example.com", subject="Hello world", body="hello world")
    message = " ".join(str(info.value).split())
    assert "send_email called synchronously (probably, by mistake)" in message
    assert "AsyncTask.run(...)" in message
    assert "AsyncTask.delay(...)" in message
    send_email.run(to="user@example.com", subject="Hello world", body="hello world")
    assert "Sending email Hello world to user@example.com" in capsys.readouterr().out


def test_fifo_queues(sqs: SQSEnv) -> None:
    create_fifo_queue(sqs, "emails_dead.fifo")
    create_fifo_queue(
        sqs, "emails.fifo", redrive_policy=sqs.redrive_policy("emails_dead.fifo", 3)
    )
    # SQS takes alphanumerics and punctuation only in a deduplication id
    subject, email = "Hello-world", "user@example.com"
    kwargs = {"to": email, "body": "hello world"}
    sqs.queue("emails.fifo").add_job(
        "send_email", _deduplication_id=subject, _group_id=email, **kwargs
    )
    (message,) = receive_n(sqs.queue("emails.fifo"), 1)
    assert message.attributes["MessageGroupId"] == email
    assert message.attributes["MessageDeduplicationId"] == subject


def test_custom_processor(
    sqs_session: Any, random_string: str, capsys: pytest.CaptureFixture[str]
) -> None:
    class CustomProcessor(Processor):
        def process(self, job_kwargs):  # type: ignore[no-untyped-def,override]
            print(f"Processing {self.queue_name}.{self.job_name} with {job_kwargs}")
            super(CustomProcessor, self).process(job_kwargs)  # noqa: UP008

    sqs = SQSEnv(
        session=sqs_session,
        queue_prefix=f"r_{random_string}_",
        processor_maker=CustomProcessor,
    )
    create_standard_queue(sqs, "emails")
    queue = sqs.queue("emails")

    @queue.processor("send_email")
    def send_email(to: Any) -> None:
        print(f"Sending email to {to}")

    send_email.delay(to="user@example.com")
    process_until(queue, lambda: queued_count(queue) == 0)
    out = capsys.readouterr().out
    assert "Processing emails.send_email with {'to': 'user@example.com'}" in out
    assert "Sending email to user@example.com" in out


def test_working_with_contexts(sqs: SQSEnv, capsys: pytest.CaptureFixture[str]) -> None:
    create_standard_queue(sqs, "q1")
    queue = sqs.queue("q1")

    @sqs.processor("q1", "hello_world", pass_context=True)
    def hello_world(username: Any = None, context: Any = None) -> None:
        print(f"Hello {username} from {context['remote_addr']}")

    with sqs.context(remote_addr="127.0.0.1"):
        hello_world.delay(username="Foo")

    queue.process_batch()
    assert "Hello Foo from 127.0.0.1" in capsys.readouterr().out

    sqs.context["remote_addr"] = "127.0.0.2"
    hello_world.delay(username="Foo")
    sqs.context.clear()
    assert sqs.context.to_dict() == {}
    process_until(queue, lambda: "Hello Foo from 127.0.0.2" in capsys.readouterr().out)


def test_queue_processor_with_pass_context(
    sqs: SQSEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    create_standard_queue(sqs, "q1")
    queue = sqs.queue("q1")

    @queue.processor("hello_world", pass_context=True)
    def hello_world(username: Any = None, context: Any = None) -> None:
        print(f"Hello {username} from {context['remote_addr']}")

    with sqs.context(remote_addr="127.0.0.1"):
        hello_world.delay(username="Foo")
    queue.process_batch()
    assert "Hello Foo from 127.0.0.1" in capsys.readouterr().out


def test_automatic_applying_of_the_context(
    sqs_session: Any, random_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REMOTE_ADDR", raising=False)

    class CustomProcessor(Processor):
        def process(self, job_kwargs, job_context):  # type: ignore[no-untyped-def,override]
            os.environ["REMOTE_ADDR"] = job_context["remote_addr"]
            super(CustomProcessor, self).process(job_kwargs, job_context)  # noqa: UP008
            os.unsetenv("REMOTE_ADDR")

    sqs = SQSEnv(
        session=sqs_session,
        queue_prefix=f"r_{random_string}_",
        processor_maker=CustomProcessor,
    )
    create_standard_queue(sqs, "q1")
    queue = sqs.queue("q1")
    seen: list[Any] = []

    @queue.processor("hello_world")
    def hello_world(username: Any = None) -> None:
        seen.append((username, os.environ.get("REMOTE_ADDR")))

    with sqs.context(remote_addr="127.0.0.1"):
        hello_world.delay(username="Foo")
    queue.process_batch()
    assert seen == [("Foo", "127.0.0.1")]


def test_raw_queues(sqs: SQSEnv, capsys: pytest.CaptureFixture[str]) -> None:
    create_standard_queue(sqs, "cron")
    cron = sqs.queue("cron", RawQueue)

    @cron.raw_processor()
    def processor(message: Any) -> None:
        print(message.body)

    cron.add_raw_job("Hello world")
    run_in_thread(
        lambda: cron.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
    )
    assert "Hello world" in capsys.readouterr().out


def test_processing_messages_from_cloudwatch(sqs: SQSEnv) -> None:
    create_standard_queue(sqs, "cron")
    cron = sqs.queue("cron", RawQueue)
    event = {
        "version": "0",
        "id": "a9a10406-9a1f-0ddc-51ae-08db551fac42",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "NNNNNNNNNN",
        "time": "2019-09-20T09:19:56Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:NNNNNNNNNN:rule/Playground"],
        "detail": {},
    }
    seen: list[Any] = []

    @cron.raw_processor()
    def processor(message: Any) -> None:
        seen.append((json.loads(message.body), dict(message.attributes)))

    # sent by an external source: no message attributes at all
    sqs.sqs_client.send_message(
        QueueUrl=cron.get_queue().url, MessageBody=json.dumps(event)
    )
    cron.add_raw_job(json.dumps({"message": "Hello world"}))
    process_until(cron, lambda: len(seen) == 2)
    bodies = [body for body, _ in seen]
    assert event in bodies and {"message": "Hello world"} in bodies
    for _, headers in seen:
        assert headers["ApproximateReceiveCount"] == "1"
        assert "SentTimestamp" in headers


def test_dead_letter_queues_and_redrive(sqs: SQSEnv) -> None:
    create_standard_queue(sqs, "emails_dead")
    create_standard_queue(
        sqs, "emails", redrive_policy=sqs.redrive_policy("emails_dead", 3)
    )
    url = sqs.queue("emails").get_queue().url
    attrs = sqs.sqs_client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    policy = json.loads(attrs["RedrivePolicy"])
    assert int(policy["maxReceiveCount"]) == 3
    assert policy["deadLetterTargetArn"].endswith(sqs.get_sqs_queue_name("emails_dead"))


@pytest.mark.parametrize("policy", [DEFAULT_BACKOFF, IMMEDIATE_RETURN])
def test_backoff_policies(
    sqs: SQSEnv, policy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    create_standard_queue(sqs, "emails")
    queue = sqs.queue("emails", backoff_policy=policy)

    @queue.processor("send_email")
    def send_email(to: Any, subject: Any, body: Any) -> None:
        print(f"Sending email {subject} to {to}")

    assert queue.backoff_policy is policy
    send_email.delay(to="a@b.c", subject="s", body="b")
    queue.process_batch()
    assert "Sending email s to a@b.c" in capsys.readouterr().out


def test_shutdown_policies(sqs: SQSEnv) -> None:
    create_standard_queue(sqs, "foo")
    queue = sqs.queue("foo")
    queue.connect_processor("job", lambda: None)
    queue.add_job("job")
    run_in_thread(
        lambda: sqs.queue("foo").process_queue(
            shutdown_policy=IdleShutdown(idle_seconds=0.2), wait_second=0
        )
    )
    assert queued_count(queue) == 0


def test_dead_letter_queue_push_back(sqs: SQSEnv) -> None:
    env = sqs
    create_standard_queue(env, "foo")
    create_standard_queue(env, "foo_dead")
    foo = env.queue("foo")
    foo_dead = env.queue("foo_dead", DeadLetterQueue.maker(foo))
    foo.connect_processor("job", lambda: None)
    env.sqs_client.send_message(
        QueueUrl=foo_dead.get_queue().url,
        MessageBody="x",
        MessageAttributes={"JobName": {"StringValue": "job", "DataType": "String"}},
    )
    foo_dead.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
    assert queued_count(foo_dead) == 0
    (message,) = receive_n(foo, 1)
    assert message.body == "x"
    assert message.message_attributes["JobName"]["StringValue"] == "job"


def test_dead_letter_queue_in_place(sqs: SQSEnv) -> None:
    env = sqs
    create_standard_queue(env, "foo")
    create_standard_queue(env, "foo_dead")
    foo = env.queue("foo")
    foo_dead = env.queue("foo_dead")
    seen: list[int] = []
    foo.connect_processor("job", lambda x: seen.append(x))
    foo.copy_processors(foo_dead)
    foo_dead.add_job("job", x=5)
    foo_dead.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
    assert seen == [5]
    assert queued_count(foo_dead) == 0


def test_memory_session(random_string: str) -> None:
    env = SQSEnv(MemorySession(), queue_prefix=random_string)
    create_standard_queue(env, "foo")
    seen: list[int] = []

    @env.processor("foo", "task")
    def task(n: int) -> None:
        seen.append(n)

    def create_task() -> None:
        task.delay(n=1)

    create_task()
    env.process_batch("foo")
    assert seen == [1]
    wait_until(lambda: queued_count(env.queue("foo")) == 0, what="deleted")


def test_readme_slip_queue_processor_with_queue_name_fails_loudly(
    sqs: SQSEnv,
) -> None:
    # The README wrote queue.processor('q1', 'hello_world', pass_context=True)
    # for sqs.processor(...): it must not silently register a job named "q1".
    create_standard_queue(sqs, "q1")
    queue = sqs.queue("q1")
    with pytest.raises(TypeError):
        queue.processor("q1", "hello_world", pass_context=True)
    assert queue.get_processor("q1") is None
