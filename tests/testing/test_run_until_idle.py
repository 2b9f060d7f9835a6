"""run_until_idle: due jobs and the jobs they enqueue; errors; the runaway limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

# run_tests/run_memory_tests (conftest.py): run a test module, as a user would.
RunTests = Callable[..., pytest.RunResult]


def test_runs_every_job_and_the_jobs_those_enqueue(run_tests: RunTests) -> None:
    result = run_tests(
        """
        def test_chain(sqs_env, sqs_kit):
            sqs_kit.create_queue("orders")
            sqs_kit.create_queue("emails")
            orders, emails = sqs_env.queue("orders"), sqs_env.queue("emails")
            done = []

            @emails.processor("receipt")
            def receipt(order_id):
                done.append(("receipt", order_id))

            @orders.processor("place")
            def place(order_id):
                done.append(("place", order_id))
                receipt.delay(order_id=order_id)

            place.delay(order_id=1)
            place.delay(order_id=2)
            result = sqs_kit.run_until_idle()

            assert sorted(done) == [
                ("place", 1), ("place", 2), ("receipt", 1), ("receipt", 2)
            ]
            assert result.outcomes == {"success": 4}
            assert sqs_kit.jobs("orders") == [] and sqs_kit.jobs("emails") == []
        """
    )
    result.assert_outcomes(passed=1)


def test_on_a_queue_runs_that_queue_only(run_tests: RunTests) -> None:
    result = run_tests(
        """
        from sqs_workers.testing import Job

        def test_one_queue(sqs_env, sqs_kit):
            sqs_kit.create_queue("orders")
            sqs_kit.create_queue("emails")
            orders, emails = sqs_env.queue("orders"), sqs_env.queue("emails")
            emails.connect_processor("receipt", lambda order_id: None)

            @orders.processor("place")
            def place(order_id):
                emails.add_job("receipt", order_id=order_id)

            place.delay(order_id=1)
            assert sqs_kit.run_until_idle(orders).outcomes == {"success": 1}
            assert sqs_kit.jobs("emails") == [Job("receipt", {"order_id": 1})]
            assert sqs_kit.run_until_idle("emails").outcomes == {"success": 1}
        """
    )
    result.assert_outcomes(passed=1)


def test_raises_the_handlers_exception_with_its_traceback(run_tests: RunTests) -> None:
    result = run_tests(
        """
        def charge_card(amount):
            raise ValueError(f"card declined for {amount}")

        def test_fails(sqs_env, sqs_kit):
            sqs_kit.create_queue("payments")
            payments = sqs_env.queue("payments")

            @payments.processor("charge")
            def charge(amount):
                charge_card(amount)

            charge.delay(amount=5)
            sqs_kit.run_until_idle()
        """
    )
    result.assert_outcomes(failed=1)
    # The handler's own frames, down to the line that raised.
    result.stdout.fnmatch_lines(
        [
            "*charge_card(amount)",
            "*def charge_card(amount):",
            '>*raise ValueError(f"card declined for {amount}")',
            "E*ValueError: card declined for 5",
        ]
    )


def test_collects_errors_when_asked_and_counts_outcomes(run_tests: RunTests) -> None:
    result = run_tests(
        """
        from sqs_workers import ConstantBackoff, DropJob, RetryJob

        def test_collects(sqs_env, sqs_kit):
            sqs_kit.create_queue("q")
            q = sqs_env.queue("q", backoff_policy=ConstantBackoff(600))
            q.connect_processor("ok", lambda: None)

            def retry():
                raise RetryJob()

            def drop():
                raise DropJob("gone")

            def fail():
                raise KeyError("missing")

            q.connect_processor("retry", retry)
            q.connect_processor("drop", drop)
            q.connect_processor("fail", fail)
            for name in ["ok", "retry", "drop", "fail"]:
                q.add_job(name)

            result = sqs_kit.run_until_idle(raise_errors=False)

            assert result.outcomes == {"success": 1, "retry": 1, "drop": 1, "error": 1}
            [error] = result.errors
            assert (error.queue_name, error.job_name) == ("q", "fail")
            assert isinstance(error.exception, KeyError)
            assert sqs_kit.outcomes == result.outcomes
        """
    )
    result.assert_outcomes(passed=1)


def test_stops_runaway_re_enqueues_with_a_clear_error(run_tests: RunTests) -> None:
    result = run_tests(
        """
        import pytest
        from sqs_workers.testing import RunawayJobs

        def test_runaway(sqs_env, sqs_kit):
            sqs_kit.create_queue("q")
            q = sqs_env.queue("q")

            @q.processor("again")
            def again():
                again.delay()

            again.delay()
            with pytest.raises(RunawayJobs) as raised:
                sqs_kit.run_until_idle(max_rounds=5)
            assert "processed 5 batches" in str(raised.value)
            assert "again" in str(raised.value)
            assert "max_rounds" in str(raised.value)
        """
    )
    result.assert_outcomes(passed=1)


def test_a_job_nobody_processes_is_an_error(run_tests: RunTests) -> None:
    result = run_tests(
        """
        import pytest
        from sqs_workers.testing import JobNotProcessed

        def test_no_processor(sqs_env, sqs_kit):
            sqs_kit.create_queue("q")
            q = sqs_env.queue("q")
            q.add_job("nobody_handles_this")
            with pytest.raises(JobNotProcessed) as raised:
                sqs_kit.run_until_idle("q")
            assert "'nobody_handles_this' on queue 'q' was not run" in str(raised.value)
            assert "could not find an SQS processor" in str(raised.value)
        """
    )
    result.assert_outcomes(passed=1)


def test_leaves_queues_without_processors_alone(run_tests: RunTests) -> None:
    result = run_tests(
        """
        from sqs_workers.testing import Job

        def test_send_only(sqs_env, sqs_kit):
            sqs_kit.create_queue("outbox")
            sqs_env.queue("outbox").add_job("for_another_service", n=1)
            assert sqs_kit.run_until_idle().processed == 0
            assert sqs_kit.jobs("outbox") == [Job("for_another_service", {"n": 1})]
        """
    )
    result.assert_outcomes(passed=1)


def test_moves_jobs_failing_past_max_receive_count_to_the_dlq(
    run_tests: RunTests,
) -> None:
    result = run_tests(
        """
        from sqs_workers import IMMEDIATE_RETURN
        from sqs_workers.testing import Job

        def test_redrive(sqs_env, sqs_kit):
            sqs_kit.create_queue("q", dead_letter_queue="q_dead", max_receive_count=2)
            q = sqs_env.queue("q", backoff_policy=IMMEDIATE_RETURN)

            @q.processor("flaky")
            def flaky(n):
                raise RuntimeError("down")

            flaky.delay(n=1)
            result = sqs_kit.run_until_idle(raise_errors=False)

            assert result.outcomes == {"error": 2}
            assert sqs_kit.jobs("q") == []
            assert sqs_kit.dead_letters("q") == [Job("flaky", {"n": 1})]
            assert sqs_kit.dead_letter_queue_name(q) == "q_dead"
        """
    )
    result.assert_outcomes(passed=1)


def test_runs_async_handlers_and_message_lists_as_a_worker_does(
    run_tests: RunTests,
) -> None:
    result = run_tests(
        """
        from sqs_workers.batching import BatchMessages

        def test_kinds(sqs_env, sqs_kit):
            sqs_kit.create_queue("a")
            sqs_kit.create_queue("lists")
            a = sqs_env.queue("a")
            lists = sqs_env.queue("lists", batching_policy=BatchMessages(10))
            seen = []

            @a.processor("ping")
            async def ping(n):
                seen.append(("ping", n))

            @lists.processor("sum")
            def add_up(jobs):
                seen.append(("sum", sorted(job["n"] for job in jobs)))

            ping.delay(n=1)
            with lists.add_batch():
                for n in range(3):
                    lists.add_job("sum", n=n)

            result = sqs_kit.run_until_idle()

            # One handler call for the list: one outcome.
            assert result.outcomes == {"success": 2}
            assert sorted(seen) == [("ping", 1), ("sum", [0, 1, 2])]
        """
    )
    result.assert_outcomes(passed=1)
