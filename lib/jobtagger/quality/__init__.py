"""Great Expectations 1.x runner shared by the stages' data-quality gates.

A suite is a list of GX expectations defined in code (see :mod:`jobtagger.quality.bronze`); each
expectation's own ``severity`` says what a failure means: ``critical`` (GX's default) blocks the
stage, ``warning``/``info`` are reported only. Usage from a stage::

    report = run_suite(df, suite_name="bronze_postings", expectations=[...],
                       results_dir=quality_folder(config, "ingest", run.run_date), run_id=run.run_id)
    run.details["quality"] = report.as_dict()
    report.raise_for_critical()          # DataQualityError, before anything is written

Each run keeps ``<results_dir>/<suite>.<run_id>.json`` (the full GX validation result) and a Data
Docs site under ``<results_dir>/data_docs/`` (``index.html``); a stage with several suites runs
them through :func:`run_suites`, so one site shows them all (a later site build drops the pages it
did not validate). The GX context is ephemeral (no project folder), progress bars are off. Keep the
DataFrame small in columns: derive the columns a rule needs (lengths, flags) and validate those.

GX is imported only when a suite is built or run (:func:`great_expectations`): its import is the
largest part of a job's start-up. A stage whose gate comes after long Spark work starts the import
in a background thread first (:func:`load_in_background`), while the driver waits on Spark anyway.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame

from jobtagger.config import JobtaggerConfig
from jobtagger.errors import DataQualityError

BLOCKING = "critical"
DOCS_SITE = "jobtagger"
# The modules a suite run needs, in the order a background load imports them.
GX_MODULES = ("great_expectations", "great_expectations.data_context.types.base")

_loading: threading.Thread | None = None
_loading_lock = threading.Lock()


def load_in_background() -> None:
    """Start importing GX in a daemon thread (once per process). A failed import is left for
    the importing code to raise in the thread that needs it."""
    global _loading
    with _loading_lock:
        if _loading is None:
            _loading = threading.Thread(target=_import_gx, name="jobtagger-load-gx", daemon=True)
            _loading.start()


def _import_gx() -> None:
    for name in GX_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - raised again where GX is used
            return


def great_expectations() -> Any:
    """The ``great_expectations`` module, once a background load (if any) has finished: two threads
    importing the same package at once could see it half initialized."""
    with _loading_lock:
        loading = _loading
    if loading is not None:
        loading.join()
    import great_expectations as gx

    return gx


def expect_zero(column: str, *, severity: str = BLOCKING) -> Any:
    """GX expectation that ``column`` of a summary frame (a count of rows breaking a rule) is 0."""
    return great_expectations().expectations.ExpectColumnValuesToBeBetween(
        column=column, min_value=0, max_value=0, severity=severity
    )


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result in plain values."""

    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: Any = None
    unexpected_count: int | None = None

    def describe(self) -> str:
        where = f"({self.column})" if self.column else ""
        detail = f"observed {self.observed!r}" if self.observed is not None else ""
        if self.unexpected_count:
            detail = f"{self.unexpected_count} unexpected" + (f", {detail}" if detail else "")
        return f"{self.expectation}{where}" + (f": {detail}" if detail else "")


@dataclass(frozen=True)
class QualityReport:
    """Outcome of one suite run; ``passed`` ignores non-critical failures."""

    suite: str
    outcomes: tuple[ExpectationOutcome, ...]
    results_path: Path
    docs_path: Path | None
    statistics: dict[str, Any] = field(default_factory=dict)

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == BLOCKING]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity != BLOCKING]

    @property
    def passed(self) -> bool:
        return not self.critical_failures

    def raise_for_critical(self) -> None:
        if self.critical_failures:
            failed = "; ".join(o.describe() for o in self.critical_failures)
            raise DataQualityError(f"{self.suite}: critical expectation(s) failed: {failed} (see {self.results_path})")

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "passed": self.passed,
            "evaluated": len(self.outcomes),
            "critical_failures": [o.describe() for o in self.critical_failures],
            "warnings": [o.describe() for o in self.warnings],
            "results": str(self.results_path),
            "data_docs": str(self.docs_path) if self.docs_path else None,
        }


