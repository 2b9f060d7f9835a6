"""Start a real SQS-speaking server (moto in server mode) on loopback.

The suite starts one server per test session. The server itself is the
testing kit's (``sqs_workers.testing.moto``): a subprocess, so its request
handling never competes with the tests for our interpreter's GIL.
"""

from __future__ import annotations

import socket

from sqs_workers.testing.moto import MotoServer

__all__ = ["MotoServer", "free_port", "start_moto_server"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto_server(deadline_seconds: float = 30.0) -> MotoServer:
    """Start moto on a free port; ``.endpoint_url`` says where, ``.stop()`` ends it."""
    return MotoServer(startup_seconds=deadline_seconds)
