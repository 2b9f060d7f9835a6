"""Workers decode only what they trust: accepted content types and signed
messages. A refused message is never decoded, never run, never deleted."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from sqs_testing import queue_total as pending

from sqs_workers import IMMEDIATE_RETURN, SQSEnv, create_standard_queue
from sqs_workers.exceptions import UnknownContentType
from sqs_workers.signing import SIGNATURE_ATTRIBUTE, SigningMiddleware

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


class Exploding:
    """Unpickling this records that a stranger's code ran in the worker."""

    ran: list[str] = []

    def __reduce__(self) -> Any:
        return (Exploding.ran.append, ("stranger's code ran",))


def make_queue(env: SQSEnv, name: str = "q") -> Any:
    create_standard_queue(env, name, visibility_timeout=30)
    return env.queue(name, backoff_policy=IMMEDIATE_RETURN)


@pytest.mark.parametrize("content_type", ["pickle", "pickle_compat"])
@pytest.mark.parametrize("where", ["body", "context"])
def test_a_json_env_refuses_pickle(sqs: SQSEnv, content_type: str, where: str) -> None:
    sqs.codec = "json"
    queue = make_queue(sqs)
    Exploding.ran.clear()
    ran: list[Any] = []

    @queue.processor("job")
    def job(**kwargs: Any) -> None:
        ran.append(kwargs)

    # A stranger sends a pickle (in the body, or only in the context).
    if where == "body":
        queue.add_job("job", _content_type=content_type, payload=Exploding())
    else:
        with sqs.context(evil=Exploding()):
            queue.add_job("job", _content_type=content_type)
    result = queue.process_batch()
    assert Exploding.ran == [] and ran == []
    assert result.failed_count() == 1
    assert pending(queue) == 1  # not deleted: retried, then the DLQ


def test_the_refusal_is_logged_with_id_and_type(
    sqs: SQSEnv, caplog: pytest.LogCaptureFixture
) -> None:
    sqs.codec = "json"
    queue = make_queue(sqs)
    queue.connect_processor("job", lambda x: None)
    message_id = queue.add_job("job", _content_type="pickle", x=1)
    queue.process_batch()
    refused = [r for r in caplog.records if r.getMessage().startswith("Refused")]
    assert refused and message_id in refused[0].getMessage()
    assert "'pickle'" in refused[0].getMessage()
    assert refused[0].message_id == message_id  # type: ignore[attr-defined]


def test_the_default_env_accepts_every_codec_as_the_original(sqs: SQSEnv) -> None:
    queue = make_queue(sqs)
    ran: list[str] = []

    @queue.processor("job")
    def job(how: str) -> None:
        ran.append(how)

    for content_type in ("pickle", "pickle_compat", "json"):
        job.delay(how=content_type, _content_type=content_type)
    while len(ran) < 3:
        queue.process_batch()
    assert sorted(ran) == ["json", "pickle", "pickle_compat"]


def test_accept_content_narrows_and_widens(sqs_session: Any) -> None:
    env = SQSEnv(sqs_session, codec="json", accept_content=["json", "pickle"])
    assert env.accepted_content_types == {"json", "pickle"}
    env = SQSEnv(sqs_session, accept_content=["json"])
    assert env.accepted_content_types == {"json"}
    with pytest.raises(UnknownContentType, match="yaml"):
        SQSEnv(sqs_session, accept_content=["yaml"])


def test_changing_the_codec_changes_the_default(sqs_session: Any) -> None:
    env = SQSEnv(sqs_session)
    assert env.accepted_content_types is None  # all: no check to make
    env.codec = "json"
    assert env.accepted_content_types == {"json"}


# -- signing -----------------------------------------------------------------


def signed_env(session: Any, prefix: str, *keys: bytes, **kwargs: Any) -> SQSEnv:
    return SQSEnv(
        session,
        queue_prefix=prefix,
        middleware=[SigningMiddleware(list(keys), **kwargs)],
    )


def test_signed_jobs_run(sqs: SQSEnv) -> None:
    env = signed_env(sqs.session, sqs.queue_prefix, KEY)
    queue = make_queue(env)
    ran: list[int] = []

    @queue.processor("job")
    def job(n: int) -> None:
        ran.append(n)

    job.delay(n=1)
    raw = queue.get_raw_messages(0)
    assert SIGNATURE_ATTRIBUTE in raw[0].message_attributes
    raw[0].change_visibility(VisibilityTimeout=0)
    queue.process_batch()
    assert ran == [1]
    assert pending(queue) == 0


def test_unsigned_and_foreign_messages_are_refused(sqs: SQSEnv) -> None:
    worker_env = signed_env(sqs.session, sqs.queue_prefix, KEY)
    queue = make_queue(worker_env)
    ran: list[str] = []

    @queue.processor("job")
    def job(who: str) -> None:
        ran.append(who)

    # An unsigned producer, and one signing with a key the worker lacks.
    sqs.queue("q").add_job("job", who="unsigned")
    signed_env(sqs.session, sqs.queue_prefix, OTHER_KEY).queue("q").add_job(
        "job", who="stranger"
    )
    result = queue.process_batch()
    assert ran == [] and result.failed_count() == 2
    assert pending(queue) == 2


def test_a_tampered_message_is_refused(sqs: SQSEnv) -> None:
    env = signed_env(sqs.session, sqs.queue_prefix, KEY)
    queue = make_queue(env)
    signature = SigningMiddleware([KEY]).sign
    entry_attributes = {
        "JobName": {"DataType": "String", "StringValue": "job"},
        "ContentType": {"DataType": "String", "StringValue": "json"},
        "JobContext": {"DataType": "String", "StringValue": "{}"},
    }
    good = signature('{"who": "me"}', entry_attributes)
    sqs.sqs_client.send_message(
        QueueUrl=queue.get_queue_url(),
        MessageBody='{"who": "attacker"}',  # body changed after signing
        MessageAttributes={
            **entry_attributes,
            SIGNATURE_ATTRIBUTE: {"DataType": "String", "StringValue": good},
        },
    )
    ran: list[str] = []
    queue.connect_processor("job", lambda who: ran.append(who))
    assert queue.process_batch().failed_count() == 1
    assert ran == []


def test_rotation_and_rolling_upgrade(sqs: SQSEnv) -> None:
    old_producer = signed_env(sqs.session, sqs.queue_prefix, OTHER_KEY)
    new_producer = signed_env(sqs.session, sqs.queue_prefix, KEY, OTHER_KEY)
    worker = signed_env(
        sqs.session, sqs.queue_prefix, KEY, OTHER_KEY, allow_unsigned=True
    )
    queue = make_queue(worker)
    ran: list[str] = []
    queue.connect_processor("job", lambda who: ran.append(who))
    old_producer.queue("q").add_job("job", who="old key")
    new_producer.queue("q").add_job("job", who="new key")
    sqs.queue("q").add_job("job", who="unsigned")
    while len(ran) < 3:
        queue.process_batch()
    assert sorted(ran) == ["new key", "old key", "unsigned"]


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SigningMiddleware(b"short")


def test_import_does_not_load_the_memory_sqs() -> None:
    code = (
        "import sys, sqs_workers; "
        "assert not [m for m in sys.modules if m.startswith('sqs_workers.memory')]; "
        "from sqs_workers import MemorySession; "
        "assert 'sqs_workers.memory_sqs' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
