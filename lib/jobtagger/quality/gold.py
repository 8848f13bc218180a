"""The gold data-quality gate: what must hold before a tag run publishes anything.

The rules are checked by GX on small frames of aggregates (see :mod:`jobtagger.quality.gold_profile`
for how they are measured while the rows are produced): ``gold_posting_tags`` on one row comparing
gold with the scored bronze rows (row count, ids, untagged postings, score range),
``gold_tags`` on one row per tag the rows name (the model's label set), and ``gold_tag_drift`` on
one row per tag comparing shares with the previous run (:func:`jobtagger.quality.drift.tag_share_drift`):
a tag fails when its share moved by more than the bound AND the move is significant at the two
runs' sample sizes (z-statistic at least ``drift_min_z``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import great_expectations as gx
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.quality import QualityReport, SuiteRun, expect_zero, run_suites
from jobtagger.quality.drift import TAG_SHARE_COLUMNS, tag_share_drift
from jobtagger.quality.gold_profile import GoldProfile, InputSummary

GOLD_SUITE = "gold_posting_tags"
TAGS_SUITE = "gold_tags"
DRIFT_SUITE = "gold_tag_drift"


def gold_summary_frame(profile: GoldProfile, inputs: InputSummary, *, duplicate_ids: int) -> pd.DataFrame:
    """One row: the gold rows' counts next to the scored bronze rows'. Fingerprints are decimal
    text (exact; they exceed 64 bits). Without any finite score the range reads 0 (nothing out of it)."""
    scored = profile.scores > profile.non_finite_scores
    return pd.DataFrame([{
        "rows": profile.rows,
        "input_rows": inputs.rows,
        "duplicate_ids": duplicate_ids,
        "null_ids": profile.null_ids,
        "id_fingerprint": str(profile.id_fingerprint),
        "input_id_fingerprint": str(inputs.id_fingerprint),
        "untagged": profile.untagged,
        "non_finite_scores": profile.non_finite_scores,
        "score_min": profile.score_min if scored else 0.0,
        "score_max": profile.score_max if scored else 0.0,
    }])


def gold_tags_frame(profile: GoldProfile) -> pd.DataFrame:
    """One row per tag named in ``tags`` or a score map: postings carrying it and its share."""
    names = sorted(set(profile.tag_postings) | set(profile.scored_tags))
    postings = [profile.tag_postings.get(name, 0) for name in names]
    return pd.DataFrame({
        "tag": pd.Series(names, dtype=object),
        "postings": pd.Series(postings, dtype="int64"),
        "share": pd.Series([count / profile.rows if profile.rows else 0.0 for count in postings], dtype="float64"),
    })


def gold_expectations(*, at_least_one: bool) -> list[gx.expectations.Expectation]:
    """Expectations over :func:`gold_summary_frame`."""
    def equal(column_a: str, column_b: str) -> gx.expectations.Expectation:
        return gx.expectations.ExpectColumnPairValuesToBeEqual(column_A=column_a, column_B=column_b)

    expectations: list[gx.expectations.Expectation] = [
        equal("rows", "input_rows"),
        expect_zero("duplicate_ids"),
        equal("id_fingerprint", "input_id_fingerprint"),
        expect_zero("null_ids"),
        expect_zero("non_finite_scores"),
        gx.expectations.ExpectColumnValuesToBeBetween(column="score_min", min_value=0.0),
        gx.expectations.ExpectColumnValuesToBeBetween(column="score_max", max_value=1.0),
    ]
    if at_least_one:
        expectations.append(expect_zero("untagged"))
    return expectations


def tag_expectations(*, labels: Sequence[str]) -> list[gx.expectations.Expectation]:
    """Expectations over :func:`gold_tags_frame`."""
    return [gx.expectations.ExpectColumnValuesToBeInSet(column="tag", value_set=list(labels))]


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
    spark: SparkSession,
    profile: GoldProfile,
    inputs: InputSummary,
    *,
    duplicate_ids: int,
    labels: Sequence[str],
    at_least_one: bool,
    previous_shares: DataFrame | None,
    drift_bound: float,
    drift_min_share: float,
    results_dir: Path,
    drift_min_z: float = 0.0,
    run_id: str,
) -> GateOutcome:
    """Validate the profile of the gold rows (and their ``duplicate_ids``, see
    :func:`jobtagger.quality.gold_profile.count_duplicate_ids`) against the scored input, and
    tag-share drift against ``previous_shares`` when given.

    GX results (JSON and Data Docs) are always kept under ``results_dir``; ``reason`` is one line
    naming every failed rule (with the values compared), None when all passed.
    """
    summary = gold_summary_frame(profile, inputs, duplicate_ids=duplicate_ids)
    tags = gold_tags_frame(profile)
    runs = [SuiteRun(summary, GOLD_SUITE, gold_expectations(at_least_one=at_least_one)),
            SuiteRun(tags, TAGS_SUITE, tag_expectations(labels=labels))]
    drift = None
    if previous_shares is not None:
        current = spark.createDataFrame(tags[list(TAG_SHARE_COLUMNS)], "tag string, postings long, share double")
        drift = tag_share_drift(current.where(F.col("postings") > 0), previous_shares, min_share=drift_min_share,
                                min_z=drift_min_z).persist()
        runs.append(SuiteRun(drift, DRIFT_SUITE, drift_expectations(drift_bound=drift_bound)))
    try:
        reports = run_suites(runs, results_dir=results_dir, run_id=run_id)  # one Data Docs site for all
        values = summary.iloc[0]
        failures = [
            f"{outcome.describe()} [{', '.join(f'{column}={values[column]}' for column in outcome.column.split(','))}]"
            for outcome in reports[0].critical_failures
        ]
        if reports[1].critical_failures:
            unknown = sorted(set(tags["tag"]) - set(labels))
            failures.append(f"{reports[1].critical_failures[0].describe()}: tags outside the model's labels {unknown[:5]}")
        if drift is not None and not reports[2].passed:
            failures.append(_drift_reason(drift, drift_bound))
    finally:
        if drift is not None:
            drift.unpersist()
    return GateOutcome(reports=tuple(reports), reason="; ".join(failures) if failures else None)


def _drift_reason(drift: DataFrame, drift_bound: float, *, shown: int = 5) -> str:
    """The tags that drifted most (at most ``shown``; the drift frame has one row per tag)."""
    worst = drift.where(F.col("drift") > drift_bound).orderBy(F.desc("drift")).limit(shown).collect()
    listed = ", ".join(f"{row.tag} {row.previous_share:.3f}->{row.share:.3f} (z={row.z:.1f})" for row in worst)
    return f"tag share drift above {drift_bound}: {listed}"
