"""The gold data-quality suite: what must hold before a tag run publishes anything.

GX validates plain columns best, so the checks are phrased over small derived frames:
:func:`gold_check_frame` adds one column per per-row rule to the gold rows, and the drift rule
runs on :func:`jobtagger.tagging.tag_share_drift`'s one-row-per-tag frame. Aggregate
expectations (min/max/row count) are preferred: they cost one pass and no unexpected-value lists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.tagging import tag_share_drift, tag_shares

GOLD_SUITE = "gold_posting_tags"
DRIFT_SUITE = "gold_tag_drift"


def gold_check_frame(gold: DataFrame, input_ids: DataFrame, *, labels: Sequence[str]) -> DataFrame:
    """Gold rows reduced to the columns the gold suite checks.

    ``in_input`` is null when the posting is absent from the bronze rows that were scored;
    ``unknown_tags`` counts assigned or candidate tags outside the model's label set; a posting
    with no scores at all has nothing out of range, so its score bounds read 0.
    """
    known = F.array(*[F.lit(label) for label in labels]) if labels else F.array().cast("array<string>")
    scores = F.concat(F.map_values("tag_scores"), F.map_values("candidate_scores"))
    present = input_ids.select("posting_id").distinct().withColumn("in_input", F.lit(True))
    return gold.join(present, on="posting_id", how="left").select(
        "posting_id",
        "in_input",
        F.size("tags").alias("tag_count"),
        F.coalesce(F.array_min(scores), F.lit(0.0)).alias("score_min"),
        F.coalesce(F.array_max(scores), F.lit(0.0)).alias("score_max"),
        F.size(
            F.array_except(
                F.array_union("tags", F.map_keys("candidate_scores")), known
            )
        ).alias("unknown_tags"),
    )


def gold_expectations(*, expected_rows: int, at_least_one: bool) -> list[gx.expectations.Expectation]:
    """Expectations over :func:`gold_check_frame`."""
    expectations: list[gx.expectations.Expectation] = [
        gx.expectations.ExpectColumnValuesToNotBeNull(column="posting_id"),
        gx.expectations.ExpectColumnValuesToBeUnique(column="posting_id"),
        gx.expectations.ExpectTableRowCountToEqual(value=expected_rows),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="in_input"),
        gx.expectations.ExpectColumnMinToBeBetween(column="score_min", min_value=0.0),
        gx.expectations.ExpectColumnMaxToBeBetween(column="score_max", max_value=1.0),
        gx.expectations.ExpectColumnMaxToBeBetween(column="unknown_tags", max_value=0),
    ]
    if at_least_one:
        expectations.append(gx.expectations.ExpectColumnMinToBeBetween(column="tag_count", min_value=1))
    return expectations


def drift_expectations(*, drift_bound: float) -> list[gx.expectations.Expectation]:
    """Expectations over the tag-share drift frame (exempt tags carry a null ``drift``)."""
    return [gx.expectations.ExpectColumnValuesToBeBetween(column="drift", min_value=0.0, max_value=drift_bound)]


@dataclass(frozen=True)
class GateOutcome:
    """What the gate checked; ``results_path`` keeps the GX validation results of the run."""

    success: bool
    reason: str | None
    results_path: Path
    checked_rows: int
    drift_checked: bool


def check_gold(
    gold: DataFrame,
    input_ids: DataFrame,
    *,
    labels: Sequence[str],
    expected_rows: int,
    at_least_one: bool,
    previous_shares: DataFrame | None,
    drift_bound: float,
    drift_min_share: float,
    results_path: Path,
) -> GateOutcome:
    """Validate gold rows (and tag-share drift against the previous run when there is one).

    Validation results are always written to ``results_path`` (JSON); the caller decides what a
    failure means (the tag stage raises DataQualityError and publishes nothing).
    """
    checks = gold_check_frame(gold, input_ids, labels=labels).persist()
    expectations = gold_expectations(expected_rows=expected_rows, at_least_one=at_least_one)
    results = {GOLD_SUITE: _validate(checks, GOLD_SUITE, expectations)}
    checks.unpersist()
    failures = _failures(results[GOLD_SUITE])
    drift = None
    if previous_shares is not None:
        drift = tag_share_drift(tag_shares(gold), previous_shares, min_share=drift_min_share).persist()
        results[DRIFT_SUITE] = _validate(drift, DRIFT_SUITE, drift_expectations(drift_bound=drift_bound))
        if not results[DRIFT_SUITE].success:
            failures.append(_drift_reason(drift, drift_bound))
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(
        json.dumps({name: result.to_json_dict() for name, result in results.items()}, indent=2, default=str),
        encoding="utf-8",
    )
    if drift is not None:
        drift.unpersist()
    reason = "; ".join(failures) if failures else None
    return GateOutcome(
        success=not failures,
        reason=reason,
        results_path=results_path,
        checked_rows=expected_rows,
        drift_checked=previous_shares is not None,
    )


def _validate(df: DataFrame, suite_name: str, expectations: Sequence[gx.expectations.Expectation]) -> Any:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_spark(f"{suite_name}_source")
        .add_dataframe_asset(f"{suite_name}_rows")
        .add_batch_definition_whole_dataframe(f"{suite_name}_batch")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch, suite=suite)
    )
    return definition.run(batch_parameters={"dataframe": df})


def _failures(result: Any) -> list[str]:
    """One short phrase per failed expectation: its type, column and observed value."""
    phrases = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        column = config.kwargs.get("column")
        observed = item.result.get("observed_value", item.result.get("unexpected_count"))
        if item.exception_info and item.exception_info.get("raised_exception"):
            observed = "error: " + str(item.exception_info.get("exception_message")).splitlines()[0]
        where = f"({column})" if column else ""
        phrases.append(f"{config.type}{where} observed {observed}")
    return phrases


def _drift_reason(drift: DataFrame, drift_bound: float, *, shown: int = 5) -> str:
    worst = drift.where(F.col("drift") > drift_bound).orderBy(F.desc("drift")).limit(shown).collect()
    listed = ", ".join(f"{row.tag} {row.previous_share:.3f}->{row.share:.3f}" for row in worst)
    return f"tag share drift above {drift_bound}: {listed}"
