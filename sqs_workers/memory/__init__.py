"""An in-memory Amazon SQS that behaves like the real service.

``MemoryAWS`` holds one account's queues; ``MemorySQSClient`` is a
boto3-compatible low-level client on top of it.  See the README, "In-memory SQS".
"""

from .client import MemorySQSClient
from .clock import Clock, FakeClock, RealClock
from .fifo import MemoryFifoQueue
from .message import MemoryMessage
from .queue import MemoryQueue
from .store import MemoryAWS

__all__ = [
    "Clock",
    "FakeClock",
    "MemoryAWS",
    "MemoryFifoQueue",
    "MemoryMessage",
    "MemoryQueue",
    "MemorySQSClient",
    "RealClock",
]
