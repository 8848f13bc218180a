"""The cached training blocks both estimators fit on: Arrow batches -> CSR features and multi-hot
targets, block sizes, label statistics, feature mean squares, one partition per core at most."""

import os
import shutil
import tempfile

import numpy as np
import pytest
from pyspark.ml.linalg import DenseVector, SparseVector

from jobtagger.models import OneVsRestLogistic
from jobtagger.models import common
from jobtagger.models.common import TrainingBlocks, _exchange_folder

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


@pytest.mark.parametrize("exchange", ["spark", "shared-files", "driver"])
def test_sum_partitions_gives_the_same_sums_through_spark_shared_files_and_the_driver(spark, exchange):
    df = spark.createDataFrame(ROWS, ["posting_id", "features", "labels"]).repartition(3)
    blocks = TrainingBlocks(df, OneVsRestLogistic(labelSpace=["a", "b"], blockRows=2), exchange=exchange)

    def column_sums_and_weighted_rows(partition, weights):  # defined here: tasks cannot import test modules
        """(rows per label, X^T Y weighted by ``weights``): a pass with a small and a d x K result."""
        partition = list(partition)
        small = sum((np.asarray(Y.sum(axis=0)).ravel() for _, Y in partition), np.zeros(2))
        large = sum((X.T @ (Y.toarray() * weights) for X, Y in partition), np.zeros((4, 2), np.float32))
        return small, large

    folder = None
    try:
        for weights in (np.array([1.0, 2.0], np.float32), np.array([0.5, -1.0], np.float32)):  # two passes
            small, large = blocks.sum_partitions(column_sums_and_weighted_rows, weights)
            np.testing.assert_allclose(small, [2.0, 2.0])
            # column j of X^T Y: the features of the rows carrying label j, times the label's weight
            np.testing.assert_allclose(large, np.array([[1, 1], [0, 3], [2, 2], [0, 0]]) * weights)
        folder = blocks.exchange_folder
        assert (folder is None) == (exchange != "shared-files")
    finally:
        blocks.unpersist()
    if folder is not None:
        assert not os.path.exists(folder)  # the exchange files go with the blocks


def test_auto_holds_small_blocks_in_the_driver_and_shares_files_past_the_limit(spark, monkeypatch):
    df = spark.createDataFrame(ROWS, ["posting_id", "features", "labels"]).repartition(2)
    estimator = OneVsRestLogistic(labelSpace=["a", "b"], blockRows=2)
    small = TrainingBlocks(df, estimator)
    try:
        assert small.exchange == "driver"
        # 8 stored feature values (a dense row stores its zeros too), 4 positives, index pointers
        assert small.nnz == 8 and 0 < small.nbytes < 1024
    finally:
        small.unpersist()
    assert small.nnz * 2 <= common.DRIVER_PASS_MAX_PRODUCTS
    for limit, value in (("DRIVER_BLOCKS_MAX_BYTES", small.nbytes - 1), ("DRIVER_PASS_MAX_PRODUCTS", small.nnz * 2 - 1)):
        with monkeypatch.context() as patch:
            patch.setattr(common, limit, value)
            large = TrainingBlocks(df, estimator)
            try:
                assert large.exchange == "shared-files", limit  # the test session is local
            finally:
                large.unpersist()


def test_the_estimator_param_chooses_the_exchange_and_refuses_an_unknown_one(spark):
    df = spark.createDataFrame(ROWS, ["posting_id", "features", "labels"])
    blocks = TrainingBlocks(df, OneVsRestLogistic(labelSpace=["a", "b"], passExchange="spark"))
    try:
        assert blocks.exchange == "spark"
    finally:
        blocks.unpersist()
    with pytest.raises(ValueError, match="passExchange must be one of auto, spark, shared-files, driver"):
        TrainingBlocks(df, OneVsRestLogistic(labelSpace=["a", "b"], passExchange="gpu"))


def test_a_pass_in_the_driver_gets_the_shared_array_read_only(spark):
    """As a task's broadcast copy or memory map: a pass cannot change the caller's weights."""
    df = spark.createDataFrame(ROWS, ["posting_id", "features", "labels"])
    blocks = TrainingBlocks(df, OneVsRestLogistic(labelSpace=["a", "b"], blockRows=2), exchange="driver")
    weights = np.ones(2, np.float32)

    def writes_into_shared(partition, shared):
        shared[0] = 5.0
        return np.zeros(1), np.zeros(1)

    try:
        with pytest.raises(ValueError, match="read-only"):
            blocks.sum_partitions(writes_into_shared, weights)
        assert weights.tolist() == [1.0, 1.0]
    finally:
        blocks.unpersist()
    # unpersisted, the driver's blocks are gone: a pass fails instead of recomputing them elsewhere
    with pytest.raises(RuntimeError, match="unpersisted"):
        blocks.sum_partitions(writes_into_shared, weights)


def test_a_block_of_dense_vectors_only_has_the_vectors_width(spark):
    """VectorUDT stores no size for a dense vector: the width comes from its values."""
    df = spark.createDataFrame(ROWS, ["posting_id", "features", "labels"]).coalesce(1)
    blocks = TrainingBlocks(df, OneVsRestLogistic(labelSpace=["a", "b"], blockRows=1))
    try:
        assert blocks.dim == 4
        assert {X.shape for X, _ in blocks.rdd.collect()} == {(1, 4)}
    finally:
        blocks.unpersist()


def test_the_exchange_leaves_dev_shm_when_it_lacks_room():
    """A container's /dev/shm (64 MB by default) must not fail a pass: the temp dir serves instead."""
    roomy, cramped = _exchange_folder(1), _exchange_folder(2**62)
    try:
        assert os.path.dirname(cramped) == tempfile.gettempdir()
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
            assert os.path.dirname(roomy) == "/dev/shm"
    finally:
        shutil.rmtree(roomy)
        shutil.rmtree(cramped)
