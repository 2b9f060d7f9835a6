"""Sending jobs: add_job, AsyncTask.delay/run/bake/batch, batching and sizes."""

from __future__ import annotations

import random
import string
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sqs_workers import SQSEnv
from sqs_workers.async_task import AsyncTask, BakedAsyncTask
from sqs_workers.codecs import JSONCodec, PickleCompatCodec
from sqs_workers.queue import MAX_MESSAGE_LENGTH, SQSBatchError

from .helpers import (
    CallSpy,
    make_queue,
    process_until,
    queued_count,
    receive_n,
    visible_count,
    wait_until,
)


def _kwargs_of(message: Any) -> dict[str, Any]:
    content_type = message.message_attributes["ContentType"]["StringValue"]
    codec = JSONCodec if content_type == "json" else PickleCompatCodec
    return codec.deserialize(message.body)  # type: ignore[no-any-return]


@pytest.fixture
def emails(sqs: SQSEnv) -> Any:
    return make_queue(sqs, "emails")


def test_add_job_sends_at_once_and_returns_the_message_id(emails: Any) -> None:
    message_id = emails.add_job("send_email", to="a@b.c", subject="hi")
    assert isinstance(message_id, str) and message_id
    (message,) = receive_n(emails, 1)
    assert message.message_id == message_id
    assert message.message_attributes["JobName"]["StringValue"] == "send_email"
    assert _kwargs_of(message) == {"to": "a@b.c", "subject": "hi"}


def test_delay_binds_positional_arguments_to_names(emails: Any) -> None:
    @emails.processor("send_email")
    def send_email(to: str, subject: str, body: str = "default body") -> None:
        pass

    assert isinstance(send_email, AsyncTask)
    message_id = send_email.delay("a@b.c", "hello")
    assert isinstance(message_id, str)
    (message,) = receive_n(emails, 1)
    assert message.message_attributes["JobName"]["StringValue"] == "send_email"
    kwargs = _kwargs_of(message)
    assert kwargs["to"] == "a@b.c"
    assert kwargs["subject"] == "hello"
    assert set(kwargs) <= {"to", "subject", "body"}


