"""Request validation that SQS does before touching a queue."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .attributes import MAX_DELAY_SECONDS, MAX_MESSAGE_SIZE
from .errors import (
    BATCH_IDS_NOT_DISTINCT,
    BATCH_REQUEST_TOO_LONG,
    EMPTY_BATCH_REQUEST,
    INVALID_BATCH_ENTRY_ID,
    INVALID_MESSAGE_CONTENTS,
    INVALID_PARAMETER_VALUE,
    MISSING_PARAMETER,
    TOO_MANY_ENTRIES,
    SQSError,
)
from .message import (
    MessageAttributes,
    MessageContent,
    md5_of_attributes,
    md5_of_bytes,
)

if TYPE_CHECKING:
    from .queue import MemoryQueue

MAX_BATCH_ENTRIES = 10
MAX_MESSAGE_ATTRIBUTES = 10
# Characters SQS accepts in bodies and string attribute values.
INVALID_CHARACTERS = re.compile(
    "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
GROUP_OR_DEDUP_ID = re.compile(r"[!-~]{1,128}")  # printable ASCII, no spaces
SYSTEM_ATTRIBUTE_NAMES = {"AWSTraceHeader"}


def invalid(message: str) -> SQSError:
    return SQSError(INVALID_PARAMETER_VALUE, message)


def check_body(body: str) -> None:
    if body == "":
        raise SQSError(
            MISSING_PARAMETER, "The request must contain the parameter MessageBody."
        )
    # Printable ASCII (base64 pickle, most JSON) is valid: skip the regex.
    if not (body.isascii() and body.isprintable()) and INVALID_CHARACTERS.search(body):
        raise SQSError(
            INVALID_MESSAGE_CONTENTS,
            "Invalid characters found. Valid unicode characters are #x9 | #xA | "
            "#xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )


def _check_attribute_name(name: str) -> None:
    lowered = name.lower()
    if (
        not ATTRIBUTE_NAME.fullmatch(name)
        or ".." in name
        or name.startswith(".")
        or name.endswith(".")
        or lowered.startswith("aws.")
        or lowered.startswith("amazon.")
    ):
        raise invalid(
            f"Message (user) attribute '{name}' must contain a non-empty message "
            "attribute name, no longer than 256 characters, made of "
            "alphanumeric characters, hyphens, underscores and periods, not "
            "starting or ending with a period nor containing two in a row, "
            "and not starting with 'AWS.' or 'Amazon.'."
        )


def check_attributes(attributes: MessageAttributes, system: bool = False) -> int:
    """Validate message attributes; returns the bytes they count for."""
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES and not system:
        raise invalid(
            f"Number of message attributes [{len(attributes)}] exceeds the "
            f"allowed maximum [{MAX_MESSAGE_ATTRIBUTES}]."
        )
    size = 0
    for name, attribute in attributes.items():
        if system:
            if name not in SYSTEM_ATTRIBUTE_NAMES:
                raise invalid(f"Message system attribute name '{name}' is invalid.")
        else:
            _check_attribute_name(name)
        data_type = attribute.get("DataType")
        if not data_type:
            raise invalid(
                f"The message attribute '{name}' must contain non-empty "
                "message attribute type."
            )
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary") or len(data_type) > 256:
            raise invalid(
                f"The message attribute '{name}' has an invalid message attribute "
                "type, the set of supported type prefixes is Binary, Number, "
                "and String."
            )
        size += len(name.encode()) + len(data_type.encode())
        size += _check_attribute_value(name, base, data_type, attribute)
    return size


def _check_attribute_value(
    name: str, base: str, data_type: str, attribute: dict[str, Any]
) -> int:
    if "StringListValues" in attribute or "BinaryListValues" in attribute:
        raise invalid(f"Message attribute list values in '{name}' are not supported.")
    if base == "Binary":
        value = attribute.get("BinaryValue")
        if not value:
            raise invalid(
                f"The message attribute '{name}' with type 'Binary' must use "
                "field 'Binary'."
            )
        if not isinstance(value, (bytes, bytearray)):
            raise invalid(
                f"The message attribute '{name}' must contain a binary value."
            )
        return len(value)
    value = attribute.get("StringValue")
    if value is None or value == "":
        raise invalid(
            f"The message attribute '{name}' must contain non-empty message "
            f"attribute value for message attribute type '{data_type}'."
        )
    if INVALID_CHARACTERS.search(value):
        raise SQSError(
            INVALID_MESSAGE_CONTENTS,
            f"The message attribute '{name}' contains invalid characters.",
        )
    if base == "Number":
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or len(value) > 38 + 2:
            raise invalid(
                f"Can't cast the value of message (user) attribute '{name}' "
                "to a number."
            )
    return len(value.encode("utf-8"))


def build_content(
    entry: dict[str, Any], key: AttributesKey | None = None
) -> MessageContent:
    """Validate one message's content (body, attributes) and checksum it.

    ``key`` is ``attributes_key`` of the entry's attributes when the caller
    has it already (None: worked out here).
    """
    body = entry.get("MessageBody", "")
    check_body(body)
    encoded = body.encode("utf-8")
    size = len(encoded)
    attributes = entry.get("MessageAttributes")
    md5_attributes = None
    if attributes:
        attributes, attributes_size, md5_attributes = checked_attributes(
            attributes, key
        )
        size += attributes_size
    else:
        attributes = None
    system = _own_copy(entry.get("MessageSystemAttributes"))
    if system:
        check_attributes(system, system=True)
    delay = entry.get("DelaySeconds")
    if delay is not None and not 0 <= delay <= MAX_DELAY_SECONDS:
        raise invalid(
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: "
            f"DelaySeconds must be >= 0 and <= {MAX_DELAY_SECONDS}."
        )
    if size > MAX_MESSAGE_SIZE:
        raise message_too_long(MAX_MESSAGE_SIZE)
    return MessageContent(
        body,
        size,
        attributes,
        system,
        md5_body=md5_of_bytes(encoded),
        md5_attributes=md5_attributes,
    )


# -- message attributes, checked once per distinct content ----------------------
#
# Job messages carry the same few attributes over and over (ContentType,
# JobContext - usually the empty context -, JobName): checking, copying and
# hashing them was a third of a send.  The result for string-only attributes
# is cached by their content; everything else takes the full path each time.

# (name, DataType, StringValue, name, DataType, StringValue, ...) in the
# caller's order, which is also the order they are returned in.
AttributesKey = tuple[str, ...]
# (the stored attributes, the bytes they count for, their MD5)
CheckedAttributes = tuple[MessageAttributes, int, str]

# Bounded so that attributes unique per message keep memory flat; cleared
# whole when full (a plain dict: get/set/clear are atomic under the GIL, and
# a lost entry only means checking that content again).
_CHECKED: dict[AttributesKey, CheckedAttributes] = {}
CHECKED_CACHE_LIMIT = 4096


def attributes_key(attributes: MessageAttributes | None) -> AttributesKey | None:
    """The content of string-only attributes as a hashable key, else None."""
    if not attributes:
        return None
    key: list[str] = []
    for name, attribute in attributes.items():
        # Exact types only: a str subclass may compare or hash differently.
        if type(attribute) is not dict or len(attribute) != 2:
            return None
        data_type = attribute.get("DataType")
        value = attribute.get("StringValue")
        if type(data_type) is not str or type(value) is not str:
            return None
        if type(name) is not str:
            return None
        key += (name, data_type, value)
    return tuple(key)


def checked_attributes(
    attributes: MessageAttributes, key: AttributesKey | None = None
) -> CheckedAttributes:
    """Validate message attributes: (our own copy, their size, their MD5).

    The copy may be shared by every message with the same attributes, so
    it must never be changed (readers copy what they hand out).
    """
    if key is None:
        key = attributes_key(attributes)
    if key is not None:
        cached = _CHECKED.get(key)
        if cached is not None:
            return cached
    owned = _own_copy(attributes)
    assert owned is not None  # attributes is not empty
    size = check_attributes(owned)
    result = (owned, size, md5_of_attributes(owned))
    if key is not None:  # only valid attributes get here
        if len(_CHECKED) >= CHECKED_CACHE_LIMIT:
            _CHECKED.clear()
        _CHECKED[key] = result
    return result


def _own_copy(attributes: MessageAttributes | None) -> MessageAttributes | None:
    """Copy the caller's attributes (they may reuse the dicts) and turn binary
    values into bytes the way botocore's serializer would (str is UTF-8
    encoded, a file-like object is read)."""
    if not attributes:
        return None
    copied: MessageAttributes = {}
    for name, attribute in attributes.items():
        attribute = dict(attribute)
        binary = attribute.get("BinaryValue")
        if isinstance(binary, str):
            attribute["BinaryValue"] = binary.encode("utf-8")
        elif isinstance(binary, bytearray):
            attribute["BinaryValue"] = bytes(binary)
        elif binary is not None and hasattr(binary, "read"):
            attribute["BinaryValue"] = binary.read()
        copied[name] = attribute
    return copied


def message_too_long(limit: int) -> SQSError:
    return invalid(
        f"One or more parameters are invalid. Reason: Message must be shorter "
        f"than {limit} bytes."
    )


def check_send_for_queue(
    queue: MemoryQueue,
    content: MessageContent,
    delay: int | None,
    group_id: str | None,
    dedup_id: str | None,
) -> str | None:
    """The checks that depend on the queue; returns the deduplication id."""
    limit = queue.settings.maximum_message_size
    if content.size > limit:
        raise message_too_long(limit)
    if group_id is None and dedup_id is None:
        if not queue.fifo:
            return None  # the usual standard-queue send: nothing more to check
        names: tuple[tuple[str, str | None], ...] = ()
    else:
        names = (("MessageGroupId", group_id), ("MessageDeduplicationId", dedup_id))
    for name, value in names:
        if value is not None and not GROUP_OR_DEDUP_ID.fullmatch(value):
            raise invalid(
                f"Value {value} for parameter {name} is invalid. Reason: {name} "
                "can only include alphanumeric and punctuation characters. 1 to "
                "128 in length."
            )
    if not queue.fifo:
        if dedup_id is not None:
            raise invalid(
                f"Value {dedup_id} for parameter MessageDeduplicationId is invalid. "
                "Reason: The request include parameter that is not valid for this "
                "queue type."
            )
        return None
    if delay is not None and delay != 0:
        raise invalid(
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: The "
            "request include parameter that is not valid for this queue type."
        )
    if group_id is None:
        raise SQSError(
            MISSING_PARAMETER, "The request must contain the parameter MessageGroupId."
        )
    if dedup_id is None:
        if not queue.settings.content_based_deduplication:
            raise invalid(
                "The queue should either have ContentBasedDeduplication enabled "
                "or MessageDeduplicationId provided explicitly"
            )
        dedup_id = hashlib.sha256(content.body.encode("utf-8")).hexdigest()
    return dedup_id


def check_batch(entries: list[dict[str, Any]], entry_name: str) -> None:
    """The whole-request checks every *Batch operation shares."""
    if not entries:
        raise SQSError(
            EMPTY_BATCH_REQUEST,
            f"There should be at least one {entry_name} in the request.",
        )
    if len(entries) > MAX_BATCH_ENTRIES:
        raise SQSError(
            TOO_MANY_ENTRIES,
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. "
            f"You have sent {len(entries)}.",
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry["Id"]
        if entry_id in seen:
            raise SQSError(BATCH_IDS_NOT_DISTINCT, f"Id {entry_id} repeated.")
        seen.add(entry_id)
    for entry in entries:
        if not BATCH_ENTRY_ID.fullmatch(entry["Id"]):
            raise SQSError(
                INVALID_BATCH_ENTRY_ID,
                "A batch entry id can only contain alphanumeric characters, "
                "hyphens and underscores. It can be at most 80 letters long.",
            )


def batch_payload_size(
    entries: list[dict[str, Any]], keys: list[AttributesKey | None] | None = None
) -> int:
    """Bytes a SendMessageBatch counts against its 1 MiB limit.

    ``keys``: each entry's ``attributes_key``, when the caller has them.
    """
    total = 0
    for i, entry in enumerate(entries):
        total += _utf8_len(entry.get("MessageBody", ""))
        attributes = entry.get("MessageAttributes")
        if not attributes:
            continue
        key = keys[i] if keys is not None else attributes_key(attributes)
        cached = _CHECKED.get(key) if key is not None else None
        # Same count as below for string-only attributes (which is all a
        # cached entry can be).
        total += cached[1] if cached is not None else _attributes_payload(attributes)
    return total


def _attributes_payload(attributes: MessageAttributes) -> int:
    total = 0
    for name, attribute in attributes.items():
        total += len(name.encode("utf-8")) + len(
            attribute.get("DataType", "").encode("utf-8")
        )
        value = attribute.get("StringValue")
        if value is not None:
            total += len(value.encode("utf-8"))
        binary = attribute.get("BinaryValue")
        if binary is not None:
            total += len(binary)
    return total


def _utf8_len(text: str) -> int:
    # ASCII is the common case (base64 pickle, most JSON): len() is exact.
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def check_batch_size(
    entries: list[dict[str, Any]], keys: list[AttributesKey | None] | None = None
) -> None:
    total = batch_payload_size(entries, keys)
    if total > MAX_MESSAGE_SIZE:
        raise SQSError(
            BATCH_REQUEST_TOO_LONG,
            f"Batch requests cannot be longer than {MAX_MESSAGE_SIZE} bytes. "
            f"You have sent {total} bytes.",
        )
