"""``send``, ``send-raw``, ``peek``, ``purge`` and ``drain``: on both backends."""

from __future__ import annotations

import json

from conftest_helpers import depth, take_all

from sqs_workers import SQSEnv, create_fifo_queue, create_standard_queue
from sqs_workers.sqs.message import string_attribute


def test_send_reaches_the_processor_with_its_arguments(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "emails")
    seen = []

    @sqs.processor("emails", "send_email")
    def send_email(to: str, tries: int) -> None:
        seen.append((to, tries))

    run = cli("send", "emails", "send_email", "--kwargs", '{"to": "a@b.c", "tries": 2}')
    assert run.exit_code == 0, run.stderr
    message_id = run.stdout.strip()
    result = sqs.queue("emails").process_batch()
    assert [m.message_id for m in result.succeeded] == [message_id]
    assert seen == [("a@b.c", 2)]


def test_send_to_a_fifo_queue_with_a_group(sqs: SQSEnv, cli) -> None:
    create_fifo_queue(sqs, "orders.fifo", content_based_deduplication=True)
    run = cli("send", "orders.fifo", "build", "--kwargs", '{"id": 7}', "--group", "g1")
    assert run.exit_code == 0, run.stderr
    (message,) = take_all(sqs, "orders.fifo")
    assert message.attributes["MessageGroupId"] == "g1"
    assert json.loads(message.body) == {"id": 7}


def test_send_bad_input_exits_2(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "emails")
    malformed = cli("send", "emails", "job", "--kwargs", '{"to": ')
    assert malformed.exit_code == 2
    assert "--kwargs is not valid JSON" in malformed.stderr
    assert len(malformed.stderr.strip().splitlines()) == 1
    not_object = cli("send", "emails", "job", "--kwargs", "[1, 2]")
    assert not_object.exit_code == 2
    assert "JSON object" in not_object.stderr
    unknown = cli("send", "nowhere", "job")
    assert unknown.exit_code == 2
    assert "unknown queue 'nowhere'" in unknown.stderr
    assert cli("send", "emails", "job", "--delay", "5000").exit_code == 2
    create_fifo_queue(sqs, "orders.fifo")
    no_dedup = cli("send", "orders.fifo", "job")
    assert no_dedup.exit_code == 2
    assert "deduplication" in no_dedup.stderr
    assert depth(sqs, "emails") == 0


def test_send_raw_sends_the_body_as_is(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "hooks")
    run = cli("send-raw", "hooks", '{"event": "paid"}')
    assert run.exit_code == 0, run.stderr
    piped = cli("send-raw", "hooks", "-", input="from stdin")
    assert piped.exit_code == 0, piped.stderr
    messages = take_all(sqs, "hooks")
    assert sorted(m.body for m in messages) == sorted(
        ['{"event": "paid"}', "from stdin"]
    )
    assert all(string_attribute(m, "JobName") is None for m in messages)


def test_peek_shows_jobs_without_consuming_them(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "emails")
    queue = sqs.queue("emails")
    queue.add_job("send_email", _content_type="json", to="x@y.z")
    queue.add_job("secret", _content_type="pickle", key="never shown")
    run = cli("peek", "emails", "--json")
    assert run.exit_code == 0, run.stderr
    rows = {row["job"]: row for row in json.loads(run.stdout)}
    assert set(rows) == {"send_email", "secret"}
    assert rows["send_email"]["arguments"] == {"to": "x@y.z"}
    assert rows["secret"]["arguments"] is None  # pickles are never unpickled
    assert rows["send_email"]["receive_count"] == 1
    assert rows["send_email"]["size"] > 0
    assert set(rows["secret"]) == {
        "message_id",
        "job",
        "content_type",
        "arguments",
        "body",
        "size",
        "receive_count",
        "sent",
        "group",
    }
    assert depth(sqs, "emails") == 2  # still there for the workers
    table = cli("peek", "emails", "-n", "1")
    assert table.exit_code == 0
    assert len(table.stdout.splitlines()) == 2
    assert "never shown" not in table.stdout + run.stdout
    # One receive per peek per message: peeking moves nothing to a DLQ early.
    again = json.loads(cli("peek", "emails", "--json").stdout)
    assert sorted(row["receive_count"] for row in again) == [2, 3]


def test_purge_asks_unless_yes(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "junk")
    for i in range(3):
        sqs.queue("junk").add_job("job", n=i)
    declined = cli("purge", "junk", input="n\n")
    assert declined.exit_code == 1
    assert depth(sqs, "junk") == 3
    run = cli("purge", "junk", "--yes")
    assert run.exit_code == 0, run.stderr
    assert depth(sqs, "junk") == 0


def test_drain_deletes_and_counts(sqs: SQSEnv, cli) -> None:
    create_standard_queue(sqs, "junk")
    with sqs.queue("junk").add_batch():
        for i in range(13):
            sqs.queue("junk").add_job("job", n=i)
    run = cli("drain", "junk", "--wait", "0", input="y\n")
    assert run.exit_code == 0, run.stderr
    assert "deleted 13 messages from junk" in run.stdout
    assert "drained 13" in run.stderr
    assert depth(sqs, "junk") == 0
