"""The cached training blocks both estimators fit on: Arrow batches -> CSR features and multi-hot
targets, block sizes, label statistics, feature mean squares, one partition per core at most."""

import numpy as np
from pyspark.ml.linalg import DenseVector, SparseVector

from jobtagger.models import OneVsRestLogistic
from jobtagger.models.common import TrainingBlocks

ROWS = [
    ("p0", SparseVector(4, [0, 2], [1.0, 2.0]), ["a", "b"]),
    ("p1", SparseVector(4, [1], [3.0]), ["b", "b", "unknown"]),  # a repeated label counts once
    ("p2", DenseVector([0.0, 0.0, 0.0, 4.0]), None),  # no labels: a row of negatives
    ("p3", SparseVector(4, [], []), ["a"]),
    ("p4", SparseVector(4, [3], [1.0]), []),
]


def test_blocks_hold_every_row_with_multi_hot_targets_and_statistics(spark):
    df = spark.createDataFrame(ROWS, ["posting_id", "features", "labels"]).repartition(5)
    blocks = TrainingBlocks(df, OneVsRestLogistic(labelSpace=["a", "b"], blockRows=2))
    try:
        assert blocks.rdd.getNumPartitions() <= spark.sparkContext.defaultParallelism
        cached = blocks.rdd.collect()
        assert all(X.shape[0] <= 2 for X, _ in cached)
        X = np.vstack([X.toarray() for X, _ in cached])
        Y = np.vstack([Y.toarray() for _, Y in cached])
        by_row = {tuple(x): tuple(y) for x, y in zip(X, Y)}
        assert by_row == {
            (1.0, 0.0, 2.0, 0.0): (1.0, 1.0),
            (0.0, 3.0, 0.0, 0.0): (0.0, 1.0),
            (0.0, 0.0, 0.0, 4.0): (0.0, 0.0),
            (0.0, 0.0, 0.0, 0.0): (1.0, 0.0),
            (0.0, 0.0, 0.0, 1.0): (0.0, 0.0),
        }
        assert (blocks.rows, blocks.dim) == (5, 4)
        assert blocks.positives.tolist() == [2.0, 2.0]
        np.testing.assert_allclose(blocks.feature_mean_squares, [1 / 5, 9 / 5, 4 / 5, 17 / 5])
    finally:
        blocks.unpersist()
