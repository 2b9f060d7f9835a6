"""Looking inside queues: jobs decoded into ``Job`` values, the DLQ's contents."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sqs_workers import LargePayloads, MemorySession, SQSEnv
from sqs_workers.testing import Job, SQSTestKit

# run_tests/run_memory_tests (conftest.py): run a test module, as a user would.
RunTests = Callable[..., pytest.RunResult]


def test_jobs_decode_name_arguments_context_and_group(run_tests: RunTests) -> None:
    result = run_tests(
        """
        from sqs_workers.testing import Job

        def test_jobs(sqs_env, sqs_kit):
            sqs_kit.create_queue("q")
            sqs_kit.create_queue("q.fifo")
            q, fifo = sqs_env.queue("q"), sqs_env.queue("q.fifo")
            with sqs_env.context(request_id="r-1"):
                q.add_job("welcome", user_id=7)
            fifo.add_job("step", _group_id="order-3", _deduplication_id="a", n=1)

            [welcome] = sqs_kit.jobs("q")
            assert welcome == Job("welcome", {"user_id": 7}, {"request_id": "r-1"})
            assert welcome.message_id
            assert sqs_kit.jobs("q.fifo") == [
                Job("step", {"n": 1}, group_id="order-3")
            ]
        """
    )
    result.assert_outcomes(passed=1)


def test_peeking_in_memory_changes_nothing(run_memory_tests: RunTests) -> None:
    result = run_memory_tests(
        """
        def test_peek(sqs_env, sqs_kit):
            sqs_kit.create_queue("q", dead_letter_queue="q_dead", max_receive_count=1)
            q = sqs_env.queue("q")
            q.add_job("a")
            for _ in range(3):
                [job] = sqs_kit.jobs("q")
                assert job.receive_count == 0
            done = []
            q.connect_processor("a", lambda: done.append(1))
            sqs_kit.run_until_idle()
            assert done == [1] and sqs_kit.dead_letters("q") == []
        """
    )
    result.assert_outcomes(passed=1)


def test_asking_for_a_missing_queue_or_dlq_says_what_to_do(run_tests: RunTests) -> None:
    result = run_tests(
        """
        import pytest

        def test_missing(sqs_env, sqs_kit):
            with pytest.raises(LookupError, match=r"kit.create_queue\\('nope'\\)"):
                sqs_kit.jobs("nope")
            sqs_kit.create_queue("q")
            with pytest.raises(LookupError, match="has no dead-letter queue"):
                sqs_kit.dead_letters("q")
            with pytest.raises(LookupError, match="no queue 'q' is registered"):
                sqs_kit.run_until_idle("q")
        """
    )
    result.assert_outcomes(passed=1)


def test_a_job_reads_well_in_an_assert() -> None:
    job = Job("welcome", {"user_id": 7}, message_id="m-1", receive_count=2)
    assert repr(job) == "Job('welcome', {'user_id': 7})"
    assert repr(Job("x", {}, {"r": 1}, delay=5, group_id="g")) == (
        "Job('x', {}, context={'r': 1}, delay=5, group_id='g')"
    )
    # Ids and receive counts are for reading, not for comparing.
    assert job == Job("welcome", {"user_id": 7})
    assert job != Job("welcome", {"user_id": 8})
    with pytest.raises(AttributeError):
        job.name = "other"  # type: ignore[misc]


def test_jobs_show_an_s3_payload_and_a_long_delay_as_sent() -> None:
    # The job as its sender wrote it: the payload, not the S3 pointer that
    # travelled through SQS; the long delay to its own time, not the hop's.
    env = SQSEnv(
        session=MemorySession(),
        codec="json",  # uncompressed: 4 KiB of "x" stays over the threshold
        large_payloads=LargePayloads(bucket="payloads", threshold=1024),
    )
    with SQSTestKit(env) as kit:
        env.session.client("s3").create_bucket(Bucket="payloads")
        kit.create_queue("q")
        queue = env.queue("q")
        queue.add_job("big", text="x" * 4096)
        queue.add_job("later", _delay_seconds=7200, n=1)
        assert kit.jobs("q") == [
            Job("big", {"text": "x" * 4096}),
            Job("later", {"n": 1}, delay=7200),
        ]
        kit.advance(3600)
        assert kit.jobs("q")[1].delay == 3600


def test_an_s3_payload_without_large_payloads_says_what_to_do() -> None:
    with SQSTestKit() as kit:  # its env has no large_payloads
        kit.env.session.client("s3").create_bucket(Bucket="payloads")
        kit.create_queue("q")
        sender = SQSEnv(
            session=kit.env.session,
            codec="json",  # uncompressed: 4 KiB of "x" stays over the threshold
            large_payloads=LargePayloads(bucket="payloads", threshold=1024),
        )
        sender.queue("q").add_job("big", text="x" * 4096)
        with pytest.raises(LookupError, match=r"large_payloads=LargePayloads"):
            kit.jobs("q")
