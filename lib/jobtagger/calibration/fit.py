"""Fit the decision stage on validation scores: calibrators, then thresholds, then the rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.calibration.decision import MultiLabelDecision
from jobtagger.calibration.rules import DecisionRules, parents_for_rule
from jobtagger.calibration.score_calibration import calibrated_scores, fit_score_calibration
from jobtagger.calibration.thresholds import Thresholds, fit_thresholds
from jobtagger.config import CalibrationConfig


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
    thresholds = replace(
        thresholds,
        entries=tuple(replace(e, calibration=method) for e, method in zip(thresholds.entries, calibration.methods)),
    )
    rules = DecisionRules(
        at_least_one=config.at_least_one,
        max_labels=config.max_labels_per_posting,
        top_candidates=top_candidates,
        parents=parents_for_rule(parents or {}, config.parent_consistency),
    )
    return MultiLabelDecision.from_fit(thresholds, calibration, rules, scores_col=scores_col), thresholds
