"""A boto3-compatible low-level SQS client backed by a MemoryAWS.

Method names, keyword arguments, response shapes and exceptions follow a real
``boto3.client("sqs")``: parameters go through botocore's own validator (so a
typo raises the same ParamValidationError), keys are omitted where boto3
omits them, and errors are the client's modeled exception classes.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.hooks import HierarchicalEmitter
from botocore.paginate import Paginator

from .attributes import ALL_ORDER, KNOWN, MAX_VISIBILITY_TIMEOUT, MAX_WAIT_TIME_SECONDS
from .errors import (
    INVALID_ATTRIBUTE_NAME,
    SQSError,
    client_exceptions,
    service_model,
    to_client_error,
)
from .message import MemoryMessage, MessageAttributes, md5_of_attributes, new_id
from .params import validate
from .queue import MemoryQueue
from .store import MemoryAWS, queue_does_not_exist
from .validation import (
    attributes_key,
    build_content,
    check_batch,
    check_batch_size,
    invalid,
)

ATTEMPT_ID = re.compile(r"[!-~]{1,128}")  # printable ASCII, no spaces
SENDER_ID = "AIDAMEMORYSQS00000000"
SYSTEM_ATTRIBUTES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
Response = dict[str, Any]


class ClientEvents(HierarchicalEmitter):
    """botocore's emitter that knows whether anyone listens.

    Emitting costs microseconds per call even with no handler; benchmarks
    that count calls register one, everyone else skips the emit entirely.
    """

    def __init__(self) -> None:
        super().__init__()
        self.active = False

    def _register_section(self, *args: Any, **kwargs: Any) -> None:
        self.active = True
        super()._register_section(*args, **kwargs)


class ClientMeta:
    """The parts of botocore's ClientMeta that callers look at."""

    def __init__(self, region_name: str, endpoint_url: str, config: Any) -> None:
        self.region_name = region_name
        self.endpoint_url = endpoint_url
        # Real clients always carry a Config; callers read e.g. its retries.
        base = Config(region_name=region_name)
        self.config = base.merge(config) if isinstance(config, Config) else base
        self.events = ClientEvents()
        self.service_model = service_model()
        self.partition = "aws"
        self.method_to_api_mapping = {
            botocore.xform_name(op): op for op in self.service_model.operation_names
        }


def _metadata() -> dict[str, Any]:
    return {
        "RequestId": new_id(),
        "HTTPStatusCode": 200,
        "HTTPHeaders": {},
        "RetryAttempts": 0,
    }


