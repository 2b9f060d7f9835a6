"""The request ledger: calls and billed requests per queue and action."""

from __future__ import annotations

from sqs_workers import SQSEnv, create_standard_queue
from sqs_workers.cost import RequestLedger, chunks


def test_chunks_bill_each_started_64_kib() -> None:
    assert [chunks(0), chunks(1), chunks(65536), chunks(65537), chunks(262144)] == [
        1,
        1,
        1,
        2,
        4,
    ]


def test_ledger_counts_calls_and_billed_requests(sqs: SQSEnv) -> None:
    create_standard_queue(sqs, "work")
    ledger = RequestLedger()
    ledger.watch(sqs.sqs_client)
    queue = sqs.queue("work")
    queue.add_job("small", _content_type="json", x=1)
    queue.add_job("big", _content_type="json", x="a" * 100_000)  # 2 chunks
    with queue.add_batch():
        for i in range(10):
            queue.add_job("small", _content_type="json", x=i)
    received = 0
    while received < 12:
        received += len(queue.get_raw_messages(0, 10))
    name = sqs.get_sqs_queue_name("work")
    rows = {r["action"]: r for r in ledger.rows(0.40) if r["queue"] == name}
    assert rows["SendMessage"]["calls"] == 2
    assert rows["SendMessage"]["billed_requests"] == 3
    assert rows["SendMessageBatch"] == {
        "queue": name,
        "action": "SendMessageBatch",
        "calls": 1,
        "billed_requests": 1,
        "cost": 0.40 / 1e6,
    }
    receive = rows["ReceiveMessage"]
    assert receive["billed_requests"] >= receive["calls"] + 1  # the big one
    assert "total" in ledger.report(0.40)