def quality_folder(config: JobtaggerConfig, job: str, run_date: dt.date) -> Path:
    """``{warehouse}/{quality.results_dir}/{job}/{run_date}``: where a run's results go."""
    return Path(config.storage.warehouse) / config.quality.results_dir / job / run_date.isoformat()


@dataclass(frozen=True)
class SuiteRun:
    """One suite to validate: the frame and the GX expectations it must meet."""

    frame: DataFrame | pd.DataFrame
    suite_name: str
    expectations: Sequence[Any]


def run_suite(
    df: DataFrame | pd.DataFrame,
    *,
    suite_name: str,
    expectations: Sequence[Any],
    results_dir: Path,
    run_id: str,
    data_docs: bool = True,
) -> QualityReport:
    """Validate ``df`` against ``expectations`` (GX Expectation objects) in an ephemeral context;
    save the JSON result (and Data Docs unless ``data_docs=False``) under ``results_dir``.
    ``df`` is a Spark DataFrame, or a pandas one for small frames of aggregates (no Spark jobs)."""
    return run_suites([SuiteRun(df, suite_name, expectations)], results_dir=results_dir, run_id=run_id,
                      data_docs=data_docs)[0]


def run_suites(runs: Sequence[SuiteRun], *, results_dir: Path, run_id: str, data_docs: bool = True) -> list[QualityReport]:
    """:func:`run_suite` for several suites in ONE GX context, with Data Docs built once for all
    (building them costs more than validating small frames)."""
    gx = great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    results_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_path = None
    if data_docs:
        context.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str((results_dir / "data_docs").resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                # Validation pages only: they show each expectation with its result; separate suite
                # pages (and profiling, unused) would double the rendering time.
                "site_section_builders": {"expectations": "0", "profiling": "0"},
            },
        )
        docs_path = results_dir / "data_docs" / "index.html"
    reports = [_validate(context, run, results_dir=results_dir, run_id=run_id, docs_path=docs_path) for run in runs]
    if data_docs:
        context.build_data_docs(site_names=[DOCS_SITE])
    return reports


def _validate(context: Any, run: SuiteRun, *, results_dir: Path, run_id: str, docs_path: Path | None) -> QualityReport:
    gx = great_expectations()

    name = run.suite_name
    source = (
        context.data_sources.add_pandas(f"{name}_source") if isinstance(run.frame, pd.DataFrame)
        else context.data_sources.add_spark(f"{name}_source")
    )
    batch = source.add_dataframe_asset(f"{name}_frame").add_batch_definition_whole_dataframe(f"{name}_batch")
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for expectation in run.expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=f"{name}_{run_id}", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name=f"{name}_checkpoint", validation_definitions=[definition]))
    outcome = checkpoint.run(batch_parameters={"dataframe": run.frame})
    result = next(iter(outcome.run_results.values()))
    results_path = results_dir / f"{name}.{run_id}.json"
    results_path.write_text(json.dumps(result.to_json_dict(), indent=2, default=str), encoding="utf-8")
    return QualityReport(
        suite=name,
        outcomes=tuple(_outcome(item) for item in result.results),
        results_path=results_path,
        docs_path=docs_path,
        statistics=dict(result.statistics),
    )


def _outcome(item: Any) -> ExpectationOutcome:
    config = item.expectation_config
    details = item.result or {}
    severity = getattr(config, "severity", None) or BLOCKING
    columns = [config.kwargs[key] for key in ("column", "column_A", "column_B") if config.kwargs.get(key)]
    return ExpectationOutcome(
        expectation=config.type,
        column=",".join(columns) or None,
        severity=str(getattr(severity, "value", severity)),
        success=bool(item.success),
        observed=details.get("observed_value"),
        unexpected_count=details.get("unexpected_count"),
    )
