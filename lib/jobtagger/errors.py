"""Errors a job reports as one line, each with its own process exit code."""

from __future__ import annotations


class JobtaggerError(Exception):
    """Base error: ``str(exc)`` is the one-line reason printed by the CLI."""

    exit_code = 1


class ConfigError(JobtaggerError):
    exit_code = 2


class EnvironmentProblem(JobtaggerError):
    """Java missing, or an engine whose JVM jar is not on the classpath."""

    exit_code = 2


class MissingInputError(JobtaggerError):
    exit_code = 4


class DataQualityError(JobtaggerError):
    exit_code = 3


class ReconciliationError(JobtaggerError):
    exit_code = 3


class SchemaMismatchError(JobtaggerError):
    exit_code = 5


class TableExistsError(JobtaggerError):
    exit_code = 5


class ModelIntegrityError(JobtaggerError):
    """A model folder that differs from the manifest written when it was saved (or has none)."""

    exit_code = 7


class ConcurrentWriteError(JobtaggerError):
    """Another writer committed first; the caller may retry."""

    exit_code = 6
