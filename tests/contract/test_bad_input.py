"""Bad input: clear errors at the caller, never a crashed worker."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sqs_workers import ConstantBackoff, RawQueue, SQSEnv
from sqs_workers.codecs import get_codec
from sqs_workers.shutdown_policies import IdleShutdown, MaxTasksShutdown

from .helpers import CallSpy, make_queue, queue_url, queued_count, run_in_thread

LONG_BACKOFF = {"backoff_policy": ConstantBackoff(600)}


def _no_sends(monkeypatch: pytest.MonkeyPatch, env: SQSEnv) -> list[CallSpy]:
    return [
        CallSpy(monkeypatch, env, "send_message"),
        CallSpy(monkeypatch, env, "send_message_batch"),
    ]


def test_unknown_codec_lists_the_known_ones(
    sqs: SQSEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = make_queue(sqs, "q")

    @queue.processor("job")
    def job(x: int) -> None:
        pass

    spies = _no_sends(monkeypatch, sqs)
    for send in (
        lambda: queue.add_job("job", _content_type="xml", x=1),
        lambda: job.delay(x=1, _content_type="xml"),
    ):
        with pytest.raises(KeyError) as info:
            send()
        text = str(info.value)
        assert "xml" in text
        for known in ("json", "pickle", "pickle_compat"):
            assert known in text
    with pytest.raises(KeyError):
        get_codec("xml")
    assert all(len(spy) == 0 for spy in spies)


def test_json_unserialisable_argument_names_the_key(
    sqs: SQSEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = make_queue(sqs, "q")
    spies = _no_sends(monkeypatch, sqs)
    with pytest.raises(TypeError) as info:
        queue.add_job(
            "job", _content_type="json", ok=1, when=datetime.datetime(2020, 1, 1)
        )
    assert "when" in str(info.value)
    assert all(len(spy) == 0 for spy in spies)
    assert queued_count(queue) == 0


def test_fifo_raw_job_without_dedup_id(
    sqs: SQSEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = make_queue(sqs, "raw.fifo", RawQueue)
    spies = _no_sends(monkeypatch, sqs)
    with pytest.raises(ClientError):
        queue.add_raw_job("body")
    assert all(len(spy) == 0 for spy in spies)


def test_fifo_in_a_batch_without_dedup_id(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "b.fifo")
    with pytest.raises(ClientError), queue.add_batch():
        queue.add_job("job", x=1)
    assert queued_count(queue) == 0


def test_fifo_per_message_delay_is_refused(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "d.fifo")
    with pytest.raises(ClientError):
        queue.add_job("job", _deduplication_id="x", _delay_seconds=5, y=1)
    assert queued_count(queue) == 0


def test_delay_over_the_longest_is_refused(sqs: SQSEnv) -> None:
    # Past 15 minutes a delay hops (issue 11, sqs_workers.delays); past the
    # documented 7 days it is refused, before sending, as SQS would.
    queue = make_queue(sqs, "q")
    with pytest.raises(ClientError):
        queue.add_job("job", _delay_seconds=8 * 24 * 3600, x=1)
    assert queued_count(queue) == 0


def test_fifo_queue_name_must_end_with_fifo(sqs: SQSEnv) -> None:
    from sqs_workers import create_fifo_queue

    with pytest.raises((ValueError, ClientError)):
        create_fifo_queue(sqs, "not_fifo")
    assert "not_fifo" not in sqs.get_all_known_queues()


def test_process_queue_on_a_missing_queue_raises(sqs: SQSEnv) -> None:
    queue = sqs.queue("missing")
    with pytest.raises(ClientError) as info:
        run_in_thread(
            lambda: queue.process_queue(shutdown_policy=IdleShutdown(0), wait_second=0)
        )
    assert sqs.get_sqs_queue_name("missing") in str(info.value)


def _send_raw(sqs: SQSEnv, queue: Any, body: str, attrs: dict[str, str]) -> None:
    sqs.sqs_client.send_message(
        QueueUrl=queue_url(queue),
        MessageBody=body,
        MessageAttributes={
            k: {"StringValue": v, "DataType": "String"} for k, v in attrs.items()
        },
    )


BAD_MESSAGES = {
    "garbage_pickle": ("!!not base64 pickle!!", {"JobName": "job"}),
    "garbage_json": ("{not json", {"JobName": "job", "ContentType": "json"}),
    "unknown_content_type": (
        "{}",
        {"JobName": "job", "ContentType": "yaml"},
    ),
    "no_attributes": ("{}", {}),
}


@pytest.mark.parametrize("kind", sorted(BAD_MESSAGES))
def test_bad_messages_fail_without_stopping_the_worker(
    sqs: SQSEnv, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_queue(sqs, "q", **LONG_BACKOFF)
    seen: list[int] = []
    queue.connect_processor("job", lambda x=0: seen.append(x))
    body, attrs = BAD_MESSAGES[kind]
    if "ContentType" not in attrs and attrs:
        attrs = {**attrs, "ContentType": "pickle_compat"}
    _send_raw(sqs, queue, body, attrs)
    queue.add_job("job", x=1)
    with caplog.at_level(logging.INFO):
        run_in_thread(
            lambda: queue.process_queue(
                shutdown_policy=MaxTasksShutdown(2), wait_second=1
            )
        )
    assert seen == [1]
    assert queued_count(queue) == 1  # the bad one is kept, not deleted
    assert any(r.levelno >= logging.ERROR for r in caplog.records)
