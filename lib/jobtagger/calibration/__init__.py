"""Per-label decision thresholds fitted on validation scores, and the Transformer that applies them.

A multi-label model outputs one probability per label; one global 0.5 cut is poor for rare labels.
:func:`fit_decision` (optionally) calibrates each label's scores (:mod:`.score_calibration`), then
searches each label's threshold over its validation scores (:mod:`.thresholds`, on the counts of
:mod:`.counts`; per-label rules in :mod:`.candidates`, chosen per label in :mod:`.rule_selection`;
pooled thresholds in :mod:`.pooled`), and builds :class:`MultiLabelDecision` (:mod:`.decision`),
which applies them with the taxonomy rules of :mod:`.rules`.
"""

from jobtagger.calibration.candidates import Cut, FallbackReason, RuleName, label_summaries, rule_cut
from jobtagger.calibration.counts import cumulative_counts, explode_scores, f_beta
from jobtagger.calibration.decision import MultiLabelDecision, MultiLabelDecisionParams
from jobtagger.calibration.fit import fit_decision
from jobtagger.calibration.pooled import (
    GLOBAL_GRID_STEPS,
    LABELS_PER_POSTING,
    PooledCells,
    global_micro_f1_threshold,
    labels_per_posting_thresholds,
    pooled_cells,
)
from jobtagger.calibration.rules import DecisionRules, ancestors, parents_for_rule
from jobtagger.calibration.score_calibration import (
    CALIBRATION_BIN_WIDTH,
    EPSILON,
    MAX_ABS_LOGIT,
    CalibrationMethod,
    ScoreCalibration,
    calibrated_scores,
    fit_score_calibration,
)
from jobtagger.calibration.rule_selection import SELECTABLE_RULES, RuleChoice, best_rule, select_rules
from jobtagger.calibration.thresholds import LabelThreshold, Thresholds, fit_thresholds

# Saved models record the decision stage's class as "jobtagger.calibration.MultiLabelDecision"
# (from before this package was split); keep writing that path so models saved now load with the
# same path, and older models keep loading through the re-export above.
MultiLabelDecision.__module__ = __name__

__all__ = [
    "CALIBRATION_BIN_WIDTH", "EPSILON", "GLOBAL_GRID_STEPS", "LABELS_PER_POSTING", "MAX_ABS_LOGIT",
    "SELECTABLE_RULES", "CalibrationMethod", "Cut", "DecisionRules", "FallbackReason", "LabelThreshold",
    "MultiLabelDecision", "MultiLabelDecisionParams", "PooledCells", "RuleChoice", "RuleName", "ScoreCalibration",
    "Thresholds", "ancestors", "best_rule", "calibrated_scores", "cumulative_counts", "explode_scores", "f_beta",
    "fit_decision", "fit_score_calibration", "fit_thresholds", "global_micro_f1_threshold", "label_summaries",
    "labels_per_posting_thresholds", "parents_for_rule", "pooled_cells", "rule_cut", "select_rules",
]
