"""The Arrow-batch code paths (model scoring, sublinear tf) against a per-row numpy/math reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml.linalg import DenseVector, SparseVector, VectorUDT
from pyspark.sql.types import StringType, StructField, StructType

from jobtagger.models.common import MultiLabelModel
from jobtagger.text.features import SublinearTf

WIDTH = 6
VECTORS = [
    ("sparse", SparseVector(WIDTH, [0, 3], [2.0, 1.0])),
    ("empty", SparseVector(WIDTH, [], [])),
    ("null", None),
    ("dense", DenseVector([1.0, 0.0, 0.0, 2.0, 0.0, 1.5])),
    ("wider_than_trained", SparseVector(WIDTH + 2, [1, 5, 7], [3.0, 0.5, 4.0])),
]


@pytest.fixture(scope="module")
def vectors_df(spark):
    # Several partitions and rows per batch: rows of one Arrow batch must not mix up.
    rows = [(f"{name}-{copy}", vector) for copy in range(7) for name, vector in VECTORS]
    schema = StructType([StructField("posting_id", StringType()), StructField("features", VectorUDT())])
    return spark.createDataFrame(rows, schema).repartition(3)


def reference_scores(arrays, vector):
    """sigmoid(logits + logit_offset) of one vector, features beyond the trained width ignored."""
    first = arrays.get("hidden_weights", arrays["weights"])
    x = np.zeros(first.shape[0])
    values = vector.toArray()[: first.shape[0]]
    x[: len(values)] = values
    if "hidden_weights" in arrays:
        hidden = np.maximum(x @ arrays["hidden_weights"] + arrays["hidden_bias"], 0.0)
        logits = hidden @ arrays["weights"] + arrays["bias"]
    else:
        logits = x @ arrays["weights"] + arrays["bias"]
    return 1.0 / (1.0 + np.exp(-(logits + arrays["logit_offset"])))


def random_arrays(hidden_units):
    rng = np.random.default_rng(3)
    arrays = {"bias": rng.normal(size=3).astype(np.float32), "logit_offset": rng.normal(size=3).astype(np.float32)}
    if hidden_units:
        arrays["hidden_weights"] = rng.normal(size=(WIDTH, hidden_units)).astype(np.float32)
        arrays["hidden_bias"] = rng.normal(size=hidden_units).astype(np.float32)
        arrays["weights"] = rng.normal(size=(hidden_units, 3)).astype(np.float32)
    else:
        arrays["weights"] = rng.normal(size=(WIDTH, 3)).astype(np.float32)
    return arrays


@pytest.mark.parametrize("hidden_units", [0, 4], ids=["linear", "hidden_layer"])
def test_batch_scores_match_a_per_row_reference(vectors_df, hidden_units):
    arrays = random_arrays(hidden_units)
    model = MultiLabelModel(labels=["a", "b", "c"], arrays=arrays)

    rows = model.transform(vectors_df).collect()

    assert len(rows) == 7 * len(VECTORS)
    for row in rows:
        if row["features"] is None:
            assert row["scores"] is None
        else:
            assert row["scores"] == pytest.approx(list(reference_scores(arrays, row["features"])), abs=1e-5)


def test_sublinear_tf_matches_one_plus_log_per_stored_value(vectors_df):
    rows = SublinearTf(inputCol="features", outputCol="sublinear").transform(vectors_df).collect()

    for row in rows:
        vector, out = row["features"], row["sublinear"]
        if vector is None:
            assert out is None
            continue
        assert type(out) is type(vector) and out.size == vector.size
        if isinstance(vector, SparseVector):
            assert list(out.indices) == list(vector.indices)
        expected = [1.0 + math.log(v) if v > 0 else 0.0 for v in vector.values]
        assert list(out.values) == pytest.approx(expected)
