"""Starting a moto SQS server on loopback, for tests that want a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request


class MotoServer:
    """A ``moto.server`` subprocess; ``endpoint_url`` is where it answers."""

    def __init__(self, startup_seconds: float = 30.0) -> None:
        port = _free_port()
        self.endpoint_url = f"http://127.0.0.1:{port}"
        # A subprocess: its request handling never competes with the tests
        # for this interpreter's GIL.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOTO_CALL_RESET_API": "false"},
        )
        try:
            self._wait_until_up(startup_seconds)
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "the moto server exited at start; is it installed? "
                    "(pip install 'moto[server]')"
                )
            try:
                urllib.request.urlopen(self.endpoint_url + "/moto-api/", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the moto server did not answer at {self.endpoint_url}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
