"""Every example of the README's "Testing your jobs" runs, as a user would run it.

Each code block that starts with a ``# <file name>`` comment is written to
that file of a fresh project; the project's tests then run with the plugin
on the in-memory backend and with the server switch.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Testing your jobs"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
FILE_NAME = re.compile(r"# ([\w./-]+\.(?:py|toml))\n")


def section_text() -> str:
    text = README.read_text()
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def example_files() -> dict[str, str]:
    """File name -> contents, for each block that names its file."""
    files: dict[str, str] = {}
    for match in BLOCK.finditer(section_text()):
        name = FILE_NAME.match(match.group(2))
        if name is not None:
            files[name.group(1)] = match.group(2)
    return files


def shell_commands() -> list[str]:
    return [
        line.split("#")[0].strip()
        for match in BLOCK.finditer(section_text())
        if match.group(1) == "shell"
        for line in match.group(2).splitlines()
    ]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # As the README says: importing the app's env needs a region.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name, contents in example_files().items():
        pytester.path.joinpath(name).write_text(contents)
    pytester.syspathinsert()


def test_the_section_has_the_promised_examples() -> None:
    files = example_files()
    assert {"myapp.py", "pyproject.toml", "test_signup.py", "test_bounces.py"} <= set(
        files
    )
    assert "--sqs-backend=moto" in " ".join(shell_commands())


def test_the_examples_pass_in_memory(pytester: pytest.Pytester, project: None) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_examples_pass_on_a_server_skipping_time_travel(
    pytester: pytest.Pytester, project: None, moto_server: str
) -> None:
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--sqs-backend=moto", f"--sqs-endpoint={moto_server}"
    )
    result.assert_outcomes(passed=3, skipped=1)
