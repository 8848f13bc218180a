"""Stages: the only layer that opens the table store and chooses what is read and written.

Domain modules take DataFrames; the model registry reads and writes its own tables through the
store a stage hands it (a version's rows, folder and promotion stay one unit).

A stage is a module that satisfies :class:`Stage`; :data:`STAGES` is the one registry of them,
read by the command line, the ``jobs/`` entry points (through the command line) and the demo.
Adding a stage is its module plus one entry here. Nothing here imports a stage module until it
runs, so start-up stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from jobtagger.config import JobtaggerConfig
    from jobtagger.runlog import RunContext


class Stage(Protocol):
    """What a stage module exposes."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the stage's own arguments to its subcommand."""

    def run(
        self, spark: SparkSession, config: JobtaggerConfig, context: RunContext, args: argparse.Namespace
    ) -> dict[str, Any]:
        """Do the stage's work for ``context.run_date``; the returned details go to the run summary."""


@dataclass(frozen=True)
class StageSpec:
    """A registered stage: its command name, module, help line and whether it needs ``--run-date``."""

    name: str
    module: str
    help: str
    needs_run_date: bool = True

    def load(self) -> Stage:
        return importlib.import_module(self.module)  # type: ignore[return-value]


STAGES: dict[str, StageSpec] = {
    spec.name: spec
    for spec in (
        StageSpec("generate", "jobtagger.stages.generate", "write synthetic labelled postings as landing files",
                  needs_run_date=False),
        StageSpec("ingest", "jobtagger.stages.ingest", "landing files -> bronze.postings (+ quarantine)"),
        StageSpec("train", "jobtagger.stages.train", "fit, calibrate, evaluate and register a multi-label model"),
        StageSpec("evaluate", "jobtagger.stages.evaluate", "train and evaluate on any labelled corpus given as files"),
        StageSpec("tag", "jobtagger.stages.tag", "score postings, gate on data quality, publish gold tables"),
    )
}
