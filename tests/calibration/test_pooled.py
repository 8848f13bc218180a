"""Pooled thresholds: the labels-per-posting thresholds give the asked average count."""

from __future__ import annotations

import random

import pytest
from pyspark.sql import functions as F

from jobtagger.calibration import explode_scores, labels_per_posting_thresholds, pooled_cells

LABELS = ["a", "b", "c", "d", "e"]


def test_labels_per_posting_thresholds_give_k_labels_on_average(spark):
    rng = random.Random(5)
    rows = [(str(i), ["a"], [rng.random() for _ in LABELS]) for i in range(40)]
    rows.append(("same-cell", ["b"], [0.50001, 0.50002, 0.50003, 0.50004, 0.50005]))  # one grid cell
    df = spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>")
    exploded = explode_scores(df, LABELS)
    thresholds = labels_per_posting_thresholds(exploded, pooled_cells(exploded), n_labels=len(LABELS))
    assert sorted(thresholds) == [1, 2, 3]
    for k, threshold in thresholds.items():
        passed = df.select(F.size(F.filter("scores", lambda s: s >= threshold)).alias("n")).agg(F.sum("n")).first()[0]
        assert passed / len(rows) == pytest.approx(k)
    assert thresholds[1] > thresholds[2] > thresholds[3]


def test_more_labels_per_posting_than_labels_gives_no_threshold(spark):
    df = spark.createDataFrame([("1", ["a"], [0.9, 0.1])], "posting_id string, labels array<string>, scores array<double>")
    exploded = explode_scores(df, ["a", "b"])
    assert labels_per_posting_thresholds(exploded, pooled_cells(exploded), n_labels=2) == {1: 0.9, 2: 0.1}
