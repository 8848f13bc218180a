"""Inverse document frequency weighting whose weights reach the executors as a broadcast.

:class:`Idf` fits with pyspark's own ``IDF`` (document frequencies counted distributed, weights
``log((numDocs + 1) / (df + 1))``, 0 for a term in fewer than ``minDocFreq`` documents) and keeps
only the weights, as :class:`IdfWeighting`. Spark's ``IDFModel`` is not kept as the stage because
its transform is a Scala UDF whose closure holds the whole model (weights and document
frequencies, as large as the vocabulary): every task of every job that transforms features would
ship it. :class:`IdfWeighting` instead multiplies whole Arrow batches by weights read from a
broadcast, so its tasks stay small.

The vectors are exactly ``IDFModel``'s: a sparse vector keeps its size and indices (explicit
zeros included) with ``value * idf[index]``, a dense vector is multiplied element-wise; the output
column carries the same ``ml_attr`` size metadata. A null vector stays null (``IDFModel`` fails
on it). Saved through ``PipelineModel.save`` as Spark's JSON metadata (Params) plus
``data/idf.npy`` (float64, written and read with ``allow_pickle=False``).
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.feature import IDF
from pyspark.ml.linalg import DenseVector, VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsReader, DefaultParamsWritable, DefaultParamsWriter
from pyspark.ml.util import MLReadable, MLReader, MLWritable, MLWriter
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.arrow_vectors import vectors_to_csr

WEIGHTS_FILE = "idf.npy"


class Idf(Estimator, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """Fits pyspark's ``IDF`` on the input vectors and returns its weights as :class:`IdfWeighting`."""

    minDocFreq = Param(
        Params._dummy(), "minDocFreq",
        "minimum number of documents a term must be in (fewer: weight 0)", TypeConverters.toInt,
    )

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None,
                 minDocFreq: int | None = None) -> None:
        super().__init__()
        self._setDefault(minDocFreq=0)
        self._set(**self._input_kwargs)

    def getMinDocFreq(self) -> int:
        return self.getOrDefault(self.minDocFreq)

    def _fit(self, dataset: DataFrame) -> IdfWeighting:
        fitted = IDF(inputCol=self.getInputCol(), outputCol=self.getOutputCol(),
                     minDocFreq=self.getMinDocFreq()).fit(dataset)
        return IdfWeighting(weights=fitted.idf.toArray(), inputCol=self.getInputCol(),
                            outputCol=self.getOutputCol())


class IdfWeighting(Model, HasInputCol, HasOutputCol, MLReadable, MLWritable):
    """Fitted IDF: multiplies each vector's values by the weight of their feature index."""

    @keyword_only
    def __init__(self, *, weights=None, inputCol: str | None = None, outputCol: str | None = None) -> None:
        super().__init__()
        self.weights = np.array(weights if weights is not None else [], dtype=np.float64)
        self._set(**{name: value for name, value in self._input_kwargs.items() if name != "weights"})

    @property
    def idf(self) -> DenseVector:
        """The weights as ``IDFModel.idf`` gives them."""
        return DenseVector(self.weights)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        broadcast = dataset.sparkSession.sparkContext.broadcast(self.weights)

        @F.arrow_udf(VectorUDT())
        def weighted(vectors: pa.Array) -> pa.Array:
            return weight_vectors(vectors, broadcast.value)

        metadata = {"ml_attr": {"num_attrs": len(self.weights)}}
        column = weighted(F.col(self.getInputCol())).alias(self.getOutputCol(), metadata=metadata)
        return dataset.withColumn(self.getOutputCol(), column)

    def write(self) -> MLWriter:
        return _IdfWeightingWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _IdfWeightingReader(cls)


def weight_vectors(vectors: pa.StructArray, weights: np.ndarray) -> pa.StructArray:
    """A batch of VectorUDT structs (sparse: type 0; dense: type 1, null indices) with every value
    multiplied by ``weights`` at its feature index; types, sizes, indices and nulls kept."""
    kind, size, indices, values = vectors.flatten()  # applies the struct's nulls and offset
    # Rows in order, each value at its feature index; indices beyond the weights are dropped.
    rows = vectors_to_csr(vectors, width=len(weights))
    if rows.nnz != len(pc.list_flatten(values)):
        raise ValueError(f"a vector index is outside the {len(weights)} IDF weights")
    new_values = pa.ListArray.from_arrays(
        pa.array(rows.indptr.astype(np.int32)), pa.array(rows.data * weights[rows.indices], pa.float64()),
        type=values.type, mask=values.is_null() if values.null_count else None,
    )
    return pa.StructArray.from_arrays(
        [kind, size, indices, new_values], fields=list(vectors.type),
        mask=vectors.is_null() if vectors.null_count else None,
    )


class _IdfWeightingWriter(MLWriter):
    def __init__(self, instance: IdfWeighting) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sc,
                                         extraMetadata={"numFeatures": len(self.instance.weights)})
        data = os.path.join(path, "data")
        os.makedirs(data, exist_ok=True)
        np.save(os.path.join(data, WEIGHTS_FILE), np.ascontiguousarray(self.instance.weights, dtype=np.float64),
                allow_pickle=False)


class _IdfWeightingReader(MLReader):
    def __init__(self, cls) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> IdfWeighting:
        metadata = DefaultParamsReader.loadMetadata(path, self.sc)
        weights = np.load(os.path.join(path, "data", WEIGHTS_FILE), allow_pickle=False)
        if weights.shape != (metadata["numFeatures"],):
            raise ValueError(f"{path}: {weights.shape} IDF weights, the metadata says {metadata['numFeatures']}")
        model = self.cls(weights=weights)
        model._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(model, metadata)
        return model
