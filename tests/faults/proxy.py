"""A loopback HTTP proxy in front of an SQS server that makes SQS have a bad day.

Clients reach it through ``endpoint_url``; it forwards each call to the real
server (moto, LocalStack, ...) unless a seeded random draw picks a fault for
it. What it can do to a call, per ``Faults`` rule:

- ``error``: answer 500 InternalError (as SQS's JSON protocol does);
- ``throttle``: answer 400 Throttling;
- ``deny``: answer 400 AccessDenied (not transient: retrying does not help);
- ``reset``: reset the connection without forwarding (the call never happened);
- ``drop``: forward the call, then reset the connection instead of answering
  (the call happened, the client sees an error and may repeat it);
- latency: hold every call ``latency_ms`` before handling it (a round trip).

Counters say what it did (``counts()``, ``by_action()``). Stdlib only, so the
benchmarks can use it too: with ``tests/`` on ``sys.path``,
``from faults.proxy import FaultProxy``; or run it on its own::

    python tests/faults/proxy.py --upstream http://127.0.0.1:5000 --latency-ms 15

It listens on 127.0.0.1 only, on a free port unless given one, and stops by
itself after ``lifetime`` seconds (so a forgotten proxy never outlives a run).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FORWARDED = "forwarded"
ERROR = "error"
THROTTLE = "throttle"
DENY = "deny"
RESET = "reset"
DROP = "drop"
UPSTREAM_FAILED = "upstream_failed"
PENDING = "pending"  # a call still being handled
FAULT_KINDS = (ERROR, THROTTLE, DENY, RESET, DROP)

# Longer than any long poll (20 s) plus latency: a forwarded call never times
# out in the proxy before the server answers.
UPSTREAM_TIMEOUT = 60.0
DEFAULT_LIFETIME = 600.0

# Headers that describe one hop's connection, not the call: never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)

# The error answers SQS gives over its JSON protocol. botocore reads the code
# from ``x-amzn-query-error`` ("Code;Fault") when present, else ``__type``.
_ERROR_ANSWERS: dict[str, tuple[int, str, str, str]] = {
    ERROR: (
        500,
        "com.amazonaws.sqs#InternalError",
        "InternalError;Receiver",
        "We encountered an internal error. Please try again.",
    ),
    THROTTLE: (
        400,
        "com.amazonaws.sqs#ThrottlingException",
        "Throttling;Sender",
        "Rate exceeded",
    ),
    DENY: (
        400,
        "com.amazonaws.sqs#AccessDeniedException",
        "AccessDenied;Sender",
        "Access to the resource is denied (by the fault proxy).",
    ),
}


@dataclass(frozen=True)
class Faults:
    """What to do to the calls a rule matches; rates are shares of calls (0-1).

    ``actions``: SQS action names (``"ReceiveMessage"``) the rule applies to;
    None for every call. ``seconds``: the rule is on for that long after it
    is installed, then ignored (e.g. an outage at start-up).
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    deny_rate: float = 0.0
    reset_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: float = 0.0
    actions: frozenset[str] | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        total = sum(self._rates())
        if total > 1.0 + 1e-9 or any(rate < 0 for rate in self._rates()):
            raise ValueError(
                f"fault rates must be >= 0 and add up to at most 1 (got {total})"
            )
        if self.actions is not None and not isinstance(self.actions, frozenset):
            object.__setattr__(self, "actions", frozenset(self.actions))

    def _rates(self) -> tuple[float, ...]:
        return (
            self.error_rate,
            self.throttle_rate,
            self.deny_rate,
            self.reset_rate,
            self.drop_rate,
        )

    def applies_to(self, action: str) -> bool:
        return self.actions is None or action in self.actions

    def fate(self, draw: float) -> str:
        """The fault (or FORWARDED) a uniform draw in [0, 1) picks."""
        threshold = 0.0
        for kind, rate in zip(FAULT_KINDS, self._rates(), strict=True):
            threshold += rate
            if draw < threshold:
                return kind
        return FORWARDED


@dataclass
class _Rule:
    faults: Faults
    until: float | None  # monotonic; None: for good


@dataclass
class CallRecord:
    """One call the proxy saw: when it arrived, its action, what was done to
    it (PENDING while it is being handled)."""

    started: float
    action: str
    fate: str


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    by_action: Counter[tuple[str, str]] = field(default_factory=Counter)
    calls: list[CallRecord] = field(default_factory=list)


