"""Queue management: create, find, list, attributes, purge, delete."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from .helpers import Backend, assert_error, error_of, send

NOT_EXIST = "AWS.SimpleQueueService.NonExistentQueue"


def test_create_returns_url_ending_in_account_and_name(sqs: Backend) -> None:
    name = sqs.name()
    url = sqs.track(sqs.client.create_queue(QueueName=name)["QueueUrl"])
    assert re.search(rf"/\d{{12}}/{name}$", url)
    assert sqs.client.get_queue_url(QueueName=name)["QueueUrl"] == url
    if sqs.memory:
        assert url == f"https://sqs.us-east-1.amazonaws.com/000000000000/{name}"


def test_queue_arn_names_region_account_and_queue(sqs: Backend, queue: str) -> None:
    name = queue.rsplit("/", 1)[1]
    arn = sqs.arn(queue)
    assert re.fullmatch(rf"arn:aws:sqs:us-east-1:\d{{12}}:{name}", arn)


def test_create_is_idempotent_with_same_attributes(sqs: Backend) -> None:
    name = sqs.name()
    first = sqs.client.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": "7"}
    )
    sqs.track(first["QueueUrl"])
    again = sqs.client.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": "7"}
    )
    assert again["QueueUrl"] == first["QueueUrl"]
    # Giving no attributes is no conflict either.
    assert sqs.client.create_queue(QueueName=name)["QueueUrl"] == first["QueueUrl"]


def test_create_with_different_attributes_fails(sqs: Backend) -> None:
    name = sqs.name()
    sqs.track(sqs.client.create_queue(QueueName=name)["QueueUrl"])
    error = error_of(
        lambda: sqs.client.create_queue(
            QueueName=name, Attributes={"VisibilityTimeout": "5"}
        )
    )
    assert_error(error, "QueueAlreadyExists", exception="QueueNameExists")
    assert isinstance(error, sqs.client.exceptions.QueueNameExists)


@pytest.mark.parametrize("name", ["bad name", "x" * 81, "dots.dots", "ü"])
def test_invalid_queue_names_are_refused(sqs: Backend, name: str) -> None:
    error = error_of(lambda: sqs.client.create_queue(QueueName=name))
    assert_error(
        error,
        "InvalidParameterValue",
        message="Can only include alphanumeric characters, hyphens, or "
        "underscores. 1 to 80 in length",
    )


def test_name_of_80_characters_is_fine(sqs: Backend) -> None:
    name = (sqs.name() + "x" * 80)[:80]
    sqs.track(sqs.client.create_queue(QueueName=name)["QueueUrl"])


def test_fifo_queue_needs_fifo_suffix(sqs: Backend) -> None:
    error = error_of(
        lambda: sqs.client.create_queue(
            QueueName=sqs.name(), Attributes={"FifoQueue": "true"}
        )
    )
    assert_error(error, "InvalidParameterValue")


@pytest.mark.moto_differs(reason="moto creates a standard queue named *.fifo")
def test_fifo_suffix_on_standard_queue_is_refused(sqs: Backend) -> None:
    name = sqs.name(fifo=True)
    try:
        error = error_of(lambda: sqs.client.create_queue(QueueName=name))
    finally:
        try:
            sqs.client.delete_queue(
                QueueUrl=sqs.client.get_queue_url(QueueName=name)["QueueUrl"]
            )
        except ClientError:
            pass
    assert_error(error, "InvalidParameterValue")


def test_missing_queue_raises_queue_does_not_exist(sqs: Backend) -> None:
    error = error_of(lambda: sqs.client.get_queue_url(QueueName=sqs.name()))
    assert_error(
        error,
        NOT_EXIST,
        exception="QueueDoesNotExist",
        message="The specified queue does not exist.",
    )
    assert error.response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"
    assert isinstance(error, sqs.client.exceptions.QueueDoesNotExist)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, u: c.send_message(QueueUrl=u, MessageBody="x"),
        lambda c, u: c.receive_message(QueueUrl=u),
        lambda c, u: c.get_queue_attributes(QueueUrl=u, AttributeNames=["All"]),
        lambda c, u: c.purge_queue(QueueUrl=u),
        lambda c, u: c.delete_queue(QueueUrl=u),
    ],
    ids=["send", "receive", "attributes", "purge", "delete"],
)
def test_deleted_queue_does_not_exist(sqs: Backend, call: object) -> None:
    url = sqs.create()
    sqs.client.delete_queue(QueueUrl=url)
    error = error_of(lambda: call(sqs.client, url))  # type: ignore[operator]
    assert_error(error, NOT_EXIST, exception="QueueDoesNotExist")


def test_list_queues_by_prefix(sqs: Backend) -> None:
    urls = {sqs.create("alpha"), sqs.create("alpha"), sqs.create("beta")}
    listed = sqs.client.list_queues(QueueNamePrefix=f"{sqs.prefix}-alpha")["QueueUrls"]
    assert set(listed) == {u for u in urls if "-alpha" in u}
    everything = sqs.client.list_queues(QueueNamePrefix=sqs.prefix)["QueueUrls"]
    assert set(everything) == urls


def test_list_queues_without_match_has_no_urls_key(sqs: Backend) -> None:
    response = sqs.client.list_queues(QueueNamePrefix=f"{sqs.prefix}-none")
    assert "QueueUrls" not in response


def test_list_queues_pages_with_max_results(sqs: Backend) -> None:
    urls = {sqs.create() for _ in range(5)}
    seen: list[str] = []
    kwargs = {"QueueNamePrefix": sqs.prefix, "MaxResults": 2}
    pages = 0
    while True:
        page = sqs.client.list_queues(**kwargs)
        pages += 1
        assert len(page.get("QueueUrls", [])) <= 2
        seen.extend(page.get("QueueUrls", []))
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert sorted(seen) == sorted(urls)
    assert pages == 3


def test_list_queues_paginator(sqs: Backend) -> None:
    urls = {sqs.create() for _ in range(3)}
    paginator = sqs.client.get_paginator("list_queues")
    seen = [
        url
        for page in paginator.paginate(
            QueueNamePrefix=sqs.prefix, PaginationConfig={"PageSize": 2}
        )
        for url in page.get("QueueUrls", [])
    ]
    assert sorted(seen) == sorted(urls)


def test_default_attributes(sqs: Backend, queue: str) -> None:
    attributes = sqs.attributes(queue)
    assert attributes["VisibilityTimeout"] == "30"
    assert attributes["DelaySeconds"] == "0"
    assert attributes["MaximumMessageSize"] == "1048576"
    assert attributes["MessageRetentionPeriod"] == "345600"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "0"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "0"
    assert int(float(attributes["CreatedTimestamp"])) > 1_600_000_000
    assert int(float(attributes["LastModifiedTimestamp"])) > 1_600_000_000
    assert "FifoQueue" not in attributes
    assert "RedrivePolicy" not in attributes


def test_fifo_attributes(sqs: Backend) -> None:
    url = sqs.create(fifo=True, ContentBasedDeduplication="true")
    attributes = sqs.attributes(url)
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"


def test_get_attributes_without_names_has_no_attributes_key(
    sqs: Backend, queue: str
) -> None:
    assert "Attributes" not in sqs.client.get_queue_attributes(QueueUrl=queue)


def test_get_selected_attributes_only(sqs: Backend, queue: str) -> None:
    attributes = sqs.attributes(queue, "VisibilityTimeout", "DelaySeconds")
    assert attributes == {"VisibilityTimeout": "30", "DelaySeconds": "0"}


def test_unknown_attribute_name_is_refused(sqs: Backend, queue: str) -> None:
    error = error_of(
        lambda: sqs.client.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["Bogus"]
        )
    )
    assert_error(
        error,
        "InvalidAttributeName",
        exception="InvalidAttributeName",
        message="Unknown Attribute Bogus.",
    )


def test_set_attributes_round_trip(sqs: Backend, queue: str) -> None:
    values = {
        "VisibilityTimeout": "45",
        "DelaySeconds": "3",
        "MessageRetentionPeriod": "120",
        "MaximumMessageSize": "2048",
        "ReceiveMessageWaitTimeSeconds": "2",
    }
    sqs.client.set_queue_attributes(QueueUrl=queue, Attributes=values)
    assert sqs.attributes(queue, *values) == values


@pytest.mark.moto_differs(reason="moto accepts any attribute name")
def test_set_unknown_attribute_is_refused(sqs: Backend, queue: str) -> None:
    error = error_of(
        lambda: sqs.client.set_queue_attributes(
            QueueUrl=queue, Attributes={"Bogus": "1"}
        )
    )
    assert_error(error, "InvalidAttributeName", exception="InvalidAttributeName")


@pytest.mark.moto_differs(reason="moto does not range-check attribute values")
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VisibilityTimeout", "43201"),
        ("DelaySeconds", "901"),
        ("MessageRetentionPeriod", "59"),
        ("MaximumMessageSize", "1048577"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("VisibilityTimeout", "soon"),
    ],
)
def test_out_of_range_attribute_is_refused(
    sqs: Backend, queue: str, name: str, value: str
) -> None:
    error = error_of(
        lambda: sqs.client.set_queue_attributes(
            QueueUrl=queue, Attributes={name: value}
        )
    )
    assert_error(
        error,
        "InvalidAttributeValue",
        exception="InvalidAttributeValue",
        message=f"Invalid value for the parameter {name}.",
    )


def test_counters_follow_messages(sqs: Backend, queue: str) -> None:
    for i in range(3):
        send(sqs, queue, f"m{i}")
    send(sqs, queue, "later", DelaySeconds=600)
    assert sqs.counts(queue) == (3, 0, 1)
    sqs.receive(queue, MaxNumberOfMessages=2)
    assert sqs.counts(queue) == (1, 2, 1)


def test_purge_removes_everything_and_limits_rate(sqs: Backend, queue: str) -> None:
    send(sqs, queue)
    send(sqs, queue, DelaySeconds=600)
    send(sqs, queue)
    sqs.receive(queue)
    sqs.client.purge_queue(QueueUrl=queue)
    assert sqs.counts(queue) == (0, 0, 0)
    assert sqs.receive(queue) == []
    error = error_of(lambda: sqs.client.purge_queue(QueueUrl=queue))
    assert_error(
        error,
        "AWS.SimpleQueueService.PurgeQueueInProgress",
        status=403,
        exception="PurgeQueueInProgress",
    )


def test_purge_allowed_again_after_60_seconds(memory_only: Backend) -> None:
    """Needs a minute to pass: too slow on moto's real clock."""
    sqs = memory_only
    url = sqs.create()
    sqs.client.purge_queue(QueueUrl=url)
    sqs.pass_time(60)
    sqs.client.purge_queue(QueueUrl=url)


