"""What the SQS calls of a process cost: counted per queue and action.

SQS bills requests: a batch call of up to 10 messages is one request, and
each 64 KiB chunk of a request's payload counts as one (a 256 KiB message
is 4 requests). ``RequestLedger`` watches a client (botocore's or the
in-memory one) and counts both the calls and the billed requests: sends by
the size of what they send, receives by the size of what they return.
Standard library only::

    ledger = RequestLedger()
    ledger.watch(sqs.sqs_client)
    ...
    print(ledger.report(price_per_million=0.40))

``CostReport`` is middleware that logs a worker's ledger when it stops.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from sqs_workers.middleware import Middleware
from sqs_workers.sqs.sending import entry_size

logger = logging.getLogger(__name__)

BILLING_CHUNK = 64 * 1024
_QUEUE_KEY = "sqs_workers.cost.queue"
STANDARD_PRICE = 0.40  # USD per million requests, us-east-1 list price
FIFO_PRICE = 0.50


def chunks(payload_bytes: int) -> int:
    """Requests SQS bills for a payload: one per started 64 KiB (at least one)."""
    return max(1, -(-payload_bytes // BILLING_CHUNK))


def sent_bytes(action: str, params: dict[str, Any]) -> int:
    if action == "SendMessage":
        return entry_size(params)
    if action == "SendMessageBatch":
        return sum(entry_size(entry) for entry in params.get("Entries", ()))
    return 0


def received_bytes(parsed: dict[str, Any]) -> int:
    return sum(
        entry_size(
            {
                "MessageBody": m.get("Body", ""),
                "MessageAttributes": m.get("MessageAttributes"),
            }
        )
        for m in parsed.get("Messages", ())
    )


class RequestLedger:
    """Calls and billed requests per (queue, action), thread-safe."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.billed: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def watch(self, client: Any) -> None:
        events = client.meta.events
        # botocore: API parameters on before-parameter-build, the serialized
        # request on before-call; the in-memory client: API ones on before-call.
        events.register("before-parameter-build.sqs.*", self._before)
        events.register("before-call.sqs.*", self._before_memory)
        events.register("after-call.sqs.ReceiveMessage", self._after_receive)

    def _before(
        self, params: dict[str, Any], model: Any, context: Any = None, **_: Any
    ) -> None:
        key = (_queue_of(params), model.name)
        if isinstance(context, dict):  # the same dict reaches after-call
            context[_QUEUE_KEY] = key[0]
        billed = chunks(sent_bytes(model.name, params))
        with self._lock:
            self.calls[key] += 1
            # A receive is billed by its response: counted after the call.
            if model.name != "ReceiveMessage":
                self.billed[key] += billed

    def _before_memory(
        self, params: dict[str, Any], model: Any, context: Any = None, **_: Any
    ) -> None:
        if "url_path" not in params:  # not botocore's serialized request
            self._before(params, model, context)

    def _after_receive(self, parsed: Any = None, context: Any = None, **_: Any) -> None:
        if not isinstance(parsed, dict) or "Error" in parsed:
            return
        queue = context.get(_QUEUE_KEY, "") if isinstance(context, dict) else ""
        with self._lock:
            self.billed[(queue, "ReceiveMessage")] += chunks(received_bytes(parsed))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.billed.clear()

    def total_billed(self) -> int:
        return sum(self.billed.values())

    def rows(self, price_per_million: float) -> list[dict[str, Any]]:
        with self._lock:
            keys = sorted(set(self.calls) | set(self.billed))
            return [
                {
                    "queue": queue,
                    "action": action,
                    "calls": self.calls[(queue, action)],
                    "billed_requests": self.billed[(queue, action)],
                    "cost": self.billed[(queue, action)] * price_per_million / 1e6,
                }
                for queue, action in keys
            ]

    def report(self, price_per_million: float = STANDARD_PRICE) -> str:
        rows = self.rows(price_per_million)
        lines = [f"{'QUEUE':<30} {'ACTION':<28} {'CALLS':>8} {'BILLED':>8} {'USD':>10}"]
        for r in rows:
            lines.append(
                f"{r['queue']:<30} {r['action']:<28} {r['calls']:>8} "
                f"{r['billed_requests']:>8} {r['cost']:>10.6f}"
            )
        total = sum(r["billed_requests"] for r in rows)
        lines.append(
            f"{'total':<30} {'':<28} {sum(r['calls'] for r in rows):>8} "
            f"{total:>8} {total * price_per_million / 1e6:>10.6f}"
        )
        return "\n".join(lines)


def _queue_of(params: dict[str, Any]) -> str:
    url = params.get("QueueUrl") or ""
    return str(url).rsplit("/", 1)[-1]


class CostReport(Middleware):
    """Logs what a worker's SQS calls cost when it stops (``worker --cost-summary``).

    Counts from the worker's start (each worker process reports its own):
    one INFO record per queue and action, then the total, with the numbers
    also in the record's ``extra`` for JSON logs.
    """

    def __init__(self, ledger: RequestLedger, price_per_million: float) -> None:
        self.ledger = ledger
        self.price_per_million = price_per_million

    def worker_started(self, worker: Any) -> None:
        self.ledger.reset()

    def worker_stopped(self, worker: Any) -> None:
        rows = self.ledger.rows(self.price_per_million)
        for row in rows:
            logger.info(
                "SQS requests: %s %s: %d calls, %d billed, $%.6f",
                row["queue"] or "-",
                row["action"],
                row["calls"],
                row["billed_requests"],
                row["cost"],
                extra=row,
            )
        billed = sum(row["billed_requests"] for row in rows)
        cost = billed * self.price_per_million / 1e6
        logger.info(
            "SQS requests: %d billed, $%.6f at $%.2f per million",
            billed,
            cost,
            self.price_per_million,
            extra={"billed_requests": billed, "cost": cost},
        )