class FaultProxy:
    """``with FaultProxy(upstream_url, Faults(error_rate=0.1), seed=1) as proxy:``

    then point clients at ``proxy.endpoint_url``. ``set_faults`` swaps the
    rules while it runs (the first rule matching a call's action decides).
    """

    # Enough to see what happened in a test without growing without bound.
    MAX_RECORDS = 100_000

    def __init__(
        self,
        upstream_url: str,
        *faults: Faults,
        seed: int = 0,
        port: int = 0,
        lifetime: float = DEFAULT_LIFETIME,
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(
                f"upstream must be the SQS server's http:// URL, got {upstream_url!r}"
            )
        self.upstream = (parsed.hostname, parsed.port or 80)
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._stats = _Stats()
        self.set_faults(*faults)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.proxy = self
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._lifetime = lifetime
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._serve, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def _serve(self) -> None:
        watchdog = threading.Timer(self._lifetime, self.stop)
        watchdog.daemon = True
        watchdog.start()
        try:
            self._server.serve_forever(poll_interval=0.1)
        finally:
            watchdog.cancel()
            self._server.server_close()
            self._stopped.set()

    def stop(self) -> None:
        """Stop accepting calls (idempotent); open connections are closed."""
        if self._thread is None or self._stopped.is_set():
            self._server.server_close()
            return
        self._server.shutdown()
        self._stopped.wait(5)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the proxy has stopped (its lifetime, or ``stop()``)."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- rules ---------------------------------------------------------------

    def set_faults(self, *faults: Faults) -> None:
        """Replace the rules; a rule's ``seconds`` count from now."""
        now = time.monotonic()
        self._rules = [
            _Rule(f, None if f.seconds is None else now + f.seconds) for f in faults
        ]

    def _rule_for(self, action: str) -> Faults | None:
        now = time.monotonic()
        for rule in self._rules:
            if (rule.until is None or now < rule.until) and rule.faults.applies_to(
                action
            ):
                return rule.faults
        return None

    def decide(self, action: str) -> tuple[str, float]:
        """(fate, latency in seconds) for one call, from the seeded draw."""
        rule = self._rule_for(action)
        if rule is None:
            return FORWARDED, 0.0
        with self._random_lock:
            draw = self._random.random()
        return rule.fate(draw), rule.latency_ms / 1000.0

    # -- counters ------------------------------------------------------------

    def begin(self, action: str) -> CallRecord:
        """A call arrived: listed at once (``calls()`` shows calls in progress)."""
        record = CallRecord(time.monotonic(), action, PENDING)
        stats = self._stats
        with stats.lock:
            if len(stats.calls) < self.MAX_RECORDS:
                stats.calls.append(record)
        return record

    def finish(self, record: CallRecord, fate: str) -> None:
        """What was done to the call: counted."""
        stats = self._stats
        with stats.lock:
            record.fate = fate
            stats.counts[fate] += 1
            stats.by_action[(record.action, fate)] += 1

    def counts(self) -> dict[str, int]:
        """Calls per fate, e.g. ``{"forwarded": 812, "error": 61, ...}``."""
        with self._stats.lock:
            return dict(self._stats.counts)

    def by_action(self) -> dict[tuple[str, str], int]:
        with self._stats.lock:
            return dict(self._stats.by_action)

    def calls(self, action: str | None = None) -> list[CallRecord]:
        """The calls seen so far (of one action), in the order they arrived,
        including those in progress."""
        with self._stats.lock:
            records = list(self._stats.calls)
        return [r for r in records if action is None or r.action == action]

    def faults_injected(self) -> int:
        counts = self.counts()
        return sum(counts.get(kind, 0) for kind in FAULT_KINDS)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer is routine here; stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
    # Headers and body leave in two writes: with Nagle on, the second waits
    # for the client's delayed ACK of the first, adding up to 40 ms a call.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per call would drown the test output

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action = _action_of(self.headers.get("X-Amz-Target"), self.path)
        call = proxy.begin(action)
        fate, latency = proxy.decide(action)
        if latency:
            time.sleep(latency)
        if fate == RESET:
            proxy.finish(call, fate)
            self._reset()
            return
        if fate in _ERROR_ANSWERS:
            proxy.finish(call, fate)
            self._answer_error(fate)
            return
        try:
            status, headers, answer = self._forward(body)
        except OSError:
            proxy.finish(call, UPSTREAM_FAILED)
            self._reset()
            return
        proxy.finish(call, fate)
        if fate == DROP:
            self._reset()  # the call happened; its answer is lost
            return
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        host, port = self.server.proxy.upstream
        connection = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT)
        try:
            headers = {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in _HOP_BY_HOP
            }
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            kept = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() not in _HOP_BY_HOP
            ]
            return response.status, kept, answer
        finally:
            connection.close()

    def _answer_error(self, fate: str) -> None:
        status, error_type, query_error, message = _ERROR_ANSWERS[fate]
        answer = json.dumps({"__type": error_type, "message": message}).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-query-error", query_error)
        self.send_header("x-amzn-requestid", f"fault-proxy-{time.monotonic_ns()}")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0): the client sees a connection reset."""
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.connection.close()
        except OSError:
            pass


def _action_of(target: str | None, path: str) -> str:
    """``AmazonSQS.ReceiveMessage`` -> ``ReceiveMessage`` (JSON protocol)."""
    if target:
        return target.rsplit(".", 1)[-1]
    query = urllib.parse.urlsplit(path).query
    action = urllib.parse.parse_qs(query).get("Action")
    return action[0] if action else "unknown"


def _main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the SQS server's URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=15.0)
    for kind in FAULT_KINDS:
        parser.add_argument(f"--{kind}-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=3600.0)
    args = parser.parse_args(list(argv) if argv is not None else None)
    faults = Faults(
        error_rate=args.error_rate,
        throttle_rate=args.throttle_rate,
        deny_rate=args.deny_rate,
        reset_rate=args.reset_rate,
        drop_rate=args.drop_rate,
        latency_ms=args.latency_ms,
    )
    proxy = FaultProxy(
        args.upstream, faults, seed=args.seed, port=args.port, lifetime=args.lifetime
    )
    print(proxy.endpoint_url, flush=True)  # the caller reads where to connect
    proxy.start()
    try:
        proxy.wait()
    except KeyboardInterrupt:
        proxy.stop()
    print(json.dumps(proxy.counts()), flush=True)


if __name__ == "__main__":
    _main()
