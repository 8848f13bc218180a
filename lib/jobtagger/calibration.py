"""Per-label decision thresholds fitted on validation scores, and the Transformer that applies them.

A multi-label model outputs one probability per label; one global 0.5 cut is poor for rare labels.
``fit_decision`` (optionally) calibrates each label's scores (Platt, or isotonic where a label has
enough positives), then searches each label's exact best threshold over its sorted validation
scores. The search runs for all labels in ONE Spark aggregation: scores are exploded to
(label, score, is_positive), counted per distinct score, and cumulative true/false positive counts
per label come from a window ordered by score. Only one small row per label reaches the driver.

Fallbacks are recorded per label, never silent: a label with fewer than ``min_positives``
validation positives takes a single global threshold chosen for micro-F1 (``few_positives``); a
label whose best F1 is under ``min_f1`` gets a threshold just above every validation score
(``below_min_f1``, Fan & Lin's SCutFBR: only a posting scoring higher than any validation posting
gets it); ``precision_at_least`` with an unreachable target does the same
(``precision_unreachable``).

:class:`MultiLabelDecision` turns the ``scores`` array into ``tags``, ``tag_scores`` and
``candidate_scores`` with built-in higher-order functions (no Python UDF) and saves as plain JSON
params (no pickle), so it is the last stage of the saved ``PipelineModel``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from jobtagger.config import CalibrationConfig
from jobtagger.errors import JobtaggerError

FallbackReason = Literal["few_positives", "below_min_f1", "precision_unreachable"]
CalibrationMethod = Literal["none", "platt", "isotonic"]

# Probabilities are clipped to [EPSILON, 1 - EPSILON] before taking the logit.
EPSILON = 1e-7
# Resolution of the pooled score grid used for the one global (micro-F1) fallback threshold.
GLOBAL_GRID_STEPS = 10_000
# Width of the logit bins whose counts are used to fit Platt and isotonic calibrators.
CALIBRATION_BIN_WIDTH = 0.1
MAX_ABS_LOGIT = 20.0
# MultiLabelDecision's intermediate columns (dropped from its output).
_CALIBRATED, _SHORTLIST, _PASSING, _PAIRS = (
    "_decision_scores", "_decision_shortlist", "_decision_passing", "_decision_pairs"
)

THRESHOLDS_SCHEMA = StructType(
    [
        StructField("model_version", StringType(), False),
        StructField("label", StringType(), False),
        StructField("threshold", DoubleType(), False),
        StructField("strategy", StringType(), False),
        StructField("fallback", StringType(), True),
        StructField("validation_positives", LongType(), False),
        StructField("best_f1", DoubleType(), True),
        StructField("validation_f1", DoubleType(), True),
        StructField("calibration", StringType(), False),
    ]
)


@dataclass(frozen=True)
class LabelThreshold:
    """The decision threshold of one label and how it was chosen."""

    label: str
    threshold: float
    strategy: str
    fallback: FallbackReason | None
    validation_positives: int
    best_f1: float | None  # best F1 any threshold reaches on validation
    validation_f1: float | None  # F1 on validation at the chosen threshold
    calibration: CalibrationMethod = "none"


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of every label, in the model's label order."""

    strategy: str
    entries: tuple[LabelThreshold, ...]
    global_threshold: float | None = None

    @property
    def labels(self) -> list[str]:
        return [entry.label for entry in self.entries]

    @property
    def values(self) -> list[float]:
        return [entry.threshold for entry in self.entries]

    def by_label(self) -> dict[str, LabelThreshold]:
        return {entry.label: entry for entry in self.entries}

    def fallback_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries:
            if entry.fallback:
                counts[entry.fallback] = counts.get(entry.fallback, 0) + 1
        return counts

    def to_frame(self, spark: SparkSession, *, model_version: str) -> DataFrame:
        """Rows of the ``ml_thresholds`` table."""
        rows = [
            (
                model_version,
                e.label,
                float(e.threshold),
                e.strategy,
                e.fallback,
                int(e.validation_positives),
                e.best_f1,
                e.validation_f1,
                e.calibration,
            )
            for e in self.entries
        ]
        return spark.createDataFrame(rows, THRESHOLDS_SCHEMA)


