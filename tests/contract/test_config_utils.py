"""Config and utils: the small helpers kept from the original interface."""

from __future__ import annotations

import collections
import os.path
from typing import Any

import pytest

from sqs_workers.config import Config
from sqs_workers.utils import (
    batcher,
    bind_arguments,
    ensure_string,
    instantiate_from_dict,
    instantiate_from_string,
    string_to_object,
    validate_arguments,
)


def test_config_hierarchical_lookup() -> None:
    root = Config(options={"a": 1, "b": 2})
    child = root.make_child({"b": 20, "c": 30})
    assert child["a"] == 1
    assert child["b"] == 20
    assert child["c"] == 30
    assert root["b"] == 2
    assert child.get("missing") is None
    assert child.get("missing", "d") == "d"
    with pytest.raises(KeyError):
        child["missing"]
    assert Config().get("x", 5) == 5
    grandchild = child.make_child()
    assert grandchild["a"] == 1 and grandchild["c"] == 30


def test_config_set_item() -> None:
    config = Config(options={})
    config["x"] = 1
    assert config["x"] == 1
    child = config.make_child()
    child["x"] = 2
    assert child["x"] == 2 and config["x"] == 1


def test_config_objects_and_instances() -> None:
    config = Config(
        options={
            "fn": "os.path.splitext",
            "by_string": "collections.OrderedDict",
            "by_dict": {"maker": "collections.Counter", "a": 3},
            "by_other_key": {"factory": "collections.Counter", "b": 1},
        }
    )
    assert config.get_object("fn") is os.path.splitext
    assert config.get_instance("by_string") == collections.OrderedDict()
    assert config.get_instance("by_dict") == collections.Counter(a=3)
    other = Config(options=config.options, maker_key="factory")
    assert other.get_instance("by_other_key") == collections.Counter(b=1)


def test_string_to_object_and_instantiate() -> None:
    assert string_to_object("os.path.splitext") is os.path.splitext
    assert instantiate_from_string("collections.Counter", a=2) == collections.Counter(
        a=2
    )
    made = instantiate_from_dict({"maker": "collections.Counter", "x": 1})
    assert made == collections.Counter(x=1)
    made = instantiate_from_dict(
        {"factory": "collections.Counter"}, maker_key="factory"
    )
    assert made == collections.Counter()


def f(a: Any, b: Any = 2, *, c: Any = 3) -> tuple[Any, Any, Any]:
    return (a, b, c)


def test_bind_arguments() -> None:
    assert bind_arguments(f, (1,), {}) == {"a": 1} or bind_arguments(f, (1,), {}) == {
        "a": 1,
        "b": 2,
        "c": 3,
    }
    assert bind_arguments(f, (1, 5), {"c": 6}) == {"a": 1, "b": 5, "c": 6}
    assert bind_arguments(f, (), {"a": 1, "b": 4})["b"] == 4
    with pytest.raises(TypeError):
        bind_arguments(f, (1,), {"zzz": 1})
    with pytest.raises(TypeError):
        bind_arguments(f, (1, 2, 3), {})


def test_byte_string_keys_are_decoded() -> None:
    bound = bind_arguments(f, (), {b"a": 1, b"c": 9})
    assert bound["a"] == 1 and bound["c"] == 9
    assert all(isinstance(k, str) for k in bound)
    args, kwargs = validate_arguments(f, (), {b"a": 1, b"b": 7})
    assert all(isinstance(k, str) for k in kwargs)
    assert f(*args, **kwargs) == (1, 7, 3)


def test_validate_arguments_drops_extras() -> None:
    args, kwargs = validate_arguments(f, (1,), {"b": 5, "extra": 0})
    assert f(*args, **kwargs) == (1, 5, 3)
    args, kwargs = validate_arguments(f, (1, 2, 3, 4), {})
    assert f(*args, **kwargs) == (1, 2, 3)
    with pytest.raises(TypeError):
        validate_arguments(f, (1,), {"extra": 0}, drop_extra=False)


def test_validate_arguments_keeps_everything_for_var_keyword() -> None:
    def g(a: Any, **kwargs: Any) -> Any:
        return a, kwargs

    args, kwargs = validate_arguments(g, (), {"a": 1, "x": 2})
    assert g(*args, **kwargs) == (1, {"x": 2})


def test_ensure_string() -> None:
    assert ensure_string("x") == "x"
    assert ensure_string(b"x") == "x"
    assert ensure_string("é".encode()) == "é"
    assert isinstance(ensure_string(5), str)


def test_batcher() -> None:
    assert [list(b) for b in batcher(range(7), 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [list(b) for b in batcher([], 3)] == []
    assert [list(b) for b in batcher(iter("ab"), 5)] == [["a", "b"]]
