"""Whether a queue hands its processor one message or a list of them."""

from __future__ import annotations

from abc import ABC, abstractmethod


class BatchingConfiguration(ABC):
    @property
    @abstractmethod
    def batching_enabled(self) -> bool:
        """True: the processor receives a list of messages."""

    @property
    @abstractmethod
    def batch_size(self) -> int:
        """How many messages to hand over at once when batching."""


class NoBatching(BatchingConfiguration):
    @property
    def batching_enabled(self) -> bool:
        return False

    @property
    def batch_size(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "NoBatching()"


class BatchMessages(BatchingConfiguration):
    def __init__(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"BatchMessages(batch_size={batch_size}): must be >= 1")
        self.number_of_messages = batch_size

    @property
    def batching_enabled(self) -> bool:
        return True

    @property
    def batch_size(self) -> int:
        return self.number_of_messages

    def __repr__(self) -> str:
        return f"BatchMessages({self.number_of_messages})"
