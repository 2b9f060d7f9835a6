"""Config: a dict with a parent to fall back to (kept from the original API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqs_workers.utils import (
    instantiate_from_dict,
    instantiate_from_string,
    string_to_object,
)


@dataclass(frozen=True)
class Config:
    parent: Config | None = field(repr=False, default=None)
    options: dict[str, Any] = field(default_factory=dict)
    maker_key: str = "maker"

    def __setitem__(self, key: str, value: Any) -> None:
        self.options[key] = value

    def __getitem__(self, key: str) -> Any:
        if key in self.options:
            return self.options[key]
        if self.parent is not None:
            return self.parent[key]
        raise KeyError(f"{key} is undefined")

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def get_object(self, key: str) -> Any:
        return string_to_object(self[key])

    def get_instance(self, key: str, **kwargs: Any) -> Any:
        value = self[key]
        if isinstance(value, dict):
            return instantiate_from_dict(value, maker_key=self.maker_key, **kwargs)
        return instantiate_from_string(value, **kwargs)

    def make_child(self, options: dict[str, Any] | None = None) -> Config:
        return Config(parent=self, options=options or {}, maker_key=self.maker_key)
