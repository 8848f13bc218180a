"""Per-label rules: the rank fallback fires on the top-ranked items, switch_off on none."""

from __future__ import annotations

import pytest

from jobtagger.calibration import fit_thresholds
from jobtagger.config import CalibrationConfig

LABELS = ["a", "b"]
# label a, descending: N .9, N .8, N .7, P .5, N .4, P .3, N .2, P .1 -> best F1 6/11 (all predicted)
A_ROWS = [(0.9, False), (0.8, False), (0.7, False), (0.5, True), (0.4, False), (0.3, True), (0.2, False), (0.1, True)]


def frame(spark):
    rows = [(str(i), ["a"] if hit else ["b"], [score, 0.9 if not hit else 0.1]) for i, (score, hit) in enumerate(A_ROWS)]
    return spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>")


def passing(threshold):
    return [score for score, _ in A_ROWS if score >= threshold]


def test_rank_fallback_fires_on_the_top_ranked_item(spark):
    config = CalibrationConfig(min_positives=1, min_f1=0.6, rule="scut_rank")
    entry = fit_thresholds(frame(spark), LABELS, config).by_label()["a"]
    assert entry.best_f1 == pytest.approx(6 / 11)
    assert (entry.rule, entry.fallback) == ("scut_rank", "rank")
    assert passing(entry.threshold) == [0.9]  # only the top-ranked validation item
    assert entry.validation_f1 == 0.0  # ...which is a negative here


def test_switch_off_fires_on_no_validation_item_and_scut_keeps_the_f1_best(spark):
    off = fit_thresholds(frame(spark), LABELS, CalibrationConfig(min_positives=1, min_f1=0.6, rule="switch_off"))
    assert off.by_label()["a"].fallback == "below_min_f1"
    assert passing(off.by_label()["a"].threshold) == []
    scut = fit_thresholds(frame(spark), LABELS, CalibrationConfig(min_positives=1, min_f1=0.6, rule="scut"))
    entry = scut.by_label()["a"]
    assert entry.fallback is None and entry.validation_f1 == pytest.approx(6 / 11)
    assert len(passing(entry.threshold)) == len(A_ROWS)


def test_rule_other_than_switch_off_needs_an_f_beta_strategy():
    with pytest.raises(ValueError, match="needs strategy f1 or f_beta"):
        CalibrationConfig(strategy="fixed", rule="scut_rank")
    assert CalibrationConfig(strategy="fixed").effective_rule == "fixed"
