"""Start a real SQS-speaking server (moto in server mode) on loopback.

The suite starts one server per test session, in a subprocess so that its
request handling never competes with the tests for our interpreter's GIL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    process: subprocess.Popen[bytes]
    endpoint_url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_moto_server(deadline_seconds: float = 30.0) -> MotoServer:
    """Start moto, or reuse one named by $SQS_WORKERS_TEST_ENDPOINT (e.g. CI)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_CALL_RESET_API": "false"},
    )
    endpoint_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                "moto server exited at start; is moto[server] installed? "
                "(pip install -e '.[test]')"
            )
        try:
            urllib.request.urlopen(endpoint_url + "/moto-api/", timeout=1).close()
            return MotoServer(process, endpoint_url)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"moto server did not answer on {endpoint_url} in time")
