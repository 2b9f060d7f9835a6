"""Signed messages: producers sign, workers refuse what is unsigned or altered.

``SigningMiddleware(keys)`` is installed on the producers' and the workers'
env alike. Producers add an HMAC-SHA256 of the body and of every message
attribute (name, type and value, in name order) in the message attribute
``SqsWorkersSignature``, as ``v1:<key id>:<base64 digest>``. Workers check it
in ``before_decode``, before anything is decoded (a pickle runs code as it
is decoded), and refuse a message whose signature is missing, made with a
key they do not know, or does not match: it takes the failure path (retried
after the backoff, then the dead-letter queue by the redrive policy).

Rotation: pass several keys; the first signs, any verifies. Roll out the
new key second everywhere, then first, then drop the old one. A rolling
upgrade from unsigned producers: ``allow_unsigned=True`` on the workers
until every producer signs (signed messages are still checked).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from sqs_workers.middleware import JobRun, MessageRefused, Middleware, OutgoingMessage

SIGNATURE_ATTRIBUTE = "SqsWorkersSignature"
VERSION = "v1"


def key_id(key: bytes) -> str:
    """A short public name for a key (so a worker can pick the right one)."""
    return hashlib.sha256(b"sqs-workers key id\x00" + key).hexdigest()[:12]


def _as_bytes(key: bytes | str) -> bytes:
    return key.encode() if isinstance(key, str) else bytes(key)


def _signed_text(body: str, attributes: dict[str, Any] | None) -> bytes:
    """What the signature covers: the body and every other attribute.

    Each part is length-prefixed, so no two different messages share a text.
    """
    parts = [body]
    for name in sorted(attributes or ()):
        if name == SIGNATURE_ATTRIBUTE:
            continue
        attribute = attributes[name]  # type: ignore[index]
        value = attribute.get("StringValue")
        if value is None:
            binary = attribute.get("BinaryValue", b"")
            value = base64.b64encode(binary).decode() if binary else ""
        parts += [name, str(attribute.get("DataType", "")), value]
    return b"".join(
        len(encoded).to_bytes(4, "big") + encoded
        for encoded in (part.encode() for part in parts)
    )


class SigningMiddleware(Middleware):
    def __init__(
        self, keys: Sequence[bytes | str] | bytes | str, allow_unsigned: bool = False
    ) -> None:
        if isinstance(keys, (bytes, str)):
            keys = [keys]
        secrets = [_as_bytes(k) for k in keys]
        if not secrets or any(len(k) < 16 for k in secrets):
            raise ValueError(
                "SigningMiddleware needs at least one key of 16 bytes or more "
                "(e.g. secrets.token_bytes(32))"
            )
        self._signing_key = secrets[0]
        self._signing_id = key_id(secrets[0])
        self._keys = {key_id(k): k for k in secrets}
        self.allow_unsigned = allow_unsigned

    def sign(self, body: str, attributes: dict[str, Any] | None) -> str:
        digest = hmac.new(
            self._signing_key, _signed_text(body, attributes), hashlib.sha256
        ).digest()
        encoded = base64.b64encode(digest).decode()
        return f"{VERSION}:{self._signing_id}:{encoded}"

    def before_send(self, message: OutgoingMessage) -> None:
        signature = self.sign(message.body, message.attributes)
        message.set_attribute(SIGNATURE_ATTRIBUTE, signature)

    def before_decode(self, job: JobRun) -> None:
        for message in job.messages:
            self.verify(message)

    def verify(self, message: Any) -> None:
        """Raise ``MessageRefused`` unless ``message`` carries a good signature."""
        attributes = message.message_attributes or {}
        signature = (attributes.get(SIGNATURE_ATTRIBUTE) or {}).get("StringValue")
        if signature is None:
            if self.allow_unsigned:
                return
            raise MessageRefused(
                f"message {message.message_id} is not signed (no "
                f"{SIGNATURE_ATTRIBUTE} attribute); its sender lacks "
                "SigningMiddleware, or set allow_unsigned=True while "
                "producers are upgraded"
            )
        version, _, rest = signature.partition(":")
        signer, _, encoded = rest.partition(":")
        key = self._keys.get(signer)
        if version != VERSION or key is None:
            raise MessageRefused(
                f"message {message.message_id} is signed with an unknown key "
                f"or scheme ({version}:{signer}); add that key to the "
                "worker's SigningMiddleware keys"
            )
        expected = hmac.new(
            key, _signed_text(message.body, attributes), hashlib.sha256
        ).digest()
        try:
            given = base64.b64decode(encoded, validate=True)
        except ValueError:
            given = b""
        if not hmac.compare_digest(expected, given):
            raise MessageRefused(
                f"message {message.message_id} does not match its signature: "
                "its body or attributes were changed after signing"
            )
