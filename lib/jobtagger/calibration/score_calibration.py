"""Per-label score calibration (Platt, or isotonic where a label has enough positives).

Calibrators are fitted from per-label logit-bin counts computed in one Spark aggregation, so only
the bins reach the driver; :func:`calibrated_scores` applies them to the ``scores`` array with
built-in higher-order functions (no Python UDF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobtagger.calibration.counts import explode_scores
from jobtagger.config import CalibrationConfig

CalibrationMethod = Literal["none", "platt", "isotonic"]

# Probabilities are clipped to [EPSILON, 1 - EPSILON] before taking the logit.
EPSILON = 1e-7
# Width of the logit bins whose counts are used to fit Platt and isotonic calibrators.
CALIBRATION_BIN_WIDTH = 0.1
MAX_ABS_LOGIT = 20.0


@dataclass(frozen=True)
class ScoreCalibration:
    """Per-label score calibrators, in the model's label order."""

    methods: tuple[CalibrationMethod, ...]
    platt: tuple[tuple[float, float], ...]  # (a, b): p = sigmoid(a * logit(score) + b)
    isotonic: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]  # (knot scores, values)

    @classmethod
    def identity(cls, size: int) -> "ScoreCalibration":
        return cls(("none",) * size, ((1.0, 0.0),) * size, (((), ()),) * size)


def fit_score_calibration(
    scored: DataFrame, labels: Sequence[str], config: CalibrationConfig, *,
    labels_col: str = "labels", scores_col: str = "scores",
) -> ScoreCalibration:
    """Platt (or isotonic) calibrators per label, fitted from per-label logit-bin counts.

    Isotonic is used only for labels with at least ``isotonic_min_samples`` validation positives
    (fewer make a jagged step function); other labels with ``min_positives`` get Platt; the rest
    are left uncalibrated.
    """
    labels = list(labels)
    if config.score_calibration == "none":
        return ScoreCalibration.identity(len(labels))
    logit = _logit(F.col("score"))
    bins = (
        explode_scores(scored, labels, labels_col=labels_col, scores_col=scores_col)
        .groupBy("label", F.round(logit / CALIBRATION_BIN_WIDTH).alias("bin"))
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(F.col("is_positive").cast("long")).alias("pos"),
            F.avg(logit).alias("mean_logit"),
            F.min("score").alias("min_score"),
        )
        .orderBy("label", "bin")
        .collect()
    )
    per_label: dict[str, list[Any]] = {}
    for row in bins:
        per_label.setdefault(row["label"], []).append(row)
    fitted = [_fit_one_calibrator(per_label.get(label, []), config) for label in labels]
    methods, platt, isotonic = zip(*fitted)
    return ScoreCalibration(tuple(methods), tuple(platt), tuple(isotonic))


def _fit_one_calibrator(
    rows: list[Any], config: CalibrationConfig
) -> tuple[CalibrationMethod, tuple[float, float], tuple[tuple[float, ...], tuple[float, ...]]]:
    n = np.array([r["n"] for r in rows], dtype=float)
    pos = np.array([r["pos"] for r in rows], dtype=float)
    positives = pos.sum()
    if positives < config.min_positives or positives == n.sum():
        return "none", (1.0, 0.0), ((), ())
    if config.score_calibration == "isotonic" and positives >= config.isotonic_min_samples:
        return "isotonic", (1.0, 0.0), _isotonic_knots(np.array([r["min_score"] for r in rows]), n, pos)
    return "platt", _platt(np.array([r["mean_logit"] for r in rows]), n, pos), ((), ())


def _logit(score: Column) -> Column:
    clipped = F.least(F.greatest(score, F.lit(EPSILON)), F.lit(1.0 - EPSILON))
    return F.log(clipped / (F.lit(1.0) - clipped))


def _platt(x: np.ndarray, n: np.ndarray, pos: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Weighted logistic fit of the label on logit(score), with Platt's smoothed targets.

    Newton steps with backtracking (plain Newton overshoots from the identity start)."""
    positives, negatives = pos.sum(), n.sum() - pos.sum()
    target_pos, target_neg = (positives + 1) / (positives + 2), 1 / (negatives + 2)
    y = (pos * target_pos + (n - pos) * target_neg) / n

    def loss(a: float, b: float) -> float:
        z = a * x + b
        return float(np.sum(n * (np.logaddexp(0, z) - y * z)))

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(a * x + b, -500, 500)))
        w = n * p * (1 - p) + 1e-12
        gradient = np.array([np.sum(n * (p - y) * x), np.sum(n * (p - y))])
        hessian = np.array([[np.sum(w * x * x) + 1e-9, np.sum(w * x)], [np.sum(w * x), np.sum(w) + 1e-9]])
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-8 and loss(a - scale * step[0], b - scale * step[1]) > current:
            scale /= 2
        a, b = a - scale * step[0], b - scale * step[1]
        previous, current = current, loss(a, b)
        if previous - current < 1e-12 * max(1.0, abs(previous)):
            break
    return float(a), float(b)


def _isotonic_knots(
    lower_scores: np.ndarray, n: np.ndarray, pos: np.ndarray
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Pool-adjacent-violators over score bins: a non-decreasing step function (knot, value)."""
    blocks: list[list[float]] = []  # [lower score, weight, positives]
    for low, weight, hits in zip(lower_scores, n, pos):
        blocks.append([float(low), float(weight), float(hits)])
        while len(blocks) > 1 and blocks[-2][2] / blocks[-2][1] >= blocks[-1][2] / blocks[-1][1]:
            _, weight_last, hits_last = blocks.pop()
            blocks[-1][1] += weight_last
            blocks[-1][2] += hits_last
    return tuple(b[0] for b in blocks), tuple(b[2] / b[1] for b in blocks)


def calibrated_scores(scores: Column, calibration: ScoreCalibration) -> Column:
    """The ``scores`` array with each label's calibrator applied (built-in functions only)."""
    if all(method == "none" for method in calibration.methods):
        return scores
    methods = F.array(*[F.lit(m) for m in calibration.methods])
    slopes = F.array(*[F.lit(float(a)) for a, _ in calibration.platt])
    intercepts = F.array(*[F.lit(float(b)) for _, b in calibration.platt])
    knots = F.array(*[F.array(*[F.lit(float(x)) for x in xs]).cast("array<double>") for xs, _ in calibration.isotonic])
    values = F.array(*[F.array(*[F.lit(float(y)) for y in ys]).cast("array<double>") for _, ys in calibration.isotonic])

    def one(score: Column, index: Column) -> Column:
        position = index + 1
        method = F.element_at(methods, position)
        platt = F.lit(1.0) / (
            F.lit(1.0) + F.exp(-(F.element_at(slopes, position) * _logit(score) + F.element_at(intercepts, position)))
        )
        steps = F.zip_with(
            F.element_at(knots, position),
            F.element_at(values, position),
            lambda x, y: F.struct(x.alias("x"), y.alias("y")),
        )
        passed = F.filter(steps, lambda step: step["x"] <= score)
        isotonic = F.coalesce(
            F.try_element_at(passed, F.lit(-1))["y"], F.try_element_at(F.element_at(values, position), F.lit(1))
        )
        return (
            F.when(method == "platt", platt).when(method == "isotonic", isotonic).otherwise(score).cast("double")
        )

    return F.when(scores.isNull(), scores).otherwise(F.transform(scores, one))
