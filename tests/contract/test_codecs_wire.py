"""Codecs and the wire format, checked against a reference written from the docs.

Documented format: a job message's body is the codec's text of the kwargs dict;
attributes JobName, ContentType and JobContext (String). ``pickle`` and
``pickle_compat`` are pickle (default protocol / protocol 2), then zlib, then
urlsafe base64 text; ``json`` is ``json.dumps``.
"""

from __future__ import annotations

import base64
import datetime
import json
import pickle
import zlib
from typing import Any

import pytest

from sqs_workers import SQSEnv
from sqs_workers.codecs import (
    CONTENT_TYPES_CODECS,
    JSONCodec,
    PickleCodec,
    PickleCompatCodec,
    get_codec,
)

from .helpers import make_queue, process_until, queue_url, receive_n


def ref_encode(content_type: str, obj: Any) -> str:
    if content_type == "json":
        return json.dumps(obj)
    protocol = 2 if content_type == "pickle_compat" else pickle.DEFAULT_PROTOCOL
    return base64.urlsafe_b64encode(
        zlib.compress(pickle.dumps(obj, protocol=protocol))
    ).decode("ascii")


def ref_decode(content_type: str, text: str) -> Any:
    if content_type == "json":
        return json.loads(text)
    return pickle.loads(zlib.decompress(base64.urlsafe_b64decode(text.encode())))


JSON_VALUE = {"a": 1, "b": [1, 2, "three"], "c": {"d": None, "e": 1.5}, "é": "✓"}
PICKLE_VALUE = {
    "when": datetime.datetime(2021, 5, 6, 7, 8, 9),
    "set": {1, 2, 3},
    "bytes": b"\x00\x01\xff",
    "nested": {"t": (1, 2)},
    "text": "é✓",
}
CASES = [
    ("json", JSON_VALUE),
    ("pickle", PICKLE_VALUE),
    ("pickle_compat", PICKLE_VALUE),
]


def test_get_codec() -> None:
    assert get_codec("json") is JSONCodec
    assert get_codec("pickle") is PickleCodec
    assert get_codec("pickle_compat") is PickleCompatCodec


@pytest.mark.parametrize(("content_type", "value"), CASES)
def test_codec_matches_the_reference_both_ways(content_type: str, value: Any) -> None:
    codec = CONTENT_TYPES_CODECS[content_type]
    text = codec.serialize(value)
    assert isinstance(text, str)
    assert ref_decode(content_type, text) == value
    assert codec.deserialize(ref_encode(content_type, value)) == value
    assert text == ref_encode(content_type, value)


def test_pickle_compat_uses_protocol_2() -> None:
    raw = zlib.decompress(base64.urlsafe_b64decode(PickleCompatCodec.serialize({})))
    assert raw[:2] == b"\x80\x02"


def test_pickle_text_is_urlsafe() -> None:
    text = PickleCodec.serialize({"x": b"\xfb\xff" * 300})
    assert "+" not in text and "/" not in text


@pytest.mark.parametrize(("content_type", "value"), CASES)
def test_sent_message_decodes_with_the_reference(
    sqs: SQSEnv, content_type: str, value: Any
) -> None:
    queue = make_queue(sqs, "wire")
    with sqs.context(request_id="r-1"):
        queue.add_job("job_name", _content_type=content_type, **value)
    (message,) = receive_n(queue, 1)
    attrs = message.message_attributes
    assert set(attrs) >= {"JobName", "ContentType", "JobContext"}
    for name in ("JobName", "ContentType", "JobContext"):
        assert attrs[name]["DataType"] == "String"
    assert attrs["JobName"]["StringValue"] == "job_name"
    assert attrs["ContentType"]["StringValue"] == content_type
    assert ref_decode(content_type, message.body) == value
    context = ref_decode(content_type, attrs["JobContext"]["StringValue"])
    assert context == {"request_id": "r-1"}


@pytest.mark.parametrize(("content_type", "value"), CASES)
def test_reference_message_is_processed(
    sqs: SQSEnv, content_type: str, value: Any
) -> None:
    queue = make_queue(sqs, "wire")
    seen: list[Any] = []

    @queue.processor("job_name", pass_context=True)
    def job(context: Any = None, **kwargs: Any) -> None:
        seen.append((kwargs, context["request_id"]))

    sqs.sqs_client.send_message(
        QueueUrl=queue_url(queue),
        MessageBody=ref_encode(content_type, value),
        MessageAttributes={
            "JobName": {"StringValue": "job_name", "DataType": "String"},
            "ContentType": {"StringValue": content_type, "DataType": "String"},
            "JobContext": {
                "StringValue": ref_encode(content_type, {"request_id": "r-2"}),
                "DataType": "String",
            },
        },
    )
    process_until(queue, lambda: seen)
    assert seen == [(value, "r-2")]


def test_message_without_job_context_is_processed(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "wire")
    seen: list[Any] = []
    queue.connect_processor("job", lambda x: seen.append(x))
    sqs.sqs_client.send_message(
        QueueUrl=queue_url(queue),
        MessageBody=json.dumps({"x": 3}),
        MessageAttributes={
            "JobName": {"StringValue": "job", "DataType": "String"},
            "ContentType": {"StringValue": "json", "DataType": "String"},
        },
    )
    process_until(queue, lambda: seen)
    assert seen == [3]
