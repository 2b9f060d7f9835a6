"""Small helpers kept from the original interface (argument binding, imports)."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

_KEYWORD_KINDS = (
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)
_POSITIONAL_KINDS = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
)


def _bind(
    fn: Callable[..., Any], args: Any, kwargs: Any, drop_extra: bool
) -> inspect.BoundArguments:
    signature = inspect.signature(fn)
    params = signature.parameters.values()
    args = list(args)
    kwargs = {ensure_string(k): v for k, v in kwargs.items()}
    if drop_extra:
        if not any(p.kind is p.VAR_POSITIONAL for p in params):
            args = args[: sum(1 for p in params if p.kind in _POSITIONAL_KINDS)]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            accepted = {p.name for p in params if p.kind in _KEYWORD_KINDS}
            kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return signature.bind(*args, **kwargs)


def validate_arguments(
    fn: Callable[..., Any], args: Any, kwargs: Any, drop_extra: bool = True
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Return ``(args, kwargs)`` that ``fn`` accepts; TypeError if impossible.

    With ``drop_extra``, arguments ``fn`` has no parameter for are dropped.
    """
    bound = _bind(fn, args, kwargs, drop_extra)
    return bound.args, bound.kwargs


def bind_arguments(fn: Callable[..., Any], args: Any, kwargs: Any) -> dict[str, Any]:
    """Map positional and keyword arguments to ``fn``'s parameter names."""
    return dict(_bind(fn, args, kwargs, drop_extra=False).arguments)


def string_to_object(string: str) -> Any:
    """``"os.path.splitext"`` -> the object it names."""
    module_name, dot, attribute = string.rpartition(".")
    if not dot or not module_name:
        raise RuntimeError(f"{string} doesn't represent a full module path to object")
    return getattr(importlib.import_module(module_name), attribute)


def instantiate_from_string(string: str, **init_kwargs: Any) -> Any:
    return string_to_object(string)(**init_kwargs)


def instantiate_from_dict(
    options: dict[str, Any], maker_key: str = "maker", **extra_init_kwargs: Any
) -> Any:
    kwargs = dict(options)
    maker = kwargs.pop(maker_key)
    return string_to_object(maker)(**kwargs, **extra_init_kwargs)


def ensure_string(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, bytes):
        return obj.decode(encoding, errors)
    return str(obj)


def batcher(iterable: Iterable[T], batch_size: int) -> Iterator[list[T]]:
    """Yield lists of at most ``batch_size`` items."""
    iterator = iter(iterable)
    while batch := list(islice(iterator, batch_size)):
        yield batch
