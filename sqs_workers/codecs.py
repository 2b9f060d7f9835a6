"""Codecs: how job arguments and contexts become message text and back.

The three content types are the wire format shared with the original package:
``json`` is ``json.dumps``; ``pickle`` and ``pickle_compat`` are pickle (default
protocol / protocol 2) compressed with zlib and written as urlsafe base64.
Only these registered types are ever decoded: the content type comes from the
message, so it is looked up in an allow-list, never imported by name.
"""

from __future__ import annotations

import binascii
import json
import pickle
import zlib
from typing import Any, ClassVar, Protocol

from sqs_workers.exceptions import UnknownContentType, UnserializableArgument

DEFAULT_CONTENT_TYPE = "pickle_compat"

# Highest pickle protocol Python 2 understands; kept for wire compatibility.
PICKLE_PY2_COMPAT_PROTO = 2


class Codec(Protocol):
    @classmethod
    def serialize(cls, message: Any) -> str: ...

    @classmethod
    def deserialize(cls, serialized: str) -> Any: ...


class JSONCodec:
    @classmethod
    def serialize(cls, message: Any) -> str:
        try:
            return json.dumps(message)
        except (TypeError, ValueError) as exc:
            raise UnserializableArgument(_explain_json_failure(message, exc)) from exc

    @classmethod
    def deserialize(cls, serialized: str) -> Any:
        return json.loads(serialized)


def _explain_json_failure(message: Any, exc: Exception) -> str:
    """Name the first argument json cannot encode (only runs on failure)."""
    if isinstance(message, dict):
        for key, value in message.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError) as inner:
                return (
                    f"argument {key!r} cannot be encoded as JSON ({inner}); pass "
                    "JSON types (str, int, float, bool, None, list, dict) or use "
                    "_content_type='pickle'"
                )
    return f"value cannot be encoded as JSON ({exc}); use _content_type='pickle'"


# base64.urlsafe_b64encode/decode, minus their layers of Python calls (they
# cost as much as the base64 itself on a job's few dozen bytes).
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _urlsafe_b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE)


def _urlsafe_b64decode(data: bytes) -> bytes:
    # Non-strict, like base64.b64decode(validate=False).
    return binascii.a2b_base64(data.translate(_FROM_URLSAFE))


class PickleCodec:
    protocol: ClassVar[int] = pickle.DEFAULT_PROTOCOL

    @classmethod
    def serialize(cls, message: Any) -> str:
        compressed = zlib.compress(pickle.dumps(message, protocol=cls.protocol))
        return _urlsafe_b64encode(compressed).decode("latin1")

    @classmethod
    def deserialize(cls, serialized: str) -> Any:
        compressed = _urlsafe_b64decode(serialized.encode("latin1"))
        return pickle.loads(zlib.decompress(compressed))


class PickleCompatCodec(PickleCodec):
    protocol: ClassVar[int] = PICKLE_PY2_COMPAT_PROTO


CONTENT_TYPES_CODECS: dict[str, type[Codec]] = {
    "json": JSONCodec,
    "pickle": PickleCodec,
    "pickle_compat": PickleCompatCodec,
}


def get_codec(content_type: str) -> type[Codec]:
    try:
        return CONTENT_TYPES_CODECS[content_type]
    except (KeyError, TypeError):
        raise UnknownContentType(content_type, sorted(CONTENT_TYPES_CODECS)) from None
