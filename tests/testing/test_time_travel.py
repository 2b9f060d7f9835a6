"""Time travel: the fake clock makes delays, backoffs and visibility timeouts run out.

Only the in-memory backend has a clock a test can move; on a server, tests
that ask for ``sqs_clock`` are skipped.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

# run_tests/run_memory_tests (conftest.py): run a test module, as a user would.
RunTests = Callable[..., pytest.RunResult]


def test_a_delayed_job_runs_once_its_delay_is_over(run_memory_tests: RunTests) -> None:
    result = run_memory_tests(
        """
        from sqs_workers.testing import Job

        def test_delay(sqs_env, sqs_kit):
            sqs_kit.create_queue("q")
            q = sqs_env.queue("q")
            done = []
            q.connect_processor("remind", lambda user: done.append(user))
            q.add_job("remind", user="ann", _delay_seconds=60)

            assert sqs_kit.run_until_idle().processed == 0
            assert sqs_kit.jobs("q") == [Job("remind", {"user": "ann"}, delay=60)]
            sqs_kit.advance(59)
            assert sqs_kit.run_until_idle().processed == 0
            assert sqs_kit.jobs("q") == [Job("remind", {"user": "ann"}, delay=1)]
            sqs_kit.advance(1)
            assert sqs_kit.run_until_idle().outcomes == {"success": 1}
            assert done == ["ann"]
        """
    )
    result.assert_outcomes(passed=1)


def test_a_failed_job_is_retried_after_its_backoff(run_memory_tests: RunTests) -> None:
    result = run_memory_tests(
        """
        from sqs_workers import ConstantBackoff
        from sqs_workers.testing import Job

        def test_backoff(sqs_env, sqs_kit, sqs_clock):
            sqs_kit.create_queue("q")
            q = sqs_env.queue("q", backoff_policy=ConstantBackoff(30))
            attempts = []

            @q.processor("sync")
            def sync(account):
                attempts.append(sqs_clock.now())
                if len(attempts) == 1:
                    raise ConnectionError("partner API down")

            sync.delay(account=7)
            first = sqs_kit.run_until_idle(raise_errors=False)
            assert first.outcomes == {"error": 1}
            [waiting] = sqs_kit.jobs("q")
            assert waiting == Job("sync", {"account": 7}, delay=30)
            assert waiting.receive_count == 1

            sqs_clock.advance(29)
            assert sqs_kit.run_until_idle().processed == 0
            sqs_clock.advance(1)
            assert sqs_kit.run_until_idle().outcomes == {"success": 1}
            assert attempts[1] - attempts[0] == 30
            assert sqs_kit.jobs("q") == []
        """
    )
    result.assert_outcomes(passed=1)


def test_a_job_a_dead_worker_held_comes_back_after_the_visibility_timeout(
    run_memory_tests: RunTests,
) -> None:
    result = run_memory_tests(
        """
        def test_visibility(sqs_env, sqs_kit):
            url = sqs_kit.create_queue("q", visibility_timeout=120)
            q = sqs_env.queue("q")
            done = []
            q.connect_processor("work", lambda: done.append(1))
            q.add_job("work")
            # A worker receives the job, then dies without deleting it.
            sqs_env.sqs_client.receive_message(QueueUrl=url)

            assert sqs_kit.run_until_idle().processed == 0
            sqs_kit.advance(120)
            assert sqs_kit.run_until_idle().outcomes == {"success": 1}
            assert done == [1]
        """
    )
    result.assert_outcomes(passed=1)


def test_retries_then_redrive_to_the_dlq_on_the_clock(
    run_memory_tests: RunTests,
) -> None:
    result = run_memory_tests(
        """
        from sqs_workers import ExponentialBackoff
        from sqs_workers.testing import Job

        def test_retry_then_dlq(sqs_env, sqs_kit):
            sqs_kit.create_queue("q", dead_letter_queue="q_dead", max_receive_count=3)
            q = sqs_env.queue("q", backoff_policy=ExponentialBackoff(
                base=2, min_visibility_timeout=10, max_visibility_timeout=600))

            @q.processor("charge")
            def charge(order_id):
                raise RuntimeError("gateway down")

            charge.delay(order_id=9)
            for attempt in range(3):
                result = sqs_kit.run_until_idle(raise_errors=False)
                assert result.outcomes == {"error": 1}
                [waiting] = sqs_kit.jobs("q")
                assert waiting.receive_count == attempt + 1 and waiting.delay >= 10
                assert sqs_kit.dead_letters("q") == []
                sqs_kit.advance(waiting.delay)

            # The fourth receive goes over maxReceiveCount: SQS moves the job.
            assert sqs_kit.run_until_idle().processed == 0
            assert sqs_kit.jobs("q") == []
            assert sqs_kit.dead_letters("q") == [Job("charge", {"order_id": 9})]
            assert sqs_kit.outcomes == {"error": 3}
        """
    )
    result.assert_outcomes(passed=1)


def test_moving_time_is_skipped_or_refused_on_a_server(
    run_tests: RunTests, request: pytest.FixtureRequest
) -> None:
    result = run_tests(
        """
        import pytest
        from sqs_workers.testing import TimeTravelUnavailable

        def test_clock(sqs_clock):
            sqs_clock.advance(1)

        def test_advance(sqs_kit):
            if sqs_kit.backend.name == "memory":
                sqs_kit.advance(1)
            else:
                with pytest.raises(TimeTravelUnavailable, match="in-memory"):
                    sqs_kit.advance(1)
        """,
        "-rs",
    )
    if request.node.callspec.params["run_tests"] == "memory":
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(["*runs on the in-memory backend only*"])
