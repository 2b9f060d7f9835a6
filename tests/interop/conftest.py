"""The released ``sqs-workers`` from PyPI, in its own virtualenv, as a peer.

``released_python`` makes (once, then reuses) a virtualenv with the released
package and returns its interpreter. The venv lives outside the repository,
keyed by the released version and our Python version:
``$SQS_WORKERS_INTEROP_VENV`` or ``<tempdir>/sqs-workers-0.7.3-venv-py311``.
Recipe (what a clean machine does)::

    python -m venv DIR && DIR/bin/pip install sqs-workers==0.7.3 typing_extensions

(0.7.3 imports ``typing_extensions`` without declaring it.) A file lock keeps
two pytest runs from building it at once, and a stamp written last marks a
finished build: a half-built venv is thrown away and built again.

``run_released_peer(plan)`` runs ``released_peer.py`` with that interpreter, in
a subprocess with a clean environment pointed at the moto server, and returns
the JSON it printed. The two ``sqs_workers`` never share an interpreter.

If PyPI cannot be reached the tests skip, saying so; under CI (``$CI`` set)
they fail instead, since CI reaches PyPI and must really run them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

RELEASED_VERSION = "0.7.3"
RELEASED_REQUIREMENTS = [f"sqs-workers=={RELEASED_VERSION}", "typing_extensions"]
PEER_SCRIPT = Path(__file__).with_name("released_peer.py")
STAMP = "sqs-workers-interop.ok"
PIP_TIMEOUT_SECONDS = 600
PEER_TIMEOUT_SECONDS = 120

# Variables that would let the peer import something other than its own venv's.
_LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECURITY_TOKEN",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
)


def venv_dir() -> Path:
    configured = os.environ.get("SQS_WORKERS_INTEROP_VENV")
    if configured:
        return Path(configured)
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    return Path(tempfile.gettempdir()) / f"sqs-workers-{RELEASED_VERSION}-venv-{tag}"


def venv_python(directory: Path) -> Path:
    return directory / "bin" / "python"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_VARIABLES}
    env["PYTHONNOUSERSITE"] = "1"
    # Neither the working directory nor the script's folder goes on sys.path
    # (Python >= 3.11); every subprocess also runs outside the repository.
    env["PYTHONSAFEPATH"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


_CHECK = (
    "import sys, importlib.metadata as m, typing_extensions, sqs_workers; "
    f"v = m.version('sqs-workers'); assert v == {RELEASED_VERSION!r}, v; "
    "assert sqs_workers.__file__.startswith(sys.prefix), sqs_workers.__file__"
)


def venv_works(directory: Path) -> bool:
    python = venv_python(directory)
    if not (directory / STAMP).exists() or not python.exists():
        return False
    try:
        check = subprocess.run(
            [str(python), "-c", _CHECK],
            env=clean_env(),
            cwd=directory,
            capture_output=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return False
    return check.returncode == 0


def unavailable(reason: str) -> None:
    """Skip (no PyPI here) — but never in CI, where the test must run."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"released package unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pip_errors(stderr: str) -> str:
    """pip's ERROR lines (its warnings about local indexes are noise here)."""
    errors = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    return " ".join(errors) if errors else stderr.strip()[-1500:]


def build_venv(directory: Path) -> None:
    if directory.exists():
        # Throw away a half-built venv, but never a folder that is not one.
        if any(directory.iterdir()) and not (directory / "pyvenv.cfg").exists():
            pytest.fail(f"{directory} exists and is not a virtualenv; remove it")
        shutil.rmtree(directory)
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(directory)],
        env=clean_env(),
        cwd=directory.parent,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_SECONDS,
    )
    if made.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        unavailable(f"`python -m venv` failed: {made.stderr.strip()[-1500:]}")
    try:
        installed = subprocess.run(
            [
                str(venv_python(directory)),
                *("-m", "pip", "install", "--quiet"),
                *RELEASED_REQUIREMENTS,
            ],
            env=clean_env(),
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(directory, ignore_errors=True)
        unavailable(
            f"pip could not install {' '.join(RELEASED_REQUIREMENTS)} from PyPI "
            f"within {PIP_TIMEOUT_SECONDS}s (no network?)"
        )
        return
    if installed.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        unavailable(
            f"pip could not install {' '.join(RELEASED_REQUIREMENTS)} from PyPI "
            f"(is PyPI reachable?): {pip_errors(installed.stderr)}"
        )
    (directory / STAMP).write_text(RELEASED_VERSION + "\n")
    if not venv_works(directory):
        pytest.fail(
            f"the venv at {directory} was built but does not import sqs_workers"
        )


@pytest.fixture(scope="session")
def released_python() -> Path:
    """The interpreter of a venv with the released sqs-workers (built once)."""
    directory = venv_dir()
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock_path = directory.with_name(directory.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not venv_works(directory):
                build_venv(directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return venv_python(directory)


@pytest.fixture(scope="session")
def run_released_peer(
    released_python: Path, moto_server: str
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """Run one plan with the released package; return what it reported."""
    aws = {name: os.environ[name] for name in _AWS_VARIABLES if name in os.environ}
    env = clean_env(**aws, AWS_ENDPOINT_URL=moto_server)

    def run(plan: dict[str, Any]) -> dict[str, Any]:
        plan = {"endpoint": moto_server, **plan}
        completed = subprocess.run(
            [str(released_python), str(PEER_SCRIPT)],
            input=json.dumps(plan),
            env=env,
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            timeout=PEER_TIMEOUT_SECONDS,
        )
        if completed.returncode != 0:
            raise AssertionError(
                f"released peer failed (exit {completed.returncode}):\n"
                f"{completed.stderr[-4000:]}"
            )
        lines = completed.stdout.strip().splitlines()
        if not lines:
            raise AssertionError(f"released peer printed nothing:\n{completed.stderr}")
        output: dict[str, Any] = json.loads(lines[-1])
        output["stderr"] = completed.stderr
        peer = output["peer"]
        assert peer["version"] == RELEASED_VERSION, peer
        assert peer["module_file"].startswith(peer["prefix"]), peer
        return output

    yield run
