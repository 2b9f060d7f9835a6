"""SQSContext: key/values sent along with every job (e.g. a request id).

Thread-local, so each web request thread has its own; the worker passes the
sender's context to processors registered with ``pass_context=True``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from threading import local
from typing import Any


class SQSContext(local):
    @classmethod
    def from_dict(cls, kwargs: dict[str, Any]) -> SQSContext:
        return cls(**kwargs)

    def __init__(self, **kwargs: Any) -> None:
        self._context: dict[str, Any] = dict(kwargs)

    def set(self, **kwargs: Any) -> None:
        """Replace the whole context."""
        self._context = dict(kwargs)

    def update(self, **kwargs: Any) -> None:
        self._context.update(kwargs)

    def clear(self) -> None:
        self._context.clear()

    def to_dict(self) -> dict[str, Any]:
        return self._context.copy()

    def get(self, key: str, default: Any = None) -> Any:
        return self._context.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._context[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._context[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._context

    def __bool__(self) -> bool:
        return bool(self._context)

    @contextmanager
    def __call__(self, **kwargs: Any) -> Iterator[SQSContext]:
        """Extend the context for the duration of a ``with`` block."""
        saved = self._context.copy()
        try:
            self._context.update(kwargs)
            yield self
        finally:
            self._context = saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._context!r})"
