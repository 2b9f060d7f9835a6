"""The ``sqs-workers`` command (and ``python -m sqs_workers``).

This module is the console script's entry point and uses only the standard
library: the commands are built on click, an optional dependency (the
``cli`` extra), imported here only when the command runs. Without click the
command says how to get it and exits 2, instead of a traceback.
``import sqs_workers`` never imports this package.
"""

from __future__ import annotations

import sys

INSTALL_HINT = (
    "sqs-workers: the command needs the 'cli' extra: pip install 'sqs-workers[cli]'"
)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; exits with 0 (ok), 1 (failure) or 2 (usage)."""
    try:
        import click  # noqa: F401 - only checking that it is there
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        sys.exit(2)
    from sqs_workers.cli.app import run

    run(argv)