@dataclass(frozen=True)
class ScoreCalibration:
    """Per-label score calibrators, in the model's label order."""

    methods: tuple[CalibrationMethod, ...]
    platt: tuple[tuple[float, float], ...]  # (a, b): p = sigmoid(a * logit(score) + b)
    isotonic: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]  # (knot scores, values)

    @classmethod
    def identity(cls, size: int) -> "ScoreCalibration":
        return cls(("none",) * size, ((1.0, 0.0),) * size, (((), ()),) * size)


# ---------------------------------------------------------------------------------------------
# Exploding and counting


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


# ---------------------------------------------------------------------------------------------
# Threshold search


def fit_thresholds(
    scored: DataFrame,
    labels: Sequence[str],
    config: CalibrationConfig,
    *,
    labels_col: str = "labels",
    scores_col: str = "scores",
) -> Thresholds:
    """Exact per-label thresholds on validation ``scored`` rows (truth in ``labels_col``).

    A posting gets a label when ``score >= threshold``. A chosen threshold lies halfway between the
    chosen distinct score and the next lower one, so it splits validation exactly as searched.
    """
    labels = list(labels)
    exploded = explode_scores(scored, labels, labels_col=labels_col, scores_col=scores_col).persist()
    try:
        summary = {row["label"]: row for row in _label_summaries(exploded, config).collect()}
        global_threshold = _global_micro_f1_threshold(exploded)
    finally:
        exploded.unpersist()
    entries = tuple(_choose(label, summary.get(label), config, global_threshold) for label in labels)
    return Thresholds(strategy=config.strategy, entries=entries, global_threshold=global_threshold)


def _label_summaries(exploded: DataFrame, config: CalibrationConfig) -> DataFrame:
    """One row per label: positives, max score, best F1 and the candidate the strategy picks."""
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
    )


def _choose(
    label: str, row: Any, config: CalibrationConfig, global_threshold: float
) -> LabelThreshold:
    if row is None:
        raise JobtaggerError(f"calibration: label {label!r} has no validation scores")
    positives = int(row["positives"])
    best_f1 = float(row["best_f1"])
    chosen = row["chosen"]
    above_all = float(np.nextafter(float(row["max_score"]), math.inf))

    def entry(threshold: float, fallback: FallbackReason | None, f1: float | None) -> LabelThreshold:
        return LabelThreshold(label, float(threshold), config.strategy, fallback, positives, best_f1, f1)

    if config.strategy == "fixed":
        return entry(config.fixed_threshold, None, float(chosen["f1"]) if chosen else 0.0)
    if positives < config.min_positives:
        return entry(global_threshold, "few_positives", None)
    if chosen is None:  # precision target met by no threshold
        return entry(above_all, "precision_unreachable", 0.0)
    if config.strategy in ("f1", "f_beta") and best_f1 < config.min_f1:
        return entry(above_all, "below_min_f1", 0.0)
    return entry(chosen["threshold"], None, float(chosen["f1"]))


def _global_micro_f1_threshold(exploded: DataFrame) -> float:
    """One threshold for all labels maximizing pooled (micro) F1, searched on a fine score grid.

    Scores of all labels are counted per grid cell in Spark; only the cell counts (at most
    ``GLOBAL_GRID_STEPS + 1`` rows) reach the driver.
    """
    cell = F.floor(F.greatest(F.least(F.col("score"), F.lit(1.0)), F.lit(0.0)) * GLOBAL_GRID_STEPS).cast("int")
    cells = (
        exploded.groupBy(cell.alias("cell"))
        .agg(F.sum(F.col("is_positive").cast("long")).alias("pos"), F.count(F.lit(1)).alias("n"))
        .collect()
    )
    pos = np.zeros(GLOBAL_GRID_STEPS + 1)
    total = np.zeros(GLOBAL_GRID_STEPS + 1)
    for row in cells:
        pos[row["cell"]] += row["pos"]
        total[row["cell"]] += row["n"]
    positives = pos.sum()
    if positives == 0:
        return 0.5
    tp = np.cumsum(pos[::-1])[::-1]  # predicted positive when score >= cell / steps
    predicted = np.cumsum(total[::-1])[::-1]
    f1 = 2 * tp / (predicted + positives)
    best = int(np.flatnonzero(f1 == f1.max()).max())
    return best / GLOBAL_GRID_STEPS


# ---------------------------------------------------------------------------------------------
# Score calibration


