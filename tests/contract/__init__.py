"""Contract tests: the documented interface of sqs-workers 0.5-0.7.3."""
