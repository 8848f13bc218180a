"""Out-of-fold scores: every training posting held out once, so rare labels get own thresholds."""

from __future__ import annotations

import pytest

from model_toys import DIM, LABELS, toy_rows
from pyspark.ml.linalg import SparseVector
from pyspark.sql import functions as F

from jobtagger.calibration import fit_thresholds
from jobtagger.config import CalibrationConfig, SplitConfig
from jobtagger.labels import assign_folds, assign_split, build_label_space
from jobtagger.models import OneVsRestLogistic
from jobtagger.models.out_of_fold import out_of_fold_scores

RARE_POSTINGS = 5


def rows_with_a_rare_label():
    """Labels a and b are common; c (feature 2) occurs in exactly RARE_POSTINGS postings."""
    rows = toy_rows(240, rates=(0.3, 0.2, 0.0))
    rare = [(f"r{i}", SparseVector(DIM, [2, 10 + i], [1.0, 1.0]), ["c"]) for i in range(RARE_POSTINGS)]
    return [(*row, "train") for row in rows + rare]


@pytest.mark.slow
def test_out_of_fold_scores_cover_every_posting_once_and_give_the_rare_label_its_own_threshold(spark):
    df = spark.createDataFrame(rows_with_a_rare_label(), ["posting_id", "features", "labels", "split"])
    report = build_label_space(df, min_support=1, max_labels=10)
    estimator = OneVsRestLogistic(labelSpace=LABELS, maxIter=30, regParam=1e-3)
    calibration = CalibrationConfig(min_positives=3)

    # One validation carve holds a single posting of the rare label: too few for its own threshold.
    split = assign_split(df, report, SplitConfig())
    model = estimator.fit(split.where(F.col("split") == "train"))
    carved = fit_thresholds(model.transform(split.where(F.col("split") == "validation")), LABELS, calibration)
    assert carved.by_label()["c"].validation_positives < 3
    assert carved.by_label()["c"].fallback == "few_positives"

    folded = assign_folds(df, report, 5, seed=7)
    held_out = out_of_fold_scores(estimator, folded, folds=5, keep=("posting_id",))
    try:
        ids = [row["posting_id"] for row in held_out.select("posting_id").collect()]
        assert sorted(ids) == sorted(row[0] for row in rows_with_a_rare_label())
        thresholds = fit_thresholds(held_out, LABELS, calibration)
    finally:
        held_out.unpersist()
    rare = thresholds.by_label()["c"]
    assert rare.validation_positives == RARE_POSTINGS
    assert rare.fallback is None and rare.validation_f1 > 0.5
    assert thresholds.fallback_counts() == {}