def test_recreate_after_delete_waits_60_seconds(memory_only: Backend) -> None:
    """AWS refuses re-creating a queue name within 60 s of deleting it
    (moto does not; a minute is too slow to wait for there)."""
    sqs = memory_only
    name = sqs.name()
    url = sqs.client.create_queue(QueueName=name)["QueueUrl"]
    sqs.client.delete_queue(QueueUrl=url)
    error = error_of(lambda: sqs.client.create_queue(QueueName=name))
    assert_error(error, "AWS.SimpleQueueService.QueueDeletedRecently")
    sqs.pass_time(60)
    sqs.track(sqs.client.create_queue(QueueName=name)["QueueUrl"])


def test_tags(sqs: Backend) -> None:
    name = sqs.name()
    url = sqs.track(
        sqs.client.create_queue(QueueName=name, tags={"team": "jobs"})["QueueUrl"]
    )
    assert sqs.client.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "jobs"}
    sqs.client.tag_queue(QueueUrl=url, Tags={"env": "test"})
    sqs.client.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.client.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}
    sqs.client.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert sqs.client.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_queues_are_regional(memory_only: Backend) -> None:
    """Needs a second client in another region on the same backend; on moto
    the URL would not carry the region, so this pins our URL shape."""
    from sqs_workers.memory_sqs import MemorySession

    sqs = memory_only
    url = sqs.create()
    session = MemorySession(sqs.client.aws)
    other = session.client("sqs", region_name="eu-west-1")
    assert other.meta.region_name == "eu-west-1"
    name = url.rsplit("/", 1)[1]
    error = error_of(lambda: other.get_queue_url(QueueName=name))
    assert_error(error, NOT_EXIST)
    eu = other.create_queue(QueueName=name)["QueueUrl"]
    assert eu == f"https://sqs.eu-west-1.amazonaws.com/000000000000/{name}"
    assert (
        other.get_queue_attributes(QueueUrl=eu, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        == f"arn:aws:sqs:eu-west-1:000000000000:{name}"
    )


@pytest.mark.moto_differs(reason="moto does not range-check MaxResults")
@pytest.mark.parametrize("max_results", [0, 1001])
def test_list_queues_max_results_range(sqs: Backend, max_results: int) -> None:
    error = error_of(lambda: sqs.client.list_queues(MaxResults=max_results))
    assert_error(error, "InvalidParameterValue")


def test_permissions_edit_the_policy(sqs: Backend, queue: str) -> None:
    sqs.client.add_permission(
        QueueUrl=queue,
        Label="let-them-send",
        AWSAccountIds=["111122223333"],
        Actions=["SendMessage"],
    )
    policy = json.loads(sqs.attributes(queue, "Policy")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["let-them-send"]
    sqs.client.remove_permission(QueueUrl=queue, Label="let-them-send")
    assert "Policy" not in sqs.attributes(queue) or not json.loads(
        sqs.attributes(queue)["Policy"]
    ).get("Statement")
