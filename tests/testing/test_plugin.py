"""The plugin as users load it: their own env switched, the server switch, the slip."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from sqs_workers import MemorySession, SQSEnv

APP = """
    from sqs_workers import SQSEnv

    sqs = SQSEnv(queue_prefix="app_")
    emails = sqs.queue("emails")
    sent = []

    @emails.processor("welcome")
    def welcome(address):
        sent.append(address)
"""

APP_TESTS = """
    import myapp
    from sqs_workers.testing import Job

    def test_a_uses_the_apps_env_in_memory(sqs_env, sqs_kit):
        assert sqs_env is myapp.sqs
        assert sqs_kit.backend.name == "memory"
        myapp.welcome.delay(address="ann@example.com")
        ann = Job("welcome", {"address": "ann@example.com"})
        assert sqs_kit.jobs("emails") == [ann]
        sqs_env.queue("registered_in_a_test")
        sqs_kit.run_until_idle()
        assert myapp.sent == ["ann@example.com"]

    def test_b_starts_afresh(sqs_env, sqs_kit):
        assert "registered_in_a_test" not in sqs_env.queues
        assert sqs_kit.jobs("emails") == []

    def test_c_the_env_is_given_back():
        assert type(myapp.sqs.sqs_client).__name__ == "SQS"  # boto3's
        assert myapp.sqs.queue_prefix == "app_"
        assert set(myapp.sqs.queues) == {"emails"}
"""


@pytest.fixture
def app(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # Importing the app makes a boto3 client, which needs a region.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    pytester.makepyfile(myapp=textwrap.dedent(APP))
    pytester.makepyfile(test_app=textwrap.dedent(APP_TESTS))
    pytester.syspathinsert()


def test_the_apps_env_named_in_the_ini_is_switched_and_given_back(
    pytester: pytest.Pytester, app: None
) -> None:
    pytester.makeini("[pytest]\nsqs_workers_env = myapp:sqs\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_the_apps_env_from_an_overridden_fixture(
    pytester: pytest.Pytester, app: None
) -> None:
    pytester.makeconftest(
        """
        import pytest
        import myapp

        @pytest.fixture
        def sqs_app_env():
            return myapp.sqs
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_bad_env_path_says_what_to_write(
    pytester: pytest.Pytester, app: None
) -> None:
    pytester.makeini("[pytest]\nsqs_workers_env = myapp:sent\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "test_b")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["E*'sent' in myapp is list, not an SQSEnv"])


def test_the_server_switch_by_environment_variables(
    pytester: pytest.Pytester, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQS_WORKERS_TEST_BACKEND", "moto")
    monkeypatch.setenv("SQS_WORKERS_TEST_ENDPOINT", moto_server)
    pytester.makepyfile(
        f"""
        def test_on_the_server(sqs_env, sqs_kit):
            assert sqs_kit.backend.endpoint_url == {moto_server!r}
            sqs_kit.create_queue("q")
            sqs_env.queue("q").connect_processor("hi", lambda: None)
            sqs_env.queue("q").add_job("hi")
            assert sqs_kit.run_until_idle().outcomes == {{"success": 1}}

        def test_moving_time(sqs_clock):
            pass
        """
    )
    # A fresh interpreter: the plugin comes from the entry point alone.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["sqs_workers test backend: moto"])


def test_the_server_switch_starts_moto_when_no_endpoint_is_given(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SQS_WORKERS_TEST_ENDPOINT", raising=False)
    pytester.makepyfile(
        """
        def test_on_moto(sqs_kit):
            assert sqs_kit.backend.endpoint_url.startswith("http://127.0.0.1:")
            sqs_kit.create_queue("q")
            assert sqs_kit.jobs("q") == []
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--sqs-backend=moto"
    )
    result.assert_outcomes(passed=1)


def test_an_unknown_backend_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQS_WORKERS_TEST_BACKEND", "elasticmq")
    pytester.makepyfile("def test_x(sqs_kit): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["*SQS_WORKERS_TEST_BACKEND='elasticmq'*memory, moto*"])


def test_a_kit_without_pytest_switches_an_env_and_gives_it_back() -> None:
    from sqs_workers.middleware import Middleware
    from sqs_workers.testing import Job, SQSTestKit

    class Seen(Middleware):
        jobs: list[str] = []

        def before_job(self, job: Any) -> None:
            self.jobs.append(job.job_name)

    env = SQSEnv(MemorySession(), queue_prefix="mine_", middleware=[Seen()])
    env.queue("q").connect_processor("hi", lambda: None)
    client, stack = env.sqs_client, env.middleware_stack
    with SQSTestKit(env) as kit:
        assert env.sqs_client is not client
        env.queue("q").add_job("hi")
        assert kit.jobs("q") == [Job("hi")]
        assert kit.run_until_idle().outcomes == {"success": 1}
    assert Seen.jobs == ["hi"]  # the env's own middleware ran in the kit
    assert env.sqs_client is client
    assert env.middleware_stack is stack and len(stack) == 1
    assert env.get_all_known_queues() == []  # the kit's queues lived elsewhere


def test_a_kit_without_pytest_on_a_server_cleans_up_its_queues(
    moto_server: str,
) -> None:
    from sqs_workers.testing import Job, SQSTestKit

    with SQSTestKit.server(moto_server) as kit:
        kit.create_queue("q")
        kit.env.queue("q").add_job("hi", n=1)
        assert kit.jobs("q") == [Job("hi", {"n": 1})]
        prefix = kit.env.queue_prefix
    assert prefix.startswith("t")
    assert kit.env.get_all_known_queues() == []


def test_sqs_env_given_the_memory_session_class_makes_one() -> None:
    env = SQSEnv(MemorySession)  # type: ignore[arg-type]
    assert isinstance(env.session, MemorySession)
    env.sqs_client.create_queue(QueueName="q")
    assert env.get_all_known_queues() == ["q"]


def test_sqs_env_given_another_class_says_what_to_write() -> None:
    class MySession:
        def client(self, *args: object, **kwargs: object) -> None: ...

    with pytest.raises(
        TypeError,
        match=r"not the class .*MySession; write "
        r"SQSEnv\(session=.*MySession\(\.\.\.\)\)",
    ):
        SQSEnv(MySession)  # type: ignore[arg-type]
