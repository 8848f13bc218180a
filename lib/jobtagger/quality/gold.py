"""The gold data-quality suite: what must hold before a tag run publishes anything.

GX validates plain columns best, so the checks are phrased over small derived frames:
:func:`gold_check_frame` adds one column per per-row rule to the gold rows, and the drift rule
runs on :func:`jobtagger.tagging.tag_share_drift`'s one-row-per-tag frame. Aggregate
expectations (min/max/row count) are preferred: they cost one pass and no unexpected-value lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import great_expectations as gx
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.quality import QualityReport, run_suite
from jobtagger.tagging import tag_share_drift, tag_shares

GOLD_SUITE = "gold_posting_tags"
DRIFT_SUITE = "gold_tag_drift"


def gold_check_frame(gold: DataFrame, input_ids: DataFrame, *, labels: Sequence[str]) -> DataFrame:
    """Gold rows reduced to the columns the gold suite checks.

    ``in_input`` is null when the posting is absent from the bronze rows that were scored;
    ``unknown_tags`` counts assigned or candidate tags outside the model's label set; a posting
    with no scores at all has nothing out of range, so its score bounds read 0.
    """
    scores = F.concat(F.map_values("tag_scores"), F.map_values("candidate_scores"))
    present = input_ids.select("posting_id").distinct().withColumn("in_input", F.lit(True))
    return gold.join(present, on="posting_id", how="left").select(
        "posting_id",
        "in_input",
        F.size("tags").alias("tag_count"),
        F.coalesce(F.array_min(scores), F.lit(0.0)).alias("score_min"),
        F.coalesce(F.array_max(scores), F.lit(0.0)).alias("score_max"),
        # isin over many literals becomes one hash set (InSet), not a scan of every label per tag.
        F.size(
            F.filter(F.array_union("tags", F.map_keys("candidate_scores")), lambda tag: ~tag.isin(*labels))
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
    """The gate's reports (gold rows, and drift when there was a previous run to compare with)."""

    reports: tuple[QualityReport, ...]
    reason: str | None

    @property
    def passed(self) -> bool:
        return self.reason is None

    @property
    def drift_checked(self) -> bool:
        return any(report.suite == DRIFT_SUITE for report in self.reports)


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
    results_dir: Path,
    run_id: str,
) -> GateOutcome:
    """Validate gold rows, and tag-share drift against ``previous_shares`` when given.

    GX results (JSON and Data Docs) are always kept under ``results_dir``; ``reason`` is one line
    naming every failed rule, None when all passed.
    """
    checks = gold_check_frame(gold, input_ids, labels=labels).persist()
    try:
        reports = [run_suite(checks, suite_name=GOLD_SUITE, results_dir=results_dir, run_id=run_id,
                             expectations=gold_expectations(expected_rows=expected_rows, at_least_one=at_least_one))]
    finally:
        checks.unpersist()
    failures = [outcome.describe() for outcome in reports[0].critical_failures]
    if previous_shares is not None:
        drift = tag_share_drift(tag_shares(gold), previous_shares, min_share=drift_min_share).persist()
        try:
            reports.append(run_suite(drift, suite_name=DRIFT_SUITE, results_dir=results_dir, run_id=run_id,
                                     expectations=drift_expectations(drift_bound=drift_bound)))
            if not reports[-1].passed:
                failures.append(_drift_reason(drift, drift_bound))
        finally:
            drift.unpersist()
    return GateOutcome(reports=tuple(reports), reason="; ".join(failures) if failures else None)


def _drift_reason(drift: DataFrame, drift_bound: float, *, shown: int = 5) -> str:
    """The tags that drifted most (at most ``shown``; the drift frame has one row per tag)."""
    worst = drift.where(F.col("drift") > drift_bound).orderBy(F.desc("drift")).limit(shown).collect()
    listed = ", ".join(f"{row.tag} {row.previous_share:.3f}->{row.share:.3f}" for row in worst)
    return f"tag share drift above {drift_bound}: {listed}"
