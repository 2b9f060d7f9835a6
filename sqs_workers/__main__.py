"""``python -m sqs_workers``: the ``sqs-workers`` command."""

from sqs_workers.cli import main

if __name__ == "__main__":
    main()
