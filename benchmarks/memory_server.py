"""The in-memory SQS behind an HTTP endpoint that speaks SQS's JSON protocol.

A benchmark fixture, not part of the package. The round-trip benchmark needs
a server that is not the bottleneck: stock moto spends milliseconds of CPU on
every call (and more per stored message), so at a few hundred jobs/s every
consumer, the plain boto3 loops included, measures moto. This server is the
package's in-memory SQS (the one the test suite checks against moto and
AWS's documented behaviour) reached over real HTTP by a real boto3 client,
in its own process, for a fraction of a millisecond per call.

What it speaks: ``POST /`` with ``X-Amz-Target: AmazonSQS.<Operation>`` and a
JSON body, answered with the operation's JSON output, or a 4xx/5xx with
``__type`` and the ``x-amzn-query-error`` header the way SQS answers, so
botocore raises the same exception classes. Binary attribute values travel
base64-encoded, as the protocol says. Connections are kept alive.

    python benchmarks/memory_server.py [--port 0]

prints its endpoint URL on the first line of stdout, then serves until
killed. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqs_workers import MemorySession

TARGET_PREFIX = "AmazonSQS."
JSON_TYPE = "application/x-amz-json-1.0"


def _binary_in(value: Any) -> Any:
    """Decode the protocol's base64 binaries into the bytes the client takes."""
    if isinstance(value, list):
        return [_binary_in(item) for item in value]
    if not isinstance(value, dict):
        return value
    decoded = {key: _binary_in(item) for key, item in value.items()}
    if "BinaryValue" in value:
        decoded["BinaryValue"] = base64.b64decode(value["BinaryValue"])
    if "BinaryListValues" in value:
        decoded["BinaryListValues"] = [
            base64.b64decode(item) for item in value["BinaryListValues"]
        ]
    return decoded


def _binary_out(value: Any) -> Any:
    """bytes -> base64 text, as the JSON protocol carries binaries."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _binary_out(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_binary_out(item) for item in value]
    return value


class SQSHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a length
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle and
    # the client's delayed ACK hold every answer ~40 ms.
    disable_nagle_algorithm = True
    client: Any  # set on the class by serve()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        params = json.loads(self.rfile.read(length) or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        if not target.startswith(TARGET_PREFIX):
            self._answer(400, {"__type": "InvalidAction", "message": target})
            return
        operation = target[len(TARGET_PREFIX) :]
        method = getattr(self.client, xform_name(operation), None)
        if method is None:
            self._answer(400, {"__type": "InvalidAction", "message": operation})
            return
        try:
            response = method(**_binary_in(params))
        except ClientError as error:
            self._error(error)
            return
        response.pop("ResponseMetadata", None)
        self._answer(200, _binary_out(response))

    def _error(self, error: ClientError) -> None:
        details = error.response["Error"]
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        shape = details.get("QueryErrorCode") or details["Code"]
        body = {"__type": f"com.amazonaws.sqs#{shape}", "message": details["Message"]}
        query_error = f"{details['Code']};{details.get('Type', 'Sender')}"
        self._answer(status, body, {"x-amzn-query-error": query_error})

    def _answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per call would cost more than the call


def serve(port: int = 0) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:``port`` (0: a free one); call serve_forever()."""
    SQSHandler.client = MemorySession().client("sqs")
    server = ThreadingHTTPServer(("127.0.0.1", port), SQSHandler)
    server.daemon_threads = True
    return server


class MemoryServer:
    """This module in a subprocess (it must not share the consumer's GIL);
    the same face as the test suite's MotoServer."""

    description = "in-memory SQS over HTTP"

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.endpoint_url = self.process.stdout.readline().strip()
        if not self.endpoint_url:
            self.stop()
            raise RuntimeError("the in-memory SQS server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = serve(args.port)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
