"""The stored message and the checksums SQS returns for it."""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from typing import Any

# Where a message is; a message is in exactly one place at a time.
DELAYED = 0  # in the queue's timer heap, ready_at = when its delay ends
VISIBLE = 1  # waiting to be received
INFLIGHT = 2  # received; in the timer heap, ready_at = when it shows again
GONE = 3  # deleted, expired, purged or moved; lazily dropped from deques

MessageAttributes = dict[str, dict[str, Any]]

# uuid.uuid4() reads os.urandom and builds a UUID object on every call, and
# formatting 128 fresh random bits was a tenth of a send.  Ids only need to
# be unique and shaped like SQS's (version-4 UUIDs): the first 80 bits are
# drawn once per process, the last 48 are a counter scrambled by an odd
# multiplier - a bijection modulo 2**48, so no id repeats before 2**48 of
# them - starting at a random point.  next() on a count is atomic under
# the GIL, so threads never get the same number.
_prefix = os.urandom(10).hex()  # 20 hex digits; two are overwritten below
_ID_PREFIX = (  # ...-4xxx-Yxxx-: the version 4 and RFC 4122 variant (Y: 8-b)
    f"{_prefix[:8]}-{_prefix[8:12]}-4{_prefix[13:16]}-"
    f"{'89ab'[int(_prefix[16], 16) & 3]}{_prefix[17:20]}-"
)
_ID_COUNTER = itertools.count(int.from_bytes(os.urandom(6), "big"))
_ID_SCRAMBLE = 0x9E3779B97F4B  # odd: multiplying by it permutes 48-bit values
_ID_MASK = (1 << 48) - 1


def new_id() -> str:
    """A unique UUID4-formatted string, like SQS MessageIds and RequestIds."""
    return f"{_ID_PREFIX}{(next(_ID_COUNTER) * _ID_SCRAMBLE) & _ID_MASK:012x}"


class MessageContent:
    """What a sender gives SQS for one message, validated, with checksums.

    Built outside the store's lock so hashing never holds up other threads.
    """

    __slots__ = (
        "attributes",
        "body",
        "md5_attributes",
        "md5_body",
        "md5_system_attributes",
        "size",
        "system_attributes",
    )

    def __init__(
        self,
        body: str,
        size: int,
        attributes: MessageAttributes | None = None,
        system_attributes: MessageAttributes | None = None,
        *,
        md5_body: str | None = None,
        md5_attributes: str | None = None,
    ) -> None:
        # The MD5s may be given by a caller that has them already (the body's
        # bytes, cached attributes); they are computed here otherwise.
        self.body = body
        self.size = size
        self.md5_body = md5_body if md5_body is not None else md5_of_body(body)
        self.attributes = attributes or None
        if md5_attributes is None and attributes:
            md5_attributes = md5_of_attributes(attributes)
        self.md5_attributes = md5_attributes if attributes else None
        self.system_attributes = system_attributes or None
        self.md5_system_attributes = (
            md5_of_attributes(system_attributes) if system_attributes else None
        )


class MemoryMessage:
    """One message stored in a MemoryQueue.

    __slots__ keeps a stored message at a couple of hundred bytes, so a
    queue of a million messages stays small and a deleted message frees
    everything it held.
    """

    __slots__ = (
        "attributes",
        "body",
        "dead_letter_source_arn",
        "dedup_id",
        "first_receive_at",
        "group_id",
        "heap_pos",
        "md5_attributes",
        "md5_body",
        "md5_system_attributes",
        "message_id",
        "ready_at",
        "receive_count",
        "received_at",
        "sent_at",
        "sequence_number",
        "serial",
        "size",
        "state",
        "system_attributes",
    )

    def __init__(
        self,
        serial: int,
        message_id: str,
        content: MessageContent,
        sent_at: float,
    ) -> None:
        self.serial = serial
        self.message_id = message_id
        self.body = content.body
        self.md5_body = content.md5_body
        self.attributes = content.attributes
        self.md5_attributes = content.md5_attributes
        self.system_attributes = content.system_attributes
        self.md5_system_attributes = content.md5_system_attributes
        self.sent_at = sent_at
        self.size = content.size
        self.receive_count = 0
        self.first_receive_at: float | None = None
        self.received_at = 0.0
        self.ready_at = sent_at
        self.heap_pos = -1
        self.state = VISIBLE
        self.group_id: str | None = None
        self.dedup_id: str | None = None
        self.sequence_number: str | None = None
        self.dead_letter_source_arn: str | None = None

    def copy_for_move(self, serial: int) -> MemoryMessage:
        """This message as a new object for another queue.

        Queues drop removed messages from their deques lazily, so an object
        that left a queue must never come back to life elsewhere: a move
        (dead-lettering, move tasks) stores a copy and leaves the original
        GONE.
        """
        copy = MemoryMessage.__new__(MemoryMessage)
        for name in MemoryMessage.__slots__:
            setattr(copy, name, getattr(self, name))
        copy.serial = serial
        copy.heap_pos = -1
        return copy

    def __lt__(self, other: MemoryMessage) -> bool:
        # Timer order; the serial breaks ties so equal times keep send order.
        if self.ready_at != other.ready_at:
            return self.ready_at < other.ready_at
        return self.serial < other.serial

    def __repr__(self) -> str:
        return f"MemoryMessage(id={self.message_id!r}, body={self.body[:40]!r})"


def md5_of_body(body: str) -> str:
    return md5_of_bytes(body.encode("utf-8"))


def md5_of_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _length_prefixed(value: bytes) -> bytes:
    return struct.pack("!I", len(value)) + value


def md5_of_attributes(attributes: MessageAttributes) -> str:
    """MD5OfMessageAttributes exactly as SQS (and the SDKs that verify it) do.

    For each attribute in name order: length-prefixed name, length-prefixed
    data type, a transport byte (1 = string, 2 = binary) and the
    length-prefixed value; lengths are 4-byte big-endian.
    """
    digest = hashlib.md5()
    for name in sorted(attributes):
        attribute = attributes[name]
        digest.update(_length_prefixed(name.encode("utf-8")))
        digest.update(_length_prefixed(attribute["DataType"].encode("utf-8")))
        if "StringValue" in attribute:
            digest.update(b"\x01")
            digest.update(_length_prefixed(attribute["StringValue"].encode("utf-8")))
        elif "BinaryValue" in attribute:
            digest.update(b"\x02")
            digest.update(_length_prefixed(attribute["BinaryValue"]))
    return digest.hexdigest()
