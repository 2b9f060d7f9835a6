"""Differential conformance suite: the same tests on the in-memory SQS and moto."""
