"""Rule selection by cross-fitting: stratified halves, the rule a constructed case demands, ties."""

from __future__ import annotations

import random

import pytest
from pyspark.sql import functions as F

from jobtagger.calibration import best_rule, explode_scores, fit_thresholds, select_rules
from jobtagger.calibration.rule_selection import chosen_rule, select_few_positives_threshold, with_halves
from jobtagger.config import CalibrationConfig

LABELS = ["weak", "clean"]


def corpus(spark, n=200, seed=11):
    """weak: a third of postings, scores a weak signal under 0.3 (best F1 ~0.55: predict most);
    clean: separable at 0.5, positives at the top, so the pooled global threshold is near 0.5
    and passes none of the weak label's positives."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        truth = []
        weak = i % 3 == 0
        clean = i % 4 == 0
        if weak:
            truth.append("weak")
        if clean:
            truth.append("clean")
        weak_score = rng.uniform(0.1, 0.3) if weak else rng.uniform(0.0, 0.3)
        if i == 1:
            weak_score = 0.99  # the top-ranked weak score is a negative: a rank fallback misfires
        clean_score = rng.uniform(0.6, 1.0) if clean else rng.uniform(0.0, 0.4)
        rows.append((str(i), truth, [weak_score, clean_score]))
    return spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>")


def test_halves_split_each_labels_positives_evenly(spark):
    halves = with_halves(explode_scores(corpus(spark), LABELS), seed=3)
    counts = {
        (r["label"], r["is_positive"], r["half"]): r["count"]
        for r in halves.groupBy("label", "is_positive", "half").count().collect()
    }
    for label in LABELS:
        for positive in (True, False):
            assert abs(counts[(label, positive, 0)] - counts[(label, positive, 1)]) <= 1


def test_select_prefers_the_f1_best_threshold_where_a_rank_fallback_would_misfire(spark):
    # Floor 0.7 over the weak label's ~0.55: scut_rank falls back to its top item (a negative).
    config = CalibrationConfig(min_positives=3, min_f1=0.7)
    choices = select_rules(explode_scores(corpus(spark), LABELS), config)
    weak = choices["weak"]
    assert weak.rule == "scut"
    assert weak.validation_f["scut"] > weak.validation_f["scut_rank"] + 0.2
    assert weak.validation_f["scut"] > weak.validation_f["global"] + 0.2
    # the clean label is above the floor: scut_rank and scut agree, the tie goes to scut_rank
    assert choices["clean"].rule == "scut_rank"
    assert choices["clean"].validation_f["scut_rank"] == choices["clean"].validation_f["scut"] > 0.9


def test_selected_rules_and_their_figures_are_recorded(spark):
    df = corpus(spark)
    thresholds = fit_thresholds(df, LABELS, CalibrationConfig(min_positives=3, min_f1=0.7))
    weak = thresholds.by_label()["weak"]
    assert weak.rule == "scut" and weak.fallback is None
    assert set(weak.rule_validation_f) == {"scut_rank", "scut", "global"}
    assert thresholds.rule_counts() == {"scut": 1, "scut_rank": 1}
    rows = thresholds.to_frame(spark, model_version="v1").where(F.col("label") == "weak").collect()
    assert rows[0]["rule"] == "scut" and rows[0]["rule_validation_f"]["scut"] == weak.rule_validation_f["scut"]


def test_best_rule_breaks_ties_by_preference_order():
    assert best_rule({"global": 0.5, "scut": 0.5, "scut_rank": 0.4}) == "scut"
    assert best_rule({"global": 0.6, "scut": 0.5, "scut_rank": 0.5}) == "global"
    assert best_rule({"global": 0.5, "scut": 0.5, "scut_rank": 0.5}) == "scut_rank"


def test_a_label_with_few_validation_positives_keeps_the_first_rule_with_its_figures(spark):
    # Only the first 30 postings: the weak label has 10 positives, the clean one 8.
    exploded = explode_scores(corpus(spark).where(F.col("posting_id").cast("int") < 30), LABELS)
    config = CalibrationConfig(min_positives=3, min_f1=0.7, select_min_positives=9)
    choices = select_rules(exploded, config)
    assert choices["weak"].rule == "scut"  # 10 positives: chosen by its figures, as on the full corpus
    clean = choices["clean"]
    assert clean.rule == "scut_rank" and set(clean.validation_f) == {"scut_rank", "scut", "global"}
    stricter = select_rules(exploded, config.model_copy(update={"select_min_positives": 11}))
    assert stricter["weak"].rule == "scut_rank"
    assert stricter["weak"].validation_f == choices["weak"].validation_f


def test_another_rule_is_chosen_only_when_it_beats_the_first_by_one_standard_error():
    figures = {"scut_rank": 0.5, "scut": 0.58, "global": 0.3}  # standard error of 0.5: 0.158 at 10, 0.05 at 100
    assert chosen_rule(figures, 10, min_positives=10) == "scut_rank"
    assert chosen_rule(figures, 100, min_positives=10) == "scut"
    assert chosen_rule(figures, 9, min_positives=10) == "scut_rank"
    # a first rule at 0 (its threshold passes only negatives) has no spread: any gain moves the label
    assert chosen_rule({"scut_rank": 0.0, "scut": 0.1, "global": 0.05}, 12, min_positives=10) == "scut"


def few_positives_corpus(spark, *, few_score_shift: float, n=400, seed=5):
    """Two well-supported labels separable at 0.5 (positives 0.6-1.0, negatives under 0.4) and ten
    labels with two positives each, whose positives score ``0.25 + few_score_shift`` and whose
    negatives score under 0.1 + ``few_score_shift``."""
    rng = random.Random(seed)
    common = ["common_a", "common_b"]
    few = [f"few_{k}" for k in range(10)]
    rows = []
    for i in range(n):
        truth = [label for j, label in enumerate(common) if i % (3 + j) == 0]
        scores = [rng.uniform(0.6, 1.0) if label in truth else rng.uniform(0.0, 0.4) for label in common]
        for k, label in enumerate(few):
            positive = i in (7 * k + 1, 7 * k + 200)
            truth += [label] if positive else []
            base = rng.uniform(0.25, 0.3) if positive else rng.uniform(0.0, 0.1)
            scores.append(min(1.0, base + few_score_shift))
        rows.append((str(i), truth, scores))
    frame = spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>")
    return frame, [*common, *few], few


def test_few_positive_labels_share_a_threshold_pooled_over_them_when_it_generalizes(spark):
    frame, labels, few = few_positives_corpus(spark, few_score_shift=0.0)
    exploded = explode_scores(frame, labels)
    choice = select_few_positives_threshold(exploded, few, global_threshold=0.5)
    assert choice.rule == "pooled_few"
    assert 0.1 <= choice.threshold <= 0.3  # above the few labels' negatives, at their positives
    assert choice.validation_f["pooled_few"] > 0.9 > choice.validation_f["global"]


def test_few_positive_labels_keep_the_global_threshold_when_pooling_gains_nothing(spark):
    # the few labels score like the common ones: positives 0.75-0.8, negatives under 0.6 (and the
    # global threshold of 0.5 separates them as well as any pooled one)
    frame, labels, few = few_positives_corpus(spark, few_score_shift=0.5)
    exploded = explode_scores(frame, labels)
    choice = select_few_positives_threshold(exploded, few, global_threshold=0.5)
    assert choice.rule == "global"
    assert choice.threshold == 0.5
    assert choice.validation_f["global"] >= choice.validation_f["pooled_few"] - 1e-9


def test_fit_thresholds_records_the_shared_threshold_of_few_positive_labels(spark):
    frame, labels, few = few_positives_corpus(spark, few_score_shift=0.0)
    thresholds = fit_thresholds(frame, labels, CalibrationConfig(min_positives=3))
    entries = thresholds.by_label()
    assert {entries[label].rule for label in few} == {"pooled_few"}
    assert {entries[label].fallback for label in few} == {"few_positives"}
    assert len({entries[label].threshold for label in few}) == 1
    assert thresholds.few_positives_threshold == entries[few[0]].threshold < thresholds.global_threshold
    assert set(entries[few[0]].rule_validation_f) == {"global", "pooled_few"}


@pytest.mark.slow  # both selections fitted
def test_both_selections_measure_on_one_shared_split_left_to_its_owner(spark):
    frame, labels, few = few_positives_corpus(spark, few_score_shift=0.0)
    exploded = explode_scores(frame, labels).persist()
    config = CalibrationConfig(min_positives=3)
    halves = with_halves(exploded, seed=17).persist()
    shared_rules = select_rules(exploded, config, halves=halves)
    shared_few = select_few_positives_threshold(exploded, few, global_threshold=0.5, halves=halves)
    assert halves.is_cached  # the caller's cache is the caller's to release
    assert shared_rules == select_rules(exploded, config, seed=17)
    assert shared_few == select_few_positives_threshold(exploded, few, global_threshold=0.5, seed=17)
    halves.unpersist()
    exploded.unpersist()