def fit_score_calibration(
    scored: DataFrame,
    labels: Sequence[str],
    config: CalibrationConfig,
    *,
    labels_col: str = "labels",
    scores_col: str = "scores",
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


# ---------------------------------------------------------------------------------------------
# Decision rules


@dataclass(frozen=True)
class DecisionRules:
    """How thresholded labels become a posting's tags."""

    at_least_one: bool = True
    max_labels: int = 20
    top_candidates: int = 5
    parents: Mapping[str, str] = field(default_factory=dict)  # child label -> parent label


def parents_for_rule(parents: Mapping[str, str], rule: Literal["none", "same_kind", "all"]) -> dict[str, str]:
    """The child -> parent pairs the consistency rule applies (kind = the id's part before ':')."""
    if rule == "none":
        return {}
    if rule == "all":
        return dict(parents)
    return {child: parent for child, parent in parents.items() if child.split(":")[0] == parent.split(":")[0]}


def ancestors(parents: Mapping[str, str]) -> dict[str, list[str]]:
    """Every label's chain of parents (nearest first); a cycle raises."""
    chains: dict[str, list[str]] = {}
    for child in parents:
        chain, node = [], child
        while node in parents:
            node = parents[node]
            if node == child or node in chain:
                raise JobtaggerError(f"calibration: label parents form a cycle through {child!r}")
            chain.append(node)
        chains[child] = chain
    return chains


class _DecisionParams(Params):
    labels = Param(Params._dummy(), "labels", "model labels, aligned with the scores array",
                   typeConverter=TypeConverters.toListString)
    thresholds = Param(Params._dummy(), "thresholds", "threshold per label (score >= threshold)",
                       typeConverter=TypeConverters.toListFloat)
    calibrationMethods = Param(Params._dummy(), "calibrationMethods", "none|platt|isotonic per label",
                               typeConverter=TypeConverters.toListString)
    plattCoefficients = Param(Params._dummy(), "plattCoefficients", "[a, b] per label",
                              typeConverter=TypeConverters.identity)
    isotonicKnots = Param(Params._dummy(), "isotonicKnots", "[[knot scores], [values]] per label",
                          typeConverter=TypeConverters.identity)
    atLeastOne = Param(Params._dummy(), "atLeastOne", "tag the best label when none passes",
                       typeConverter=TypeConverters.toBoolean)
    maxLabels = Param(Params._dummy(), "maxLabels", "most tags per posting", typeConverter=TypeConverters.toInt)
    topCandidates = Param(Params._dummy(), "topCandidates", "labels kept in candidate_scores",
                          typeConverter=TypeConverters.toInt)
    parents = Param(Params._dummy(), "parents", "child label -> parent label", typeConverter=TypeConverters.identity)
    scoresCol = Param(Params._dummy(), "scoresCol", "input scores column", typeConverter=TypeConverters.toString)
    tagsCol = Param(Params._dummy(), "tagsCol", "output tags column", typeConverter=TypeConverters.toString)
    tagScoresCol = Param(Params._dummy(), "tagScoresCol", "output map tag -> calibrated score",
                         typeConverter=TypeConverters.toString)
    candidateScoresCol = Param(Params._dummy(), "candidateScoresCol", "output map of the top labels",
                               typeConverter=TypeConverters.toString)


class MultiLabelDecision(Transformer, _DecisionParams, DefaultParamsReadable, DefaultParamsWritable):
    """``scores`` -> ``tags`` (by score, descending), ``tag_scores`` and ``candidate_scores``.

    Rules, in order: calibrate scores; keep labels with ``score >= threshold``; if none passes and
    ``atLeastOne``, keep the label closest to passing (highest score / threshold); keep the
    ``maxLabels`` highest scores; add every ancestor of a kept label (consistency wins over
    ``maxLabels``; an ancestor's score is its own if it is a model label, else its best child's).
    """

    @keyword_only
    def __init__(
        self,
        *,
        labels: list[str] | None = None,
        thresholds: list[float] | None = None,
        calibrationMethods: list[str] | None = None,
        plattCoefficients: list[list[float]] | None = None,
        isotonicKnots: list[list[list[float]]] | None = None,
        atLeastOne: bool = True,
        maxLabels: int = 20,
        topCandidates: int = 5,
        parents: dict[str, str] | None = None,
        scoresCol: str = "scores",
        tagsCol: str = "tags",
        tagScoresCol: str = "tag_scores",
        candidateScoresCol: str = "candidate_scores",
    ) -> None:
        super().__init__()
        self._setDefault(
            labels=[], thresholds=[], calibrationMethods=[], plattCoefficients=[], isotonicKnots=[],
            atLeastOne=True, maxLabels=20, topCandidates=5, parents={}, scoresCol="scores",
            tagsCol="tags", tagScoresCol="tag_scores", candidateScoresCol="candidate_scores",
        )
        self._set(**self._input_kwargs)

    @classmethod
    def from_fit(
        cls, thresholds: Thresholds, calibration: ScoreCalibration, rules: DecisionRules, *, scores_col: str = "scores"
    ) -> "MultiLabelDecision":
        return cls(
            labels=thresholds.labels,
            thresholds=thresholds.values,
            calibrationMethods=list(calibration.methods),
            plattCoefficients=[list(pair) for pair in calibration.platt],
            isotonicKnots=[[list(xs), list(ys)] for xs, ys in calibration.isotonic],
            atLeastOne=rules.at_least_one,
            maxLabels=rules.max_labels,
            topCandidates=rules.top_candidates,
            parents=dict(rules.parents),
            scoresCol=scores_col,
        )

    def score_calibration(self) -> ScoreCalibration:
        labels = self.getOrDefault(self.labels)
        methods = self.getOrDefault(self.calibrationMethods)
        if not methods:
            return ScoreCalibration.identity(len(labels))
        return ScoreCalibration(
            tuple(methods),
            tuple((float(a), float(b)) for a, b in self.getOrDefault(self.plattCoefficients)),
            tuple((tuple(xs), tuple(ys)) for xs, ys in self.getOrDefault(self.isotonicKnots)),
        )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        labels = self.getOrDefault(self.labels)
        thresholds = self.getOrDefault(self.thresholds)
        if not labels or len(labels) != len(thresholds):
            raise JobtaggerError(
                f"MultiLabelDecision needs one threshold per label, got {len(labels)} labels and {len(thresholds)} thresholds"
            )
        # Intermediate columns, each computed once: Spark keeps a projection whose non-trivial
        # expression is used more than once apart, so the array work below is not repeated.
        scores_col = self.getOrDefault(self.scoresCol)
        work = dataset.withColumn(_CALIBRATED, calibrated_scores(F.col(scores_col), self.score_calibration()))
        scores = F.col(_CALIBRATED)
        label_array = F.array(*[F.lit(label) for label in labels])
        threshold_array = F.array(*[F.lit(float(t)) for t in thresholds])
        positions = F.sequence(F.lit(1), F.lit(len(labels)))  # 1-based, constant-folded

        def entry(position: Column) -> Column:
            """struct(score, label, threshold): sort_array orders by score first, then label."""
            return F.struct(
                F.element_at(scores, position).alias("score"), F.element_at(label_array, position).alias("label"),
                F.element_at(threshold_array, position).alias("threshold"),
            )

        top = min(max(self.getOrDefault(self.topCandidates), 1), len(labels))
        # Only the labels that pass or rank among the top candidates (scoring at least the top-th
        # highest score, found by a primitive sort) become structs and get sorted, never all K.
        # aggregate() evaluates the cutoff once per row; a lambda referring to a column computed
        # outside it would have that expression inlined (and re-evaluated) per element.
        shortlist = F.aggregate(
            positions,
            F.struct(F.element_at(F.sort_array(scores, asc=False), top).alias("cutoff"),
                     F.array().cast("array<int>").alias("positions")),
            lambda chosen, i: F.when(
                F.element_at(scores, i) >= F.least(F.element_at(threshold_array, i), chosen["cutoff"]),
                F.struct(chosen["cutoff"].alias("cutoff"), F.concat(chosen["positions"], F.array(i)).alias("positions")),
            ).otherwise(chosen),
            lambda chosen: chosen["positions"],
        )
        work = work.withColumn(_SHORTLIST, F.sort_array(F.transform(shortlist, entry), asc=False))
        kept = F.filter(F.col(_SHORTLIST), lambda e: e["score"] >= e["threshold"])
        if self.getOrDefault(self.atLeastOne):
            closest = F.array_max(
                F.transform(
                    positions,
                    lambda i: F.struct(
                        (F.element_at(scores, i) / F.greatest(F.element_at(threshold_array, i), F.lit(EPSILON))).alias("ratio"),
                        *[entry(i)[name].alias(name) for name in ("score", "label", "threshold")],
                    ),
                )
            )
            best = F.array(F.struct(closest["score"].alias("score"), closest["label"].alias("label"),
                                    closest["threshold"].alias("threshold")))
            work = work.withColumn(_PASSING, kept)
            kept = F.when(F.size(F.col(_PASSING)) > 0, F.col(_PASSING)).otherwise(best)  # `best` only when needed
        kept = F.slice(kept, 1, self.getOrDefault(self.maxLabels))
        work = work.withColumn(_PAIRS, F.transform(kept, lambda e: F.struct(e["label"].alias("label"), e["score"].alias("score"))))
        work = work.withColumn(_PAIRS, self._with_ancestors(F.col(_PAIRS), label_array, scores))
        candidates = F.transform(
            F.slice(F.col(_SHORTLIST), 1, top), lambda e: F.struct(e["label"].alias("label"), e["score"].alias("score"))
        )
        if self.getOrDefault(self.topCandidates) == 0:
            candidates = F.filter(candidates, lambda e: F.lit(False))
        pairs = F.col(_PAIRS)
        null_scores = F.col(scores_col).isNull()
        return work.withColumns(
            {
                self.getOrDefault(self.tagsCol): F.when(~null_scores, F.transform(pairs, lambda p: p["label"])),
                self.getOrDefault(self.tagScoresCol): F.when(~null_scores, F.map_from_entries(pairs)),
                self.getOrDefault(self.candidateScoresCol): F.when(~null_scores, F.map_from_entries(candidates)),
            }
        ).drop(_CALIBRATED, _SHORTLIST, _PASSING, _PAIRS)

    def _with_ancestors(self, pairs: Column, label_array: Column, scores: Column) -> Column:
        chains = ancestors(self.getOrDefault(self.parents) or {})
        if not chains:
            return pairs
        children = list(chains)
        chain_map = F.map_from_arrays(
            F.array(*[F.lit(c) for c in children]),
            F.array(*[F.array(*[F.lit(p) for p in chains[c]]) for c in children]),
        )
        tagged = F.transform(pairs, lambda p: p["label"])
        implied = F.array_except(
            F.flatten(F.transform(tagged, lambda t: F.coalesce(F.element_at(chain_map, t), F.array().cast("array<string>")))),
            tagged,
        )

        def implied_pair(parent: Column) -> Column:
            from_children = F.array_max(
                F.transform(
                    F.filter(pairs, lambda p: F.coalesce(F.array_contains(F.element_at(chain_map, p["label"]), parent), F.lit(False))),
                    lambda p: p["score"],
                )
            )
            position = F.array_position(label_array, parent).cast("int")  # 0: the parent is no model label
            own_score = F.when(position > 0, F.element_at(scores, position))
            return F.struct(parent.alias("label"), F.coalesce(own_score, from_children).alias("score"))

        return F.concat(pairs, F.transform(implied, implied_pair))


def fit_decision(
    scored_validation: DataFrame,
    labels: Sequence[str],
    config: CalibrationConfig,
    *,
    top_candidates: int = 5,
    parents: Mapping[str, str] | None = None,
    labels_col: str = "labels",
    scores_col: str = "scores",
) -> tuple[MultiLabelDecision, Thresholds]:
    """Fit calibrators and thresholds on validation rows; return the decision stage and the record.

    Cache ``scored_validation`` first: it is read once per fitting pass.
    """
    calibration = fit_score_calibration(scored_validation, labels, config, labels_col=labels_col, scores_col=scores_col)
    calibrated = scored_validation.withColumn(scores_col, calibrated_scores(F.col(scores_col), calibration))
    thresholds = fit_thresholds(calibrated, labels, config, labels_col=labels_col, scores_col=scores_col)
    thresholds = Thresholds(
        strategy=thresholds.strategy,
        entries=tuple(
            LabelThreshold(**{**asdict(e), "calibration": method})
            for e, method in zip(thresholds.entries, calibration.methods)
        ),
        global_threshold=thresholds.global_threshold,
    )
    rules = DecisionRules(
        at_least_one=config.at_least_one,
        max_labels=config.max_labels_per_posting,
        top_candidates=top_candidates,
        parents=parents_for_rule(parents or {}, config.parent_consistency),
    )
    return MultiLabelDecision.from_fit(thresholds, calibration, rules, scores_col=scores_col), thresholds
