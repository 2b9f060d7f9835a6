"""Fast parameter checks that agree with botocore's validator.

botocore's ParamValidator walks the input shape generically and costs about
as much as the whole in-memory operation.  We compile each input shape once
into a small predicate that answers "valid?" quickly; only when it says no
do we run botocore's validator, which raises the exact ParamValidationError
a real client would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from botocore.model import OperationModel, Shape
from botocore.validate import validate_parameters

Check = Callable[[Any], bool]


def _min_of(shape: Shape) -> float:
    return float(shape.metadata.get("min", float("-inf")))


def _is_plain_string(shape: Shape) -> bool:
    """A string member with no minimum length: checked inline, without a call.

    Most members are such strings; a function call per member was most of
    the cost of checking a SendMessageBatch.
    """
    return shape.type_name == "string" and _min_of(shape) <= 0


def _compile(shape: Shape) -> Check:
    kind = shape.type_name
    low = _min_of(shape)
    if kind == "structure":
        return _compile_structure(shape)
    if kind == "list":
        return _compile_list(_compile(shape.member), low)
    if kind == "map":
        return _compile_map(shape)
    if kind == "string":
        return lambda v: isinstance(v, str) and len(v) >= low
    if kind in ("integer", "long"):
        return lambda v: isinstance(v, int) and v >= low
    if kind == "boolean":
        return lambda v: isinstance(v, bool)
    if kind == "blob":
        return lambda v: isinstance(v, (bytes, bytearray, str)) or hasattr(v, "read")
    return lambda v: False  # anything unusual: let botocore decide


def _compile_list(item: Check, low: float) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, (list, tuple)) or len(value) < low:
            return False
        for element in value:  # noqa: SIM110 - a loop is faster than all(genexpr)
            if not item(element):
                return False
        return True

    return check


def _compile_map(shape: Shape) -> Check:
    value_check = _compile(shape.value)
    if not _is_plain_string(shape.key):
        key_check = _compile(shape.key)
        return lambda v: (
            isinstance(v, dict)
            and all(key_check(k) and value_check(x) for k, x in v.items())
        )

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for key, item in value.items():
            if not isinstance(key, str) or not value_check(item):
                return False
        return True

    return check


def _compile_structure(shape: Shape) -> Check:
    plain = frozenset(
        name for name, member in shape.members.items() if _is_plain_string(member)
    )
    members = {
        name: _compile(member)
        for name, member in shape.members.items()
        if name not in plain
    }
    required = tuple(shape.metadata.get("required", ()))

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
            if name in plain:
                if not isinstance(item, str):
                    return False
                continue
            member = members.get(name)
            if member is None or not member(item):
                return False
        return True

    return check


@functools.cache
def _checker(model: OperationModel) -> Check:
    shape = model.input_shape
    return _compile(shape) if shape is not None else (lambda v: not v)


def validate(params: dict[str, Any], model: OperationModel) -> None:
    """Raise botocore's ParamValidationError if `params` is invalid."""
    if not _checker(model)(params):
        validate_parameters(params, model.input_shape)
