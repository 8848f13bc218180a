"""The threshold each per-label rule picks from one label's validation counts.

:func:`label_summaries` reduces the cumulative counts to one row per label (positives, top score,
best F1, the strategy's pick, the F1 at the top score and at the global threshold);
:func:`rule_cut` turns such a row into the threshold of one rule. The final thresholds and the
cross-fitted rule selection both use these two, so every rule is searched the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.calibration.counts import cumulative_counts, f_beta
from jobtagger.config import CalibrationConfig

RuleName = Literal["switch_off", "scut", "scut_rank", "global", "pooled_few"]
FallbackReason = Literal["few_positives", "below_min_f1", "precision_unreachable", "rank"]


@dataclass(frozen=True)
class Cut:
    """A label's threshold under one rule, and the F1 it reaches on the rows it was searched on."""

    threshold: float
    fallback: FallbackReason | None
    f1: float | None


def label_summaries(exploded: DataFrame, config: CalibrationConfig, global_threshold: float) -> DataFrame:
    """One row per label: positives, max score, best F1, the strategy's pick, top_f1 and global_f1."""
    counts = cumulative_counts(exploded)
    midpoint = (F.col("score") + F.col("next_score")) / 2.0
    # Adjacent doubles can round the midpoint onto the lower score: keep the score itself then.
    threshold = F.when(F.col("next_score").isNotNull() & (midpoint > F.col("next_score")), midpoint).otherwise(
        F.col("score")
    )
    f1 = f_beta(F.col("tp"), F.col("fp"), F.col("positives"), 1.0)
    candidate = F.struct(
        threshold.alias("threshold"), f1.alias("f1"), F.col("tp").alias("tp"), F.col("fp").alias("fp")
    )
    if config.strategy in ("f1", "f_beta"):
        beta = 1.0 if config.strategy == "f1" else config.beta
        # Highest F-beta; among equals the highest score (fewest predicted postings).
        ordering = F.struct(f_beta(F.col("tp"), F.col("fp"), F.col("positives"), beta), F.col("score"))
    elif config.strategy == "precision_at_least":
        precision = F.col("tp") / (F.col("tp") + F.col("fp"))
        # Highest recall (tp) meeting the precision target; among equals the highest score.
        ordering = F.when(precision >= config.min_precision, F.struct(F.col("tp"), F.col("score")))
    else:  # fixed: F1 at the fixed threshold = counts at the lowest score still >= it
        ordering = F.when(F.col("score") >= config.fixed_threshold, F.struct(-F.col("score")))
    return counts.groupBy("label").agg(
        F.first("positives").alias("positives"),
        F.max("score").alias("max_score"),
        F.max(f1).alias("best_f1"),
        F.max_by(candidate, ordering).alias("chosen"),
        F.max_by(f1, F.col("score")).alias("top_f1"),  # only the top-scored rows pass
        F.max_by(f1, F.when(F.col("score") >= global_threshold, -F.col("score"))).alias("global_f1"),
    )


def rule_cut(rule: RuleName, row: Any, config: CalibrationConfig, global_threshold: float) -> Cut:
    """The threshold ``rule`` gives the label of ``row`` (a :func:`label_summaries` row, f1 / f_beta)."""
    if rule == "global":
        return Cut(global_threshold, None, float(row["global_f1"] or 0.0))
    chosen = row["chosen"]
    if rule == "scut" or float(row["best_f1"]) >= config.min_f1:
        return Cut(float(chosen["threshold"]), None, float(chosen["f1"]))
    if rule == "scut_rank":
        return Cut(float(row["max_score"]), "rank", float(row["top_f1"]))
    return Cut(above_all(row), "below_min_f1", 0.0)  # switch_off


def above_all(row: Any) -> float:
    """A threshold just above every validation score of the label: no validation posting gets it."""
    return float(np.nextafter(float(row["max_score"]), math.inf))
