"""``worker --health-port``: an HTTP health check for probes and load balancers.

It answers 200 while the worker is alive and 503 when it has stalled or is
stopping. Alive means: some SQS call of the worker succeeded within the
last ``stall_seconds`` — receives (a long poll completes at least every
``--wait`` seconds, empty or not), and while jobs fill the worker, their
acks and visibility extensions. A worker whose SQS endpoint is unreachable,
or whose threads hang, stops making successful calls and turns 503.

The time of the last successful call lives in shared memory, so worker
processes forked by the supervisor (``--processes``) report it to the
health server in the parent.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HealthMonitor:
    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        # Shared with forked children; a float written whole, no lock needed.
        self._last_ok = multiprocessing.get_context("fork").RawValue("d", time.time())
        self._server: ThreadingHTTPServer | None = None

    def watch(self, client: Any) -> None:
        """Count every successful SQS call made through ``client`` as a sign of life."""
        client.meta.events.register("after-call.sqs.*", self._after_call)

    def _after_call(self, parsed: Any = None, **_: Any) -> None:
        if not (isinstance(parsed, dict) and "Error" in parsed):
            self._last_ok.value = time.time()

    def status(self) -> tuple[int, dict[str, Any]]:
        age = time.time() - self._last_ok.value
        body: dict[str, Any] = {"last_sqs_success_seconds_ago": round(age, 3)}
        if _stop_signalled():
            return 503, {"status": "stopping", **body}
        if age > self.stall_seconds:
            return 503, {"status": "stalled", **body}
        return 200, {"status": "ok", **body}

    def serve(self, host: str, port: int) -> int:
        """Serve in a daemon thread; returns the port (useful with port 0)."""
        monitor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = monitor.status()
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds would flood the worker's log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, name="sqs-health", daemon=True
        ).start()
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _stop_signalled() -> bool:
    """Has the worker (or supervisor) received SIGTERM/SIGINT?

    The engine's handler is a ``SignalCounter.handle`` bound method (see
    sqs_workers.worker.signals); its count says whether a stop began.
    """
    for signum in (signal.SIGTERM, signal.SIGINT):
        counter = getattr(signal.getsignal(signum), "__self__", None)
        if getattr(counter, "count", 0):
            return True
    return False
