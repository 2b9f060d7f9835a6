"""A small in-memory S3: what large payloads (``sqs_workers.payloads``) use.

``MemorySession().client("s3")`` returns a ``MemoryS3Client`` whose buckets
live in the session's ``MemoryAWS`` (so every session on it sees the same
objects). It offers ``create_bucket``, ``head_bucket``, ``put_object``,
``get_object``, ``delete_object`` and ``list_objects_v2``, with S3's
responses and S3's error codes (``NoSuchBucket``, ``NoSuchKey``,
``AccessDenied``) raised as botocore ``ClientError``s, as boto3 raises them.

``deny_access(bucket)`` makes every call on a bucket fail with
``AccessDenied``, as a missing IAM permission would (for tests).
"""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from typing import Any

from botocore.exceptions import ClientError
from botocore.response import StreamingBody


class MemoryS3:
    """The buckets of one in-memory AWS account."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, dict[str, bytes]] = {}
        self.denied: set[str] = set()

    def deny_access(self, bucket: str) -> None:
        """Every later call on ``bucket`` fails with AccessDenied."""
        with self.lock:
            self.denied.add(bucket)

    def objects(self, bucket: str) -> dict[str, bytes]:
        """A copy of a bucket's objects by key (for tests to look at)."""
        with self.lock:
            return dict(self.buckets.get(bucket, {}))


def _error(code: str, message: str, status: int, operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "RequestId": uuid.uuid4().hex,
            "HTTPStatusCode": status,
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        },
    }
    return ClientError(response, operation)


def _metadata(status: int = 200) -> dict[str, Any]:
    return {
        "RequestId": uuid.uuid4().hex,
        "HTTPStatusCode": status,
        "HTTPHeaders": {},
        "RetryAttempts": 0,
    }


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        return _as_bytes(body.read())
    raise TypeError(f"put_object Body must be bytes, str or a file, not {body!r}")


class MemoryS3Client:
    """What ``MemorySession().client("s3")`` returns (keyword arguments only)."""

    def __init__(self, s3: MemoryS3, region_name: str | None = None) -> None:
        self._s3 = s3
        self._region = region_name or "us-east-1"

    @property
    def store(self) -> MemoryS3:
        return self._s3

    def _bucket(self, bucket: str, operation: str) -> dict[str, bytes]:
        """The bucket's objects (lock held), or S3's error for it."""
        if bucket in self._s3.denied:
            raise _error("AccessDenied", "Access Denied", 403, operation)
        objects = self._s3.buckets.get(bucket)
        if objects is None:
            raise _error(
                "NoSuchBucket", "The specified bucket does not exist", 404, operation
            )
        return objects

    def create_bucket(self, *, Bucket: str, **_: Any) -> dict[str, Any]:
        with self._s3.lock:
            if Bucket in self._s3.buckets:
                raise _error(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded "
                    "and you already own it.",
                    409,
                    "CreateBucket",
                )
            self._s3.buckets[Bucket] = {}
        return {"Location": f"/{Bucket}", "ResponseMetadata": _metadata()}

    def head_bucket(self, *, Bucket: str, **_: Any) -> dict[str, Any]:
        with self._s3.lock:
            if Bucket in self._s3.denied:
                # HEAD answers carry no body: S3 gives the bare status code.
                raise _error("403", "Forbidden", 403, "HeadBucket")
            if Bucket not in self._s3.buckets:
                raise _error("404", "Not Found", 404, "HeadBucket")
        return {"BucketRegion": self._region, "ResponseMetadata": _metadata()}

    def put_object(self, *, Bucket: str, Key: str, Body: Any = b"", **_: Any) -> Any:
        data = _as_bytes(Body)
        with self._s3.lock:
            self._bucket(Bucket, "PutObject")[Key] = data
        return {
            "ETag": f'"{hashlib.md5(data).hexdigest()}"',
            "ResponseMetadata": _metadata(),
        }

    def get_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        with self._s3.lock:
            data = self._bucket(Bucket, "GetObject").get(Key)
        if data is None:
            raise _error(
                "NoSuchKey", "The specified key does not exist.", 404, "GetObject"
            )
        return {
            "Body": StreamingBody(io.BytesIO(data), len(data)),
            "ContentLength": len(data),
            "ETag": f'"{hashlib.md5(data).hexdigest()}"',
            "ResponseMetadata": _metadata(),
        }

    def delete_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        # Like S3: deleting a key that is not there succeeds.
        with self._s3.lock:
            self._bucket(Bucket, "DeleteObject").pop(Key, None)
        return {"ResponseMetadata": _metadata(204)}

    def list_objects_v2(
        self, *, Bucket: str, Prefix: str = "", **_: Any
    ) -> dict[str, Any]:
        with self._s3.lock:
            objects = self._bucket(Bucket, "ListObjectsV2")
            keys = sorted(k for k in objects if k.startswith(Prefix))
            contents = [{"Key": k, "Size": len(objects[k])} for k in keys]
        response: dict[str, Any] = {
            "Name": Bucket,
            "Prefix": Prefix,
            "KeyCount": len(contents),
            "IsTruncated": False,
            "ResponseMetadata": _metadata(),
        }
        if contents:
            response["Contents"] = contents
        return response

    def close(self) -> None:
        """Nothing to release; present because boto3 clients have it."""
