"""Validation scores as per-label counts: the one Spark shape every threshold search reads.

Scores are exploded to (label, score, is_positive); :func:`cumulative_counts` then gives, per label
and distinct score, the true and false positives of predicting ``score >= that score``, from a
window ordered by score. Only small per-label rows ever reach the driver.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def explode_scores(
    df: DataFrame, labels: Sequence[str], *, labels_col: str = "labels", scores_col: str = "scores"
) -> DataFrame:
    """(label, score, is_positive) for every posting and model label; ``scores`` aligned with ``labels``."""
    label_array = F.array(*[F.lit(label) for label in labels])
    return (
        df.select(F.posexplode(scores_col).alias("position", "score"), F.col(labels_col).alias("truth"))
        .select(
            F.element_at(label_array, F.col("position") + 1).alias("label"),
            F.col("score").cast("double").alias("score"),
            F.coalesce(F.array_contains("truth", F.element_at(label_array, F.col("position") + 1)), F.lit(False)).alias(
                "is_positive"
            ),
        )
    )


def cumulative_counts(exploded: DataFrame) -> DataFrame:
    """Per label and distinct score: true/false positives when predicting ``score >= this score``.

    Columns: label, score, next_score (the next lower distinct score, null at the lowest),
    tp, fp, positives (the label's validation positives), negatives.
    """
    by_score = exploded.groupBy("label", "score").agg(
        F.sum(F.col("is_positive").cast("long")).alias("pos"),
        F.sum((~F.col("is_positive")).cast("long")).alias("neg"),
    )
    descending = Window.partitionBy("label").orderBy(F.desc("score"))
    running = descending.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    whole = Window.partitionBy("label")
    return by_score.select(
        "label",
        "score",
        F.lead("score").over(descending).alias("next_score"),
        F.sum("pos").over(running).alias("tp"),
        F.sum("neg").over(running).alias("fp"),
        F.sum("pos").over(whole).alias("positives"),
        F.sum("neg").over(whole).alias("negatives"),
    )


def f_beta(tp: Column, fp: Column, positives: Column, beta: float) -> Column:
    """F-beta from counts: (1+b^2) tp / (tp + fp + b^2 positives); 0 when nothing is positive."""
    b2 = beta * beta
    denominator = tp + fp + F.lit(b2) * positives
    return F.when(denominator > 0, F.lit(1.0 + b2) * tp / denominator).otherwise(F.lit(0.0))
