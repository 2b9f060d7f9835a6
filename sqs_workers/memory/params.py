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


def _compile(shape: Shape) -> Check:
    kind = shape.type_name
    low = _min_of(shape)
    if kind == "structure":
        return _compile_structure(shape)
    if kind == "list":
        item = _compile(shape.member)
        return lambda v: (
            isinstance(v, (list, tuple)) and len(v) >= low and all(item(i) for i in v)
        )
    if kind == "map":
        key = _compile(shape.key)
        value = _compile(shape.value)
        return lambda v: (
            isinstance(v, dict) and all(key(k) and value(x) for k, x in v.items())
        )
    if kind == "string":
        return lambda v: isinstance(v, str) and len(v) >= low
    if kind in ("integer", "long"):
        return lambda v: isinstance(v, int) and v >= low
    if kind == "boolean":
        return lambda v: isinstance(v, bool)
    if kind == "blob":
        return lambda v: isinstance(v, (bytes, bytearray, str)) or hasattr(v, "read")
    return lambda v: False  # anything unusual: let botocore decide


def _compile_structure(shape: Shape) -> Check:
    members = {name: _compile(member) for name, member in shape.members.items()}
    required = tuple(shape.metadata.get("required", ()))

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
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
