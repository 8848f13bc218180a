"""The IDF stage applied from a broadcast: the same vectors as Spark's IDFModel, saved and loaded
with the PipelineModel, and the stage the feature pipeline fits."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import IDF, IDFModel
from pyspark.ml.linalg import DenseVector, SparseVector, Vectors, VectorUDT
from pyspark.sql.types import StringType, StructField, StructType

from jobtagger.text.idf import Idf, IdfWeighting, weight_vectors

SIZE = 6
# Term 0 is in every row (weight log(6/6) = 0), terms 3 and 5 in one row only (below
# minDocFreq=2: weight 0); explicit zeros (row d) stay in a sparse vector.
ROWS = [
    ("a", Vectors.sparse(SIZE, [0, 1, 2], [1.0, 2.0, 0.5])),
    ("b", Vectors.sparse(SIZE, [0, 1, 3], [3.0, 1.0, 1.0])),
    ("c", Vectors.dense([1.0, 0.0, 2.0, 0.0, 4.0, 0.0])),
    ("d", Vectors.sparse(SIZE, [0, 2, 4], [2.0, 0.0, 1.5])),
    ("e", Vectors.dense([0.5, 1.0, 0.0, 0.0, 2.0, 7.0])),
]
SCHEMA = StructType([StructField("id", StringType()), StructField("tf", VectorUDT())])
# How an Arrow UDF receives a VectorUDT column: its storage struct.
ARROW_VECTOR = pa.struct([("type", pa.int8()), ("size", pa.int32()), ("indices", pa.list_(pa.int32())),
                          ("values", pa.list_(pa.float64()))])


@pytest.fixture(scope="module")
def frame(spark):
    return spark.createDataFrame(ROWS, SCHEMA).repartition(2)


def fitted(frame, min_doc_freq: int = 2) -> tuple[IdfWeighting, object]:
    ours = Idf(inputCol="tf", outputCol="tfidf", minDocFreq=min_doc_freq).fit(frame)
    theirs = IDF(inputCol="tf", outputCol="tfidf", minDocFreq=min_doc_freq).fit(frame)
    return ours, theirs


def vectors(model, frame) -> list:
    return [(row.id, row.tfidf) for row in model.transform(frame).orderBy("id").collect()]


@pytest.mark.parametrize("min_doc_freq", [0, 2])
def test_vectors_are_those_of_sparks_idf_model(spark, frame, min_doc_freq):
    ours, theirs = fitted(frame, min_doc_freq)
    assert type(ours) is IdfWeighting
    np.testing.assert_array_equal(ours.weights, theirs.idf.toArray())
    if min_doc_freq == 2:
        assert (ours.weights == 0).sum() == 3 and (ours.weights > 0).any()
    expected, actual = vectors(theirs, frame), vectors(ours, frame)
    assert [type(v) for _, v in actual] == [type(v) for _, v in expected]
    assert [(i, v.toArray().tolist()) for i, v in actual] == [(i, v.toArray().tolist()) for i, v in expected]
    sparse = [(v.indices.tolist(), v.values.tolist()) for _, v in actual if isinstance(v, SparseVector)]
    assert sparse == [(v.indices.tolist(), v.values.tolist()) for _, v in expected if isinstance(v, SparseVector)]
    assert ours.transform(frame).schema["tfidf"].metadata == theirs.transform(frame).schema["tfidf"].metadata


def test_vectors_match_in_small_arrow_batches(spark, frame):
    ours, theirs = fitted(frame)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "2")
    try:
        actual = vectors(ours, frame.coalesce(1))
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert actual == vectors(theirs, frame)


def test_a_sliced_batch_with_null_vectors_keeps_nulls_and_layout():
    rows = [None, SparseVector(4, [1, 3], [2.0, 4.0]), None, DenseVector([1.0, 2.0, 3.0, 4.0]), SparseVector(4, [], [])]
    assert [field.name for field in VectorUDT().sqlType().fields] == ARROW_VECTOR.names
    batch = pa.array([None if v is None else dict(zip(ARROW_VECTOR.names, VectorUDT().serialize(v))) for v in rows],
                     ARROW_VECTOR)
    weights = np.array([0.5, 2.0, 0.0, 3.0])
    out = weight_vectors(batch.slice(1), weights).to_pylist()
    assert out == [
        {"type": 0, "size": 4, "indices": [1, 3], "values": [4.0, 12.0]},
        None,
        {"type": 1, "size": None, "indices": None, "values": [0.5, 4.0, 0.0, 12.0]},
        {"type": 0, "size": 4, "indices": [], "values": []},
    ]


def test_an_index_beyond_the_weights_is_refused():
    batch = pa.array([{"type": 0, "size": 9, "indices": [8], "values": [1.0]}], ARROW_VECTOR)
    with pytest.raises(ValueError, match="outside the 4 IDF weights"):
        weight_vectors(batch, np.ones(4))


def test_saves_and_loads_with_the_pipeline_model(spark, frame, tmp_path):
    model = Pipeline(stages=[Idf(inputCol="tf", outputCol="tfidf", minDocFreq=2)]).fit(frame)
    model.write().save(str(tmp_path / "model"))
    assert (tmp_path / "model" / "stages" / f"0_{model.stages[0].uid}" / "data" / "idf.npy").is_file()
    loaded = PipelineModel.load(str(tmp_path / "model"))
    stage = loaded.stages[0]
    assert type(stage) is IdfWeighting and stage.uid == model.stages[0].uid
    assert (stage.getInputCol(), stage.getOutputCol()) == ("tf", "tfidf")
    np.testing.assert_array_equal(stage.weights, model.stages[0].weights)
    assert vectors(loaded, frame) == vectors(model, frame)


def test_the_feature_pipeline_fits_the_broadcast_idf_stage(fitted_features):
    postings, model = fitted_features
    idf = [stage for stage in model.stages if type(stage) is IdfWeighting]
    assert len(idf) == 1 and not any(isinstance(stage, IDFModel) for stage in model.stages)
    assert len(idf[0].weights) == model.transform(postings).first().features.size
