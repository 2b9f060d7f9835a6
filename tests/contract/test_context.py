"""SQSContext: the key/values sent along with every job."""

from __future__ import annotations

import threading
from typing import Any

from sqs_workers import SQSEnv
from sqs_workers.context import SQSContext

from .helpers import make_queue, process_until


def test_context_dict_interface() -> None:
    context = SQSContext(a=1)
    assert context["a"] == 1
    assert context.get("a") == 1
    assert context.get("b") is None
    assert context.get("b", 2) == 2
    context["b"] = 2
    context.update(c=3)
    assert context.to_dict() == {"a": 1, "b": 2, "c": 3}
    context.set(z=26)
    assert context.to_dict() == {"z": 26}
    context.clear()
    assert context.to_dict() == {}
    assert SQSContext.from_dict({"k": "v"}).to_dict() == {"k": "v"}


def test_to_dict_is_a_copy() -> None:
    context = SQSContext(a=1)
    copy = context.to_dict()
    copy["a"] = 2
    assert context["a"] == 1


def test_with_env_context_restores_afterwards(sqs_session: Any) -> None:
    env = SQSEnv(session=sqs_session)
    env.context["outer"] = 1
    with env.context(inner=2):
        assert env.context.to_dict() == {"outer": 1, "inner": 2}
    assert env.context.to_dict() == {"outer": 1}


def test_context_is_thread_local() -> None:
    context = SQSContext()
    context["mine"] = "main"
    seen: list[Any] = []

    def other() -> None:
        seen.append(context.get("mine"))
        context["mine"] = "other"

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [None]
    assert context["mine"] == "main"


def test_context_travels_with_the_job(sqs: SQSEnv) -> None:
    queue = make_queue(sqs, "q1")
    seen: list[Any] = []

    @queue.processor("hello_world", pass_context=True)
    def hello_world(username: Any = None, context: Any = None) -> None:
        seen.append((username, context.get("remote_addr")))

    with sqs.context(remote_addr="127.0.0.1"):
        hello_world.delay(username="Foo")
    sqs.context["remote_addr"] = "10.1.1.1"
    hello_world.delay(username="Bar")
    sqs.context.clear()
    hello_world.delay(username="Baz")
    process_until(queue, lambda: len(seen) == 3)
    assert sorted(seen, key=str) == sorted(
        [("Foo", "127.0.0.1"), ("Bar", "10.1.1.1"), ("Baz", None)], key=str
    )
