"""Threshold search: exactness against brute force, each strategy, recorded fallbacks."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobtagger.calibration import fit_thresholds
from jobtagger.config import CalibrationConfig

LABELS = ["a", "b", "c"]


def frame(spark, rows):
    """rows: (posting_id, true labels, scores aligned with LABELS)."""
    return spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>")


def counts(rows, label_index, threshold):
    label = LABELS[label_index]
    tp = sum(1 for _, truth, s in rows if s[label_index] >= threshold and label in truth)
    fp = sum(1 for _, truth, s in rows if s[label_index] >= threshold and label not in truth)
    positives = sum(1 for _, truth, _ in rows if label in truth)
    return tp, fp, positives


def f_beta(tp, fp, positives, beta=1.0):
    b2 = beta * beta
    denominator = tp + fp + b2 * positives
    return (1 + b2) * tp / denominator if denominator else 0.0


def brute_best(rows, label_index, beta=1.0):
    candidates = {s[label_index] for _, _, s in rows}
    return max(f_beta(*counts(rows, label_index, t), beta) for t in candidates)


score = st.sampled_from([0.05, 0.1, 0.2, 0.3, 0.35, 0.5, 0.6, 0.75, 0.9, 0.95])  # ties on purpose
row = st.tuples(st.sets(st.sampled_from(LABELS), max_size=2), st.lists(score, min_size=3, max_size=3))


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(row, min_size=2, max_size=25))
def test_f_beta_thresholds_match_brute_force(spark, data):
    rows = [(f"p{i}", sorted(truth), scores) for i, (truth, scores) in enumerate(data)]
    for beta, strategy in ((1.0, "f1"), (2.0, "f_beta")):
        config = CalibrationConfig(strategy=strategy, beta=beta, min_positives=1, min_f1=0.0, rule="scut")
        thresholds = fit_thresholds(frame(spark, rows), LABELS, config)
        for index, entry in enumerate(thresholds.entries):
            positives = counts(rows, index, 0.0)[2]
            if positives == 0:
                assert entry.fallback == "few_positives"
                continue
            assert entry.fallback is None
            achieved = f_beta(*counts(rows, index, entry.threshold), beta)
            assert achieved == pytest.approx(brute_best(rows, index, beta), abs=1e-12)
            assert entry.best_f1 == pytest.approx(brute_best(rows, index, 1.0), abs=1e-12)
            assert entry.validation_positives == positives


def test_threshold_lies_between_distinct_scores(spark):
    rows = [("1", ["a"], [0.9, 0.1, 0.1]), ("2", ["a"], [0.7, 0.1, 0.1]), ("3", [], [0.4, 0.1, 0.1]),
            ("4", ["b"], [0.2, 0.8, 0.1])]
    config = CalibrationConfig(min_positives=1, min_f1=0.0, rule="scut")
    entry = fit_thresholds(frame(spark, rows), LABELS, config).by_label()["a"]
    assert entry.threshold == pytest.approx((0.7 + 0.4) / 2)
    assert entry.validation_f1 == pytest.approx(1.0)


@pytest.mark.slow  # an optional strategy
def test_precision_at_least_takes_highest_recall_meeting_target(spark):
    # scores of label a, descending: 0.9 P, 0.8 N, 0.7 P, 0.6 P, 0.5 N, 0.4 P
    truth_scores = [(True, 0.9), (False, 0.8), (True, 0.7), (True, 0.6), (False, 0.5), (True, 0.4)]
    rows = [(str(i), ["a"] if hit else [], [s, 0.0, 0.0]) for i, (hit, s) in enumerate(truth_scores)]
    # precision at each cut: 1, .5, .67, .75, .6, .67 -> >= 0.75 with the most recall: cut at 0.6
    config = CalibrationConfig(strategy="precision_at_least", min_precision=0.75, min_positives=1)
    entry = fit_thresholds(frame(spark, rows), LABELS, config).by_label()["a"]
    assert entry.threshold == pytest.approx(0.55)
    assert entry.fallback is None
    unreachable = CalibrationConfig(strategy="precision_at_least", min_precision=1.0, min_positives=1)
    rows_bad = [("1", [], [0.9, 0.0, 0.0]), ("2", ["a"], [0.5, 0.0, 0.0])]
    entry = fit_thresholds(frame(spark, rows_bad), LABELS, unreachable).by_label()["a"]
    assert entry.fallback == "precision_unreachable"
    assert entry.threshold > 0.9


def test_fixed_strategy_uses_the_fixed_threshold_and_reports_its_f1(spark):
    rows = [("1", ["a"], [0.9, 0.0, 0.0]), ("2", [], [0.6, 0.0, 0.0]), ("3", ["a"], [0.3, 0.0, 0.0])]
    config = CalibrationConfig(strategy="fixed", fixed_threshold=0.5)
    entry = fit_thresholds(frame(spark, rows), LABELS, config).by_label()["a"]
    assert entry.threshold == 0.5
    assert entry.validation_f1 == pytest.approx(f_beta(1, 1, 2))


def test_fallbacks_are_recorded(spark):
    rng = random.Random(3)
    rows = []
    for i in range(60):
        truth = ["a"] if i % 2 == 0 else []
        if i == 5:
            truth.append("b")  # one positive only: few_positives
        if i % 5 == 0:
            truth.append("c")  # c is unrelated to its score: best F1 poor
        a = rng.uniform(0.6, 1.0) if "a" in truth else rng.uniform(0.0, 0.4)
        rows.append((str(i), truth, [a, rng.random() * 0.3, rng.random()]))
    config = CalibrationConfig(min_positives=3, min_f1=0.6, rule="switch_off")
    thresholds = fit_thresholds(frame(spark, rows), LABELS, config)
    by_label = thresholds.by_label()
    assert by_label["a"].fallback is None and by_label["a"].validation_f1 == pytest.approx(1.0)
    assert by_label["b"].fallback == "few_positives"
    assert by_label["b"].threshold == thresholds.global_threshold
    assert by_label["b"].validation_positives == 1
    assert by_label["c"].fallback == "below_min_f1"
    assert by_label["c"].threshold > max(r[2][2] for r in rows)  # above every validation score
    assert thresholds.fallback_counts() == {"few_positives": 1, "below_min_f1": 1}


def test_global_threshold_maximizes_pooled_micro_f1(spark):
    rows = [("1", ["a", "b"], [0.9, 0.8, 0.1]), ("2", ["c"], [0.3, 0.2, 0.6]), ("3", ["a"], [0.55, 0.5, 0.52])]
    thresholds = fit_thresholds(frame(spark, rows), LABELS, CalibrationConfig())
    pooled = [(s, LABELS[i] in truth) for _, truth, scores in rows for i, s in enumerate(scores)]
    positives = sum(hit for _, hit in pooled)

    def micro(t):
        tp = sum(1 for s, hit in pooled if s >= t and hit)
        fp = sum(1 for s, hit in pooled if s >= t and not hit)
        return 2 * tp / (2 * tp + fp + (positives - tp))

    best = max(micro(s) for s, _ in pooled)
    assert micro(thresholds.global_threshold) == pytest.approx(best)


def test_thresholds_frame_has_one_row_per_label(spark):
    rows = [("1", ["a"], [0.9, 0.2, 0.1]), ("2", ["b"], [0.1, 0.7, 0.2])]
    df = fit_thresholds(frame(spark, rows), LABELS, CalibrationConfig()).to_frame(spark, model_version="v1")
    assert sorted(r["label"] for r in df.collect()) == LABELS
    assert {r["model_version"] for r in df.collect()} == {"v1"}
