"""A binary min-heap of messages that supports removal in O(log n).

heapq cannot remove an arbitrary entry, and lazy deletion would keep every
deleted in-flight message alive until its visibility timeout ran out, which
defeats freeing deleted messages.  Each message remembers its index
(``heap_pos``) so deletes and visibility changes fix the heap in place.
"""

from __future__ import annotations

from .message import MemoryMessage


class MessageHeap:
    """Messages ordered by (ready_at, serial)."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[MemoryMessage] = []

    def __len__(self) -> int:
        return len(self._items)

    def peek(self) -> MemoryMessage | None:
        return self._items[0] if self._items else None

    def push(self, message: MemoryMessage) -> bool:
        """Add `message`; True when it became the earliest entry."""
        items = self._items
        message.heap_pos = len(items)
        items.append(message)
        self._sift_up(message.heap_pos)
        return message.heap_pos == 0

    def pop(self) -> MemoryMessage:
        return self.remove(self._items[0])

    def remove(self, message: MemoryMessage) -> MemoryMessage:
        items = self._items
        pos = message.heap_pos
        last = items.pop()
        if last is not message:
            items[pos] = last
            last.heap_pos = pos
            self._sift_down(pos)
            self._sift_up(last.heap_pos)
        message.heap_pos = -1
        return message

    def update(self, message: MemoryMessage) -> bool:
        """Re-place `message` after its ready_at changed; True if now first."""
        self._sift_down(message.heap_pos)
        self._sift_up(message.heap_pos)
        return message.heap_pos == 0

    def clear(self) -> list[MemoryMessage]:
        items, self._items = self._items, []
        for message in items:
            message.heap_pos = -1
        return items

    # The sifts compare (ready_at, serial) inline, as MemoryMessage.__lt__
    # does: a Python-level __lt__ call per comparison was most of their cost.

    def _sift_up(self, pos: int) -> None:
        items = self._items
        item = items[pos]
        ready, serial = item.ready_at, item.serial
        while pos > 0:
            parent = (pos - 1) >> 1
            above = items[parent]
            above_ready = above.ready_at
            if above_ready < ready or (above_ready == ready and above.serial <= serial):
                break  # not item < above
            items[pos] = above
            above.heap_pos = pos
            pos = parent
        items[pos] = item
        item.heap_pos = pos

    def _sift_down(self, pos: int) -> None:
        items = self._items
        size = len(items)
        item = items[pos]
        ready, serial = item.ready_at, item.serial
        while True:
            child = 2 * pos + 1
            if child >= size:
                break
            below = items[child]
            right = child + 1
            if right < size:
                other = items[right]
                if other.ready_at < below.ready_at or (
                    other.ready_at == below.ready_at and other.serial < below.serial
                ):
                    child, below = right, other
            below_ready = below.ready_at
            if below_ready > ready or (below_ready == ready and below.serial >= serial):
                break  # not below < item
            items[pos] = below
            below.heap_pos = pos
            pos = child
        items[pos] = item
        item.heap_pos = pos
