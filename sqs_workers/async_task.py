"""AsyncTask: what ``@queue.processor(...)`` returns, Celery-style.

``task.delay(...)`` sends the job, ``task.run(...)`` calls the function now,
``task.bake(...)`` keeps the arguments for a later ``.delay()``. Calling the
task directly is almost always a mistake, so it raises.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    NoReturn,
    ParamSpec,
    TypedDict,
)

from sqs_workers.utils import bind_arguments

if TYPE_CHECKING:
    from sqs_workers.queue import JobQueue

P = ParamSpec("P")

_DELAY_OPTIONS = ("_content_type", "_delay_seconds", "_deduplication_id", "_group_id")


class AsyncTaskDelayArgs(TypedDict, total=False):
    """The extra keywords ``.delay()`` accepts (for ``Unpack[...]`` typing)."""

    _content_type: str
    _delay_seconds: float
    _deduplication_id: str
    _group_id: str


class AsyncTask(Generic[P]):
    def __init__(
        self, queue: JobQueue, job_name: str, processor: Callable[P, Any]
    ) -> None:
        self.queue = queue
        self.job_name = job_name
        self.processor = processor
        self.__doc__ = processor.__doc__
        self._shape = _KeywordShape.of(processor)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> NoReturn:
        raise RuntimeError(
            f"Async task {self.queue.name}.{self.job_name} called synchronously "
            "(probably, by mistake). Use either AsyncTask.run(...) to run the "
            "task synchronously or AsyncTask.delay(...) to add it to the queue."
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.queue.name}.{self.job_name}>"

    def run(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Call the function now, in this process."""
        if self.queue.batching_policy.batching_enabled:
            self._refuse_positional(args)
            return self.processor(**bind_arguments(self.processor, [[kwargs]], {}))  # type: ignore[call-arg]
        return self.processor(**self._bind(args, kwargs))  # type: ignore[call-arg]

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> str | None:
        """Send the job; returns its MessageId (None inside a batch)."""
        options: dict[str, Any] = {
            name: kwargs.pop(name) for name in _DELAY_OPTIONS if name in kwargs
        }
        if self.queue.batching_policy.batching_enabled:
            self._refuse_positional(args)
            job_kwargs: dict[str, Any] = dict(kwargs)
        else:
            job_kwargs = self._bind(args, kwargs)
        return self.queue.add_job(self.job_name, **options, **job_kwargs)

    def bake(self, *args: P.args, **kwargs: P.kwargs) -> BakedAsyncTask:
        """Keep the arguments for a later ``.delay()`` (a light Celery signature)."""
        return BakedAsyncTask(self, args, kwargs)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Send the jobs delayed inside in batches of 10."""
        with self.queue.add_batch():
            yield

    def _bind(self, args: Any, kwargs: Any) -> dict[str, Any]:
        if not args and self._shape.accepts(kwargs):
            return kwargs
        try:
            return bind_arguments(self.processor, args, kwargs)
        except TypeError as error:
            signature = f"{self.job_name}{_signature(self.processor)}"
            raise TypeError(
                f"{self.queue.name}.{self.job_name}: {error} "
                f"(the function's signature is {signature})"
            ) from None

    def _refuse_positional(self, args: Any) -> None:
        if args:
            raise TypeError(
                f"{self.queue.name}.{self.job_name}: must use keyword arguments "
                "only for batch read queues (BatchMessages)"
            )


class _KeywordShape:
    """Which keyword-only calls need no full ``inspect`` binding (the usual case).

    ``.delay(a=1, b=2)`` binds to exactly those keywords when every name is a
    parameter and every required parameter is given; only other calls (and
    the errors) pay for ``Signature.bind``.
    """

    __slots__ = ("names", "required")

    def __init__(self, names: frozenset[str], required: frozenset[str]) -> None:
        self.names = names
        self.required = required

    @classmethod
    def of(cls, fn: Any) -> _KeywordShape:
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return cls(frozenset(), frozenset({"<not introspectable>"}))
        if any(p.kind in (p.POSITIONAL_ONLY, p.VAR_KEYWORD) for p in params):
            # Keep the exact semantics of Signature.bind for these.
            return cls(frozenset(), frozenset({"<slow path>"}))
        keyword = [p for p in params if p.kind is not p.VAR_POSITIONAL]
        names = frozenset(p.name for p in keyword)
        required = frozenset(p.name for p in keyword if p.default is p.empty)
        return cls(names, required)

    def accepts(self, kwargs: dict[str, Any]) -> bool:
        return self.required.issubset(kwargs) and self.names.issuperset(kwargs)


def _signature(fn: Any) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


class BakedAsyncTask:
    def __init__(self, async_task: AsyncTask[Any], args: Any, kwargs: Any) -> None:
        self.async_task = async_task
        self.args = args
        self.kwargs = kwargs

    def __call__(self) -> None:
        self.async_task(*self.args, **self.kwargs)

    def delay(self) -> str | None:
        return self.async_task.delay(*self.args, **self.kwargs)

    def __repr__(self) -> str:
        return f"BakedAsyncTask({self.async_task!r}, ...)"
