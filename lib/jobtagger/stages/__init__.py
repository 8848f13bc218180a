"""Stages: the only layer that reads and writes tables. Each module exposes
``add_arguments(parser)`` and ``run(spark, config, run, args) -> dict``."""