def test_delay_rejects_arguments_the_function_does_not_take(
    emails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    @emails.processor("send_email")
    def send_email(to: str) -> None:
        pass

    sends = CallSpy(monkeypatch, emails.env, "send_message")
    with pytest.raises(TypeError):
        send_email.delay(to="x", cc="y")
    with pytest.raises(TypeError):
        send_email.delay("x", "y")
    assert len(sends) == 0
    assert queued_count(emails) == 0


def test_delay_options_are_popped(emails: Any) -> None:
    @emails.processor("job")
    def job(x: int) -> None:
        pass

    job.delay(x=1, _content_type="json")
    (message,) = receive_n(emails, 1)
    assert message.message_attributes["ContentType"]["StringValue"] == "json"
    assert message.body == '{"x": 1}'


def test_delay_seconds_postpones_the_message(emails: Any) -> None:
    @emails.processor("job")
    def job(x: int) -> None:
        pass

    job.delay(x=1, _delay_seconds=2)
    assert emails.get_raw_messages(0) == []
    (message,) = receive_n(emails, 1, timeout=15)
    assert _kwargs_of(message) == {"x": 1}
    assert int(message.attributes["ApproximateReceiveCount"]) == 1


def test_add_job_delay_seconds(emails: Any) -> None:
    emails.add_job("job", _delay_seconds=2, x=1)
    assert emails.get_raw_messages(0) == []
    assert len(receive_n(emails, 1, timeout=15)) == 1


def test_calling_the_task_raises_runtime_error(emails: Any) -> None:
    @emails.processor("send_email")
    def send_email(to: str) -> None:
        raise AssertionError("must not be called")

    with pytest.raises(RuntimeError) as info:
        send_email(to="x")
    text = str(info.value)
    assert ".run" in text or "run(" in text
    assert ".delay" in text or "delay(" in text
    assert queued_count(emails) == 0


def test_run_calls_the_function_now(emails: Any) -> None:
    calls: list[tuple[Any, ...]] = []

    @emails.processor("add")
    def add(a: int, b: int = 10) -> int:
        calls.append((a, b))
        return a + b

    assert add.run(1, 2) == 3
    assert add.run(a=5) == 15
    assert calls == [(1, 2), (5, 10)]
    assert queued_count(emails) == 0


def test_task_repr_and_doc(emails: Any) -> None:
    @emails.processor("send_email")
    def send_email(to: str) -> None:
        """Sends an email."""

    assert repr(send_email) == "<AsyncTask emails.send_email>"
    assert send_email.__doc__ == "Sends an email."


def test_bake_then_delay(emails: Any) -> None:
    seen: list[tuple[str, str]] = []

    @emails.processor("send_email")
    def send_email(to: str, subject: str) -> None:
        seen.append((to, subject))

    baked = send_email.bake(to="a@b.c", subject="baked")
    assert isinstance(baked, BakedAsyncTask)
    assert queued_count(emails) == 0
    baked.delay()
    send_email.bake("x@y.z", "positional").delay()
    process_until(emails, lambda: len(seen) == 2)
    assert sorted(seen) == [("a@b.c", "baked"), ("x@y.z", "positional")]


def test_task_batch_holds_jobs_until_the_block_ends(
    emails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    @emails.processor("job")
    def job(n: int) -> None:
        pass

    batches = CallSpy(monkeypatch, emails.env, "send_message_batch")
    with job.batch():
        assert job.delay(n=1) is None
        assert job.delay(n=2) is None
        assert queued_count(emails) == 0
        assert len(batches) == 0
    assert len(batches) == 1
    assert queued_count(emails) == 2


def test_add_batch_holds_nine_and_flushes_at_ten(
    emails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = CallSpy(monkeypatch, emails.env, "send_message_batch")
    singles = CallSpy(monkeypatch, emails.env, "send_message")
    with emails.add_batch():
        for n in range(9):
            assert emails.add_job("job", n=n) is None
        assert queued_count(emails) == 0
        assert emails.get_raw_messages(0) == []
        emails.add_job("job", n=9)
        assert len(batches) == 1
        assert len(batches.calls[0]["Entries"]) == 10
        assert queued_count(emails) == 10
        emails.add_job("job", n=10)
        assert queued_count(emails) == 10
    assert len(batches) == 2
    assert len(singles) == 0
    messages = receive_n(emails, 11)
    assert sorted(_kwargs_of(m)["n"] for m in messages) == list(range(11))


def test_add_batch_sends_the_rest_when_the_block_ends(emails: Any) -> None:
    with emails.add_batch():
        for n in range(3):
            emails.add_job("job", n=n)
        assert queued_count(emails) == 0
    assert queued_count(emails) == 3


def test_nested_batches_send_when_the_outer_one_closes(emails: Any) -> None:
    with emails.add_batch():
        emails.add_job("job", n=0)
        with emails.add_batch():
            emails.add_job("job", n=1)
        assert queued_count(emails) == 0
        emails.add_job("job", n=2)
    assert queued_count(emails) == 3


def test_open_and_close_add_batch(emails: Any) -> None:
    emails.open_add_batch()
    emails.add_job("job", n=0)
    emails.open_add_batch()
    emails.add_job("job", n=1)
    emails.close_add_batch()
    assert queued_count(emails) == 0
    emails.close_add_batch()
    assert queued_count(emails) == 2
    # after the batch, jobs are sent at once again
    assert isinstance(emails.add_job("job", n=2), str)
    assert queued_count(emails) == 3


def _incompressible(n: int) -> str:
    rnd = random.Random(n)
    return "".join(rnd.choice(string.ascii_letters) for _ in range(n))


def test_batch_is_cut_before_one_mebibyte(
    emails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = CallSpy(monkeypatch, emails.env, "send_message_batch")
    payload = _incompressible(400_000)
    with emails.add_batch():
        for n in range(3):
            emails.add_job("job", _content_type="json", n=n, payload=payload)
    assert len(batches) >= 2
    for call in batches.calls:
        total = sum(len(e["MessageBody"].encode()) for e in call["Entries"])
        assert total <= MAX_MESSAGE_LENGTH
    messages = receive_n(emails, 3)
    assert sorted(_kwargs_of(m)["n"] for m in messages) == [0, 1, 2]


def test_oversize_message_raises_message_too_long_before_sending(
    emails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends = CallSpy(monkeypatch, emails.env, "send_message")
    batches = CallSpy(monkeypatch, emails.env, "send_message_batch")
    payload = _incompressible(MAX_MESSAGE_LENGTH + 10)
    with pytest.raises(ClientError) as info:
        emails.add_job("job", _content_type="json", payload=payload)
    assert info.value.response["Error"]["Code"] == "MessageTooLong"
    with pytest.raises(ClientError) as info, emails.add_batch():
        emails.add_job("job", _content_type="json", payload=payload)
    assert info.value.response["Error"]["Code"] == "MessageTooLong"
    assert len(sends) == 0
    assert len(batches) == 0
    assert queued_count(emails) == 0


def test_rejected_batch_entry_raises_sqs_batch_error(
    emails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQS accepts a delay of at most 900 s and rejects that one entry only.
    # (A longer delay hops, sqs_workers.delays; here it is let through.)
    monkeypatch.setattr("sqs_workers.delays.HOP_SECONDS", 10**6)
    with pytest.raises(SQSBatchError) as info, emails.add_batch():
        emails.add_job("job", n=1)
        emails.add_job("job", _delay_seconds=5000, n=2)
    assert len(info.value.errors) == 1
    assert info.value.errors[0]["Id"]
    wait_until(lambda: visible_count(emails) == 1, what="the valid entry was sent")


def _json_job_size(job_name: str, body: str) -> int:
    """SQS's count: body plus each attribute's name, data type and value."""
    attributes = {"JobName": job_name, "ContentType": "json", "JobContext": "{}"}
    return len(body.encode()) + sum(
        len(name) + len("String") + len(value.encode())
        for name, value in attributes.items()
    )


@pytest.mark.parametrize("over", [0, 1])
def test_message_size_limit_counts_the_attributes(emails: Any, over: int) -> None:
    overhead = _json_job_size("job", '{"p": ""}')
    payload = "x" * (MAX_MESSAGE_LENGTH - overhead + over)
    assert _json_job_size("job", f'{{"p": "{payload}"}}') == MAX_MESSAGE_LENGTH + over
    if over:
        with pytest.raises(ClientError) as info:
            emails.add_job("job", _content_type="json", p=payload)
        assert info.value.response["Error"]["Code"] == "MessageTooLong"
        assert queued_count(emails) == 0
    else:
        assert isinstance(emails.add_job("job", _content_type="json", p=payload), str)
        assert queued_count(emails) == 1
