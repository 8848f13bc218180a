"""Per-label decision thresholds searched on validation scores, and their record.

The search runs for all labels in ONE Spark aggregation over :func:`cumulative_counts`; only one
small row per label reaches the driver.

Each label follows a rule (``calibration.rule``, see :mod:`.candidates`): the F-best threshold
(``scut``), the same with a rank fallback under the ``min_f1`` floor (``scut_rank``, SCutFBR.1),
one global threshold (``global``), the F-best threshold switched off under the floor
(``switch_off``), or per label the best of the first three by cross-fitted validation F
(``select``, :mod:`.selection`).

Fallbacks are recorded per label, never silent: the labels with fewer than ``min_positives``
validation positives share one threshold chosen for micro-F1 (``few_positives``; over all labels
or pooled over those labels, see ``calibration.few_positives_rule``); a
label whose best F1 is under ``min_f1`` fires on its top-ranked validation items (``rank``) or,
with ``switch_off``, gets a threshold just above every validation score (``below_min_f1``, Fan &
Lin's SCutFBR.0); ``precision_at_least`` with an unreachable target does the same
(``precision_unreachable``). Beside them the record holds the pooled thresholds that give on
average 1, 2 or 3 labels per validation posting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.calibration.candidates import FallbackReason, above_all, label_summaries, rule_cut
from jobtagger.calibration.counts import explode_scores
from jobtagger.calibration.pooled import global_micro_f1_threshold, labels_per_posting_thresholds, pooled_cells
from jobtagger.calibration.score_calibration import CalibrationMethod
from jobtagger.calibration.rule_selection import (
    SELECTABLE_RULES,
    SELECTION_SEED,
    FewPositivesChoice,
    RuleChoice,
    few_positives_threshold,
    select_rules,
    with_halves,
)
from jobtagger.config import CalibrationConfig
from jobtagger.errors import JobtaggerError
from jobtagger.tables.schemas import THRESHOLDS_SCHEMA


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
    rule: str | None = None  # the rule the threshold follows (the strategy's name for precision / fixed)
    rule_validation_f: Mapping[str, float] | None = None  # "select": cross-fitted F of each candidate rule


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of every label, in the model's label order."""

    strategy: str
    entries: tuple[LabelThreshold, ...]
    global_threshold: float | None = None
    # the one threshold of the labels under min_positives validation positives (None: there are none)
    few_positives_threshold: float | None = None
    # k -> the one threshold giving k labels per validation posting on average (before the rules)
    labels_per_posting: Mapping[int, float] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [entry.label for entry in self.entries]

    @property
    def values(self) -> list[float]:
        return [entry.threshold for entry in self.entries]

    def by_label(self) -> dict[str, LabelThreshold]:
        return {entry.label: entry for entry in self.entries}

    def fallback_counts(self) -> dict[str, int]:
        """Labels per fallback reason (labels without a fallback are not counted)."""
        return _tally(entry.fallback for entry in self.entries)

    def rule_counts(self) -> dict[str, int]:
        """Labels per rule their threshold follows (labels without a rule are not counted)."""
        return _tally(entry.rule for entry in self.entries)

    def labels_per_posting_metrics(self) -> dict[str, float]:
        """``threshold_for_{k}_labels_per_posting`` for the registry's metrics map."""
        return {f"threshold_for_{k}_labels_per_posting": float(t) for k, t in sorted(self.labels_per_posting.items())}

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
                e.rule,
                dict(e.rule_validation_f) if e.rule_validation_f is not None else None,
            )
            for e in self.entries
        ]
        return spark.createDataFrame(rows, THRESHOLDS_SCHEMA)


def _tally(values: Iterable[str | None]) -> dict[str, int]:
    """How often each value that is set occurs, in the order of first occurrence."""
    return dict(Counter(value for value in values if value))


def fit_thresholds(
    scored: DataFrame, labels: Sequence[str], config: CalibrationConfig, *,
    labels_col: str = "labels", scores_col: str = "scores",
) -> Thresholds:
    """Exact per-label thresholds on validation ``scored`` rows (truth in ``labels_col``).

    A posting gets a label when ``score >= threshold``. A searched threshold lies halfway between
    the chosen distinct score and the next lower one, so it splits validation exactly as searched.
    """
    labels = list(labels)
    exploded = explode_scores(scored, labels, labels_col=labels_col, scores_col=scores_col).persist()
    halves = None
    try:
        cells = pooled_cells(exploded)
        global_threshold = global_micro_f1_threshold(cells)
        summary = {row["label"]: row for row in label_summaries(exploded, config, global_threshold).collect()}
        per_posting = labels_per_posting_thresholds(exploded, cells, n_labels=len(labels)) if labels else {}
        few = [label for label, row in summary.items() if int(row["positives"]) < config.min_positives]
        few = few if config.strategy != "fixed" else []
        select = config.effective_rule == "select"
        if select or (few and config.few_positives_rule == "select"):  # one split shared by both selections
            halves = with_halves(exploded, seed=SELECTION_SEED).persist()
        choices = select_rules(exploded, config, halves=halves) if select else {}
        shared = few_positives_threshold(exploded, few, config, global_threshold=global_threshold, halves=halves)
        if shared.rule != "global":  # each label's F1 at the shared threshold, for the record
            few_rows = exploded.where(F.col("label").isin(few))
            summary.update({row["label"]: row for row in label_summaries(few_rows, config, shared.threshold).collect()})
    finally:
        if halves is not None:
            halves.unpersist()
        exploded.unpersist()
    entries = tuple(
        _choose(label, summary.get(label), config, global_threshold, choices.get(label), shared) for label in labels
    )
    return Thresholds(
        strategy=config.strategy, entries=entries, global_threshold=global_threshold, labels_per_posting=per_posting,
        few_positives_threshold=shared.threshold if few else None,
    )


def _choose(
    label: str, row: Any, config: CalibrationConfig, global_threshold: float, choice: RuleChoice | None,
    shared: FewPositivesChoice,
) -> LabelThreshold:
    if row is None:
        raise JobtaggerError(f"calibration: label {label!r} has no validation scores")
    positives = int(row["positives"])
    best_f1 = float(row["best_f1"])
    chosen = row["chosen"]

    def entry(
        threshold: float, fallback: FallbackReason | None, f1: float | None, rule: str, **extra: Any
    ) -> LabelThreshold:
        return LabelThreshold(
            label, float(threshold), config.strategy, fallback, positives, best_f1, f1, rule=rule, **extra
        )

    if config.strategy == "fixed":
        return entry(config.fixed_threshold, None, float(chosen["f1"]) if chosen else 0.0, "fixed")
    if positives < config.min_positives:
        # global_f1 is the F1 at the shared threshold (the few labels' summary is redone at it)
        return entry(shared.threshold, "few_positives", float(row["global_f1"] or 0.0), shared.rule,
                     rule_validation_f=dict(shared.validation_f) or None)
    if chosen is None:  # precision target met by no threshold
        return entry(above_all(row), "precision_unreachable", 0.0, config.strategy)
    if config.strategy == "precision_at_least":
        return entry(chosen["threshold"], None, float(chosen["f1"]), config.strategy)
    if choice is None and config.effective_rule == "select":
        # too few rows to hold any out (one half empty): the first candidate, without figures
        choice = RuleChoice(SELECTABLE_RULES[0], {})
    rule = choice.rule if choice is not None else config.effective_rule
    cut = rule_cut(rule, row, config, global_threshold)
    return entry(
        cut.threshold, cut.fallback, cut.f1, rule,
        rule_validation_f=dict(choice.validation_f) if choice is not None else None,
    )