def _operation(
    name: str,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a method as API operation `name`: validate, emit, map errors."""

    def decorate(method: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(method)
        def call(self: MemorySQSClient, *args: Any, **params: Any) -> Response:
            if args:
                raise TypeError(f"{method.__name__}() only accepts keyword arguments.")
            return self._invoke(name, method, params)

        return call

    return decorate


class MemorySQSClient:
    """What ``MemorySession().client("sqs")`` returns."""

    def __init__(
        self,
        aws: MemoryAWS,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        config: Any = None,
    ) -> None:
        self._aws = aws
        self._region = region_name or "us-east-1"
        self.meta = ClientMeta(
            self._region,
            endpoint_url or f"https://sqs.{self._region}.amazonaws.com",
            config,
        )
        self.exceptions = client_exceptions()
        self._model = self.meta.service_model

    @property
    def aws(self) -> MemoryAWS:
        return self._aws

    # -- plumbing -----------------------------------------------------------

    def _invoke(
        self, name: str, method: Callable[..., Response], params: dict[str, Any]
    ) -> Response:
        model = self._model.operation_model(name)
        validate(params, model)
        # Read once: a handler registered mid-call must not see half a call.
        events = self.meta.events if self.meta.events.active else None
        context: dict[str, Any] = {}
        if events is not None:
            events.emit(
                f"before-call.sqs.{name}", model=model, params=params, context=context
            )
        try:
            response = method(self, **params)
        except SQSError as error:
            exception = to_client_error(error, name)
            if events is not None:
                events.emit(
                    f"after-call.sqs.{name}",
                    http_response=None,
                    parsed=exception.response,
                    model=model,
                    context=context,
                )
            raise exception from None
        response["ResponseMetadata"] = _metadata()
        if events is not None:
            events.emit(
                f"after-call.sqs.{name}",
                http_response=None,
                parsed=response,
                model=model,
                context=context,
            )
        return response

    def can_paginate(self, operation_name: str) -> bool:
        model = botocore.session.get_session().get_paginator_model("sqs")
        api = self.meta.method_to_api_mapping.get(operation_name, operation_name)
        try:
            model.get_paginator(api)
        except ValueError:
            return False
        return True

    def get_paginator(self, operation_name: str) -> Paginator:
        api = self.meta.method_to_api_mapping.get(operation_name, operation_name)
        config = (
            botocore.session.get_session().get_paginator_model("sqs").get_paginator(api)
        )
        method = getattr(self, botocore.xform_name(api))
        return Paginator(method, config, self._model.operation_model(api))

    def close(self) -> None:
        """Nothing to release; present because boto3 clients have it."""

    # -- queues -------------------------------------------------------------

    @_operation("CreateQueue")
    def create_queue(
        self,
        QueueName: str,
        Attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> Response:
        queue = self._aws.create_queue(
            self._region, QueueName, dict(Attributes or {}), dict(tags or {})
        )
        return {"QueueUrl": queue.url}

    @_operation("DeleteQueue")
    def delete_queue(self, QueueUrl: str) -> Response:
        self._aws.delete_queue(self._region, QueueUrl)
        return {}

    @_operation("GetQueueUrl")
    def get_queue_url(
        self, QueueName: str, QueueOwnerAWSAccountId: str | None = None
    ) -> Response:
        if QueueOwnerAWSAccountId not in (None, self._aws.account_id):
            raise queue_does_not_exist()
        return {"QueueUrl": self._aws.get_queue(self._region, QueueName).url}

    @_operation("ListQueues")
    def list_queues(
        self,
        QueueNamePrefix: str = "",
        NextToken: str | None = None,
        MaxResults: int | None = None,
    ) -> Response:
        if MaxResults is not None and not 1 <= MaxResults <= 1000:
            raise invalid(
                f"Value {MaxResults} for parameter MaxResults is invalid. "
                "Reason: MaxResults must be an integer between 1 and 1000."
            )
        queues = self._aws.list_queues(self._region, QueueNamePrefix)
        start = 0
        if NextToken:
            after = _decode_token(NextToken, "NextToken")
            start = next(
                (i for i, q in enumerate(queues) if q.name > after), len(queues)
            )
        limit = MaxResults or 1000
        page = queues[start : start + limit]
        response: Response = {}
        if page:
            response["QueueUrls"] = [q.url for q in page]
        if MaxResults is not None and start + limit < len(queues):
            response["NextToken"] = _encode_token(page[-1].name)
        return response

    @_operation("GetQueueAttributes")
    def get_queue_attributes(
        self, QueueUrl: str, AttributeNames: list[str] | None = None
    ) -> Response:
        names: set[str] = set()
        for name in AttributeNames or ():
            if name == "All":
                names.update(ALL_ORDER)
            elif name in KNOWN:
                names.add(name)
            else:
                raise SQSError(INVALID_ATTRIBUTE_NAME, f"Unknown Attribute {name}.")
        if not names:
            self._aws.get_attributes(self._region, QueueUrl, set())  # existence
            return {}
        self._aws.move_tasks_pump()
        attributes = self._aws.get_attributes(self._region, QueueUrl, names)
        return {"Attributes": attributes} if attributes else {}

    @_operation("SetQueueAttributes")
    def set_queue_attributes(
        self, QueueUrl: str, Attributes: dict[str, str]
    ) -> Response:
        self._aws.set_attributes(self._region, QueueUrl, dict(Attributes))
        return {}

    @_operation("PurgeQueue")
    def purge_queue(self, QueueUrl: str) -> Response:
        self._aws.purge_queue(self._region, QueueUrl)
        return {}

    @_operation("ListDeadLetterSourceQueues")
    def list_dead_letter_source_queues(
        self,
        QueueUrl: str,
        NextToken: str | None = None,
        MaxResults: int | None = None,
    ) -> Response:
        queues = self._aws.dead_letter_sources(self._region, QueueUrl)
        start = int(_decode_token(NextToken, "NextToken")) if NextToken else 0
        limit = MaxResults or 1000
        page = queues[start : start + limit]
        response: Response = {"queueUrls": [q.url for q in page]}
        if MaxResults is not None and start + limit < len(queues):
            response["NextToken"] = _encode_token(str(start + limit))
        return response

    @_operation("TagQueue")
    def tag_queue(self, QueueUrl: str, Tags: dict[str, str]) -> Response:
        self._aws.tag_queue(self._region, QueueUrl, dict(Tags), [])
        return {}

    @_operation("UntagQueue")
    def untag_queue(self, QueueUrl: str, TagKeys: list[str]) -> Response:
        self._aws.tag_queue(self._region, QueueUrl, {}, list(TagKeys))
        return {}

    @_operation("ListQueueTags")
    def list_queue_tags(self, QueueUrl: str) -> Response:
        tags = self._aws.tag_queue(self._region, QueueUrl, {}, [])
        return {"Tags": tags} if tags else {}

    @_operation("AddPermission")
    def add_permission(
        self,
        QueueUrl: str,
        Label: str,
        AWSAccountIds: list[str],
        Actions: list[str],
    ) -> Response:
        self._aws.add_permission(self._region, QueueUrl, Label, AWSAccountIds, Actions)
        return {}

    @_operation("RemovePermission")
    def remove_permission(self, QueueUrl: str, Label: str) -> Response:
        self._aws.remove_permission(self._region, QueueUrl, Label)
        return {}

    # -- messages -------------------------------------------------------------

    @_operation("SendMessage")
    def send_message(self, QueueUrl: str, **entry: Any) -> Response:
        content = build_content(entry)
        (result,) = self._aws.send(
            self._region,
            QueueUrl,
            [
                (
                    content,
                    entry.get("DelaySeconds"),
                    entry.get("MessageGroupId"),
                    entry.get("MessageDeduplicationId"),
                )
            ],
        )
        if isinstance(result, SQSError):
            raise result
        message_id, sequence_number = result
        response: Response = {"MD5OfMessageBody": content.md5_body}
        if content.md5_attributes is not None:
            response["MD5OfMessageAttributes"] = content.md5_attributes
        if content.md5_system_attributes is not None:
            response["MD5OfMessageSystemAttributes"] = content.md5_system_attributes
        response["MessageId"] = message_id
        if sequence_number is not None:
            response["SequenceNumber"] = sequence_number
        return response

    @_operation("SendMessageBatch")
    def send_message_batch(
        self, QueueUrl: str, Entries: list[dict[str, Any]]
    ) -> Response:
        check_batch(Entries, "SendMessageBatchRequestEntry")
        # Worked out once for the batch size and each entry's content.
        keys = [attributes_key(e.get("MessageAttributes")) for e in Entries]
        check_batch_size(Entries, keys)
        successful: list[Response] = []
        failed: list[Response] = []
        valid: list[tuple[dict[str, Any], Any]] = []
        for entry, key in zip(Entries, keys, strict=True):
            try:
                valid.append((entry, build_content(entry, key)))
            except SQSError as error:
                failed.append(_failure(entry["Id"], error))
        results = self._aws.send(
            self._region,
            QueueUrl,
            [
                (
                    content,
                    entry.get("DelaySeconds"),
                    entry.get("MessageGroupId"),
                    entry.get("MessageDeduplicationId"),
                )
                for entry, content in valid
            ],
        )
        for (entry, content), result in zip(valid, results, strict=True):
            if isinstance(result, SQSError):
                failed.append(_failure(entry["Id"], result))
                continue
            item: Response = {
                "Id": entry["Id"],
                "MessageId": result[0],
                "MD5OfMessageBody": content.md5_body,
            }
            if content.md5_attributes is not None:
                item["MD5OfMessageAttributes"] = content.md5_attributes
            if content.md5_system_attributes is not None:
                item["MD5OfMessageSystemAttributes"] = content.md5_system_attributes
            if result[1] is not None:
                item["SequenceNumber"] = result[1]
            successful.append(item)
        return {"Successful": successful, "Failed": failed}

    @_operation("ReceiveMessage")
    def receive_message(
        self,
        QueueUrl: str,
        AttributeNames: list[str] | None = None,
        MessageSystemAttributeNames: list[str] | None = None,
        MessageAttributeNames: list[str] | None = None,
        MaxNumberOfMessages: int | None = None,
        VisibilityTimeout: int | None = None,
        WaitTimeSeconds: int | None = None,
        ReceiveRequestAttemptId: str | None = None,
    ) -> Response:
        count = 1 if MaxNumberOfMessages is None else MaxNumberOfMessages
        _check_range(
            "MaxNumberOfMessages",
            count,
            1,
            10,
            "Must be between 1 and 10, if provided.",
        )
        if VisibilityTimeout is not None:
            _check_range(
                "VisibilityTimeout",
                VisibilityTimeout,
                0,
                MAX_VISIBILITY_TIMEOUT,
                f"Must be >= 0 and <= {MAX_VISIBILITY_TIMEOUT}, if provided.",
            )
        if WaitTimeSeconds is not None:
            _check_range(
                "WaitTimeSeconds",
                WaitTimeSeconds,
                0,
                MAX_WAIT_TIME_SECONDS,
                f"Must be >= 0 and <= {MAX_WAIT_TIME_SECONDS}, if provided.",
            )
        system_names = _system_attribute_names(
            [*(AttributeNames or ()), *(MessageSystemAttributeNames or ())]
        )
        selector = _attribute_selector(MessageAttributeNames or [])
        render = functools.partial(_render, system_names, selector)
        if ReceiveRequestAttemptId is not None and not ATTEMPT_ID.fullmatch(
            ReceiveRequestAttemptId
        ):
            raise invalid(
                f"Value {ReceiveRequestAttemptId} for parameter "
                "ReceiveRequestAttemptId is invalid. Reason: It can only contain "
                "alphanumeric and punctuation characters, 1 to 128 in length."
            )
        messages = self._aws.receive(
            self._region,
            QueueUrl,
            count,
            VisibilityTimeout,
            WaitTimeSeconds,
            render,
            ReceiveRequestAttemptId,
        )
        return {"Messages": messages} if messages else {}

    @_operation("DeleteMessage")
    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> Response:
        (error,) = self._aws.delete_messages(self._region, QueueUrl, [ReceiptHandle])
        if error is not None:
            raise error
        return {}

    @_operation("DeleteMessageBatch")
    def delete_message_batch(
        self, QueueUrl: str, Entries: list[dict[str, Any]]
    ) -> Response:
        check_batch(Entries, "DeleteMessageBatchRequestEntry")
        errors = self._aws.delete_messages(
            self._region, QueueUrl, [e["ReceiptHandle"] for e in Entries]
        )
        return _batch_result(Entries, errors)

    @_operation("ChangeMessageVisibility")
    def change_message_visibility(
        self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> Response:
        _check_visibility(VisibilityTimeout)
        (error,) = self._aws.change_visibility(
            self._region, QueueUrl, [(ReceiptHandle, VisibilityTimeout)]
        )
        if error is not None:
            raise error
        return {}

    @_operation("ChangeMessageVisibilityBatch")
    def change_message_visibility_batch(
        self, QueueUrl: str, Entries: list[dict[str, Any]]
    ) -> Response:
        check_batch(Entries, "ChangeMessageVisibilityBatchRequestEntry")
        for entry in Entries:
            _check_visibility(entry.get("VisibilityTimeout", 0))
        errors = self._aws.change_visibility(
            self._region,
            QueueUrl,
            [(e["ReceiptHandle"], e.get("VisibilityTimeout", 0)) for e in Entries],
        )
        return _batch_result(Entries, errors)

    # -- message move tasks ------------------------------------------------------

    @_operation("StartMessageMoveTask")
    def start_message_move_task(
        self,
        SourceArn: str,
        DestinationArn: str | None = None,
        MaxNumberOfMessagesPerSecond: int | None = None,
    ) -> Response:
        handle = self._aws.start_move_task(
            SourceArn, DestinationArn, MaxNumberOfMessagesPerSecond
        )
        return {"TaskHandle": handle}

    @_operation("ListMessageMoveTasks")
    def list_message_move_tasks(
        self, SourceArn: str, MaxResults: int | None = None
    ) -> Response:
        limit = 1 if MaxResults is None else MaxResults
        _check_range(
            "MaxResults", limit, 1, 10, "Must be between 1 and 10, if provided."
        )
        return {"Results": self._aws.list_move_tasks(SourceArn, limit)}

    @_operation("CancelMessageMoveTask")
    def cancel_message_move_task(self, TaskHandle: str) -> Response:
        moved = self._aws.cancel_move_task(TaskHandle)
        return {"ApproximateNumberOfMessagesMoved": moved}


# -- helpers ----------------------------------------------------------------------


def _encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": value}).encode()).decode()


def _decode_token(token: str, parameter: str) -> str:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
        return str(value)
    except (ValueError, KeyError, TypeError):
        raise invalid(f"Invalid {parameter}.") from None


def _check_range(name: str, value: int, low: int, high: int, reason: str) -> None:
    if not low <= value <= high:
        raise invalid(
            f"Value {value} for parameter {name} is invalid. Reason: {reason}"
        )


def _check_visibility(value: int) -> None:
    if not 0 <= value <= MAX_VISIBILITY_TIMEOUT:
        raise invalid(
            f"Value {value} for parameter VisibilityTimeout is invalid. Reason: "
            f"Must be >= 0 and <= {MAX_VISIBILITY_TIMEOUT}, if provided."
        )


def _failure(entry_id: str, error: SQSError) -> Response:
    return {
        "Id": entry_id,
        "SenderFault": error.sender_fault,
        "Code": error.kind.code,
        "Message": error.message,
    }


def _batch_result(
    entries: list[dict[str, Any]], errors: list[SQSError | None]
) -> Response:
    successful: list[Response] = []
    failed: list[Response] = []
    for entry, error in zip(entries, errors, strict=True):
        if error is None:
            successful.append({"Id": entry["Id"]})
        else:
            failed.append(_failure(entry["Id"], error))
    return {"Successful": successful, "Failed": failed}


def _system_attribute_names(requested: list[str]) -> tuple[str, ...]:
    if "All" in requested:
        return SYSTEM_ATTRIBUTES
    return tuple(n for n in SYSTEM_ATTRIBUTES if n in requested)


AttributeSelector = Callable[[str], bool] | None


def _attribute_selector(requested: list[str]) -> AttributeSelector:
    """A predicate for MessageAttributeNames ("All", ".*", "prefix.*", names)."""
    if not requested:
        return None
    if "All" in requested or ".*" in requested:
        return _select_all
    exact = {n for n in requested if not n.endswith(".*")}
    prefixes = tuple(n[:-1] for n in requested if n.endswith(".*"))
    return lambda name: name in exact or name.startswith(prefixes)


def _select_all(name: str) -> bool:
    """The selector of "All": ``_render`` recognises it and skips the calls."""
    return True


def _render(
    system_names: tuple[str, ...],
    selector: AttributeSelector,
    queue: MemoryQueue,
    message: MemoryMessage,
    handle: str,
) -> Response:
    """A received message as boto3 returns it (runs under the store lock)."""
    result: Response = {
        "MessageId": message.message_id,
        "ReceiptHandle": handle,
        "MD5OfBody": message.md5_body,
        "Body": message.body,
    }
    if system_names:
        attributes = (
            _all_system_attributes(message)
            if system_names is SYSTEM_ATTRIBUTES
            else _system_attributes(message, system_names)
        )
        if attributes:
            result["Attributes"] = attributes
    stored = message.attributes
    if selector is not None and stored:
        if selector is _select_all:
            # The common request: every attribute, whose MD5 is known.
            # Copies, since stored attributes may be shared between messages
            # and the receiver may change what it gets.
            result["MD5OfMessageAttributes"] = message.md5_attributes
            result["MessageAttributes"] = {
                name: value.copy() for name, value in stored.items()
            }
            return result
        chosen: MessageAttributes = {
            name: dict(value) for name, value in stored.items() if selector(name)
        }
        if chosen:
            result["MD5OfMessageAttributes"] = (
                message.md5_attributes
                if len(chosen) == len(stored)
                else md5_of_attributes(chosen)
            )
            result["MessageAttributes"] = chosen
    return result


def _system_attributes(
    message: MemoryMessage, names: tuple[str, ...]
) -> dict[str, str]:
    every = _all_system_attributes(message)
    return {n: every[n] for n in names if n in every}


def _all_system_attributes(message: MemoryMessage) -> dict[str, str]:
    """Every system attribute the message has, in SYSTEM_ATTRIBUTES order."""
    attributes = {
        "SenderId": SENDER_ID,
        "SentTimestamp": str(int(message.sent_at * 1000)),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(
            int((message.first_receive_at or message.received_at) * 1000)
        ),
    }
    if message.sequence_number is not None:
        attributes["SequenceNumber"] = message.sequence_number
    if message.dedup_id is not None:
        attributes["MessageDeduplicationId"] = message.dedup_id
    if message.group_id is not None:
        attributes["MessageGroupId"] = message.group_id
    system = message.system_attributes
    if system and "AWSTraceHeader" in system:
        trace = system["AWSTraceHeader"].get("StringValue")
        if trace is not None:
            attributes["AWSTraceHeader"] = trace
    if message.dead_letter_source_arn is not None:
        attributes["DeadLetterQueueSourceArn"] = message.dead_letter_source_arn
    return attributes
