"""What both multi-label Estimators share: Params, the cached training blocks, class weights,
scoring, and saving/loading without pickle.

Training data reach Python once, as Arrow batches: ``features`` (vector) and ``labels``
(array<string>) are packed per partition into blocks of up to ``blockRows`` rows (scipy CSR
float32 features, CSR 0/1 targets over the K labels) and cached; every pass of an optimizer then maps over the cached
blocks and serves all labels it is training at once. A pass that sums a d x K array over the
partitions (:meth:`TrainingBlocks.sum_partitions`) exchanges it through memory-backed files when
Spark runs in local mode: a broadcast and a task result of that size each cost several copies
through the JVM, a quarter of the pass. Blocks small enough are held by the driver instead, and
a pass runs there without a Spark job.

A fitted model is a set of named float32/float64 arrays (e.g. ``weights`` d x K, ``bias`` K,
``logit_offset`` K) plus Params. It saves as ``metadata/`` (Spark's JSON metadata with the
Params and the label list) and ``data/<name>.npy`` written with ``allow_pickle=False``; it loads
with ``allow_pickle=False`` too. Paths are local or mounted folders (the warehouse).

Scores: ``sigmoid(logits + logit_offset)`` where the offset undoes the intercept shift that class
weights (log w_neg/w_pos) and negative sampling (log q) introduce, so scores stay probabilities.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pyspark import StorageLevel, keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasFeaturesCol, HasMaxIter, HasRegParam, HasSeed, HasTol
from pyspark.ml.util import (
    DefaultParamsReadable,
    DefaultParamsReader,
    DefaultParamsWritable,
    DefaultParamsWriter,
    MLReadable,
    MLReader,
    MLWritable,
    MLWriter,
)
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DoubleType

from jobtagger.arrow_vectors import dense_rows_to_lists, max_vector_width, vector_nulls, vectors_to_csr
from jobtagger.errors import JobtaggerError

LOGGER = logging.getLogger("jobtagger.models")


class TrainingDataError(JobtaggerError):
    exit_code = 3


class MultiLabelParams(HasFeaturesCol, HasMaxIter, HasRegParam, HasTol, HasSeed):
    """Params shared by both Estimators and their Models."""

    labelsCol = Param(Params._dummy(), "labelsCol", "array<string> column of labels", TypeConverters.toString)
    scoresCol = Param(Params._dummy(), "scoresCol", "output array<double> of K probabilities", TypeConverters.toString)
    labelSpace = Param(
        Params._dummy(), "labelSpace",
        "labels to train, in output order (empty: every label in the data, sorted)", TypeConverters.toListString,
    )
    classWeight = Param(Params._dummy(), "classWeight", "none | balanced", TypeConverters.toString)
    blockRows = Param(Params._dummy(), "blockRows", "rows per cached training block", TypeConverters.toInt)
    passExchange = Param(
        Params._dummy(), "passExchange",
        "where an optimizer pass meets the cached blocks: auto | spark | shared-files | driver (see TrainingBlocks)",
        TypeConverters.toString,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(
            featuresCol="features", labelsCol="labels", scoresCol="scores", labelSpace=[],
            classWeight="balanced", blockRows=8192, passExchange="auto", maxIter=50, regParam=1e-4, tol=1e-4, seed=7,
        )

    def getLabelsCol(self) -> str:
        return self.getOrDefault(self.labelsCol)

    def getScoresCol(self) -> str:
        return self.getOrDefault(self.scoresCol)


class MultiLabelEstimator(Estimator, MultiLabelParams, DefaultParamsReadable, DefaultParamsWritable):
    """Base of both Estimators: the constructor's keyword arguments are the class's Params
    (``OneVsRestLogistic(maxIter=30)``), declared with their defaults in its Params class.

    As with pyspark's own ``@keyword_only`` constructors, only the arguments given (and not None)
    are set, the others keep their defaults; a name that is no Param is a TypeError.
    """

    @keyword_only
    def __init__(self, **params) -> None:
        super().__init__()
        unknown = sorted(name for name in params if not self.hasParam(name))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: {', '.join(unknown)}")
        self._set(**{name: value for name, value in params.items() if value is not None})


# ---------------------------------------------------------------------------- training blocks


Exchange = Literal["auto", "spark", "shared-files", "driver"]
EXCHANGES: tuple[str, ...] = get_args(Exchange)
# Under exchange "auto" the driver holds the blocks and runs the passes (see TrainingBlocks) while
# a pass is cheaper than a Spark job: at most this many feature nonzeros x labels (the
# multiply-adds of one product with a d x K array; a pass of two products ~0.2 s on one core) ...
DRIVER_PASS_MAX_PRODUCTS = 150_000_000
# ... and the blocks' CSR arrays (features and targets) take at most this many bytes: a bounded
# copy in the driver, never a big frame.
DRIVER_BLOCKS_MAX_BYTES = 64 * 2**20
Block = tuple[sp.csr_matrix, sp.csr_matrix]
PartitionSum = Callable[[Iterator[Block], np.ndarray], tuple[np.ndarray, np.ndarray]]


class TrainingBlocks:
    """Cached RDD of ``(X csr float32 n x d, Y csr float32 n x K)`` blocks, label statistics and
    each feature's mean square (the diagonal a solver can precondition with).

    ``exchange`` is how :meth:`sum_partitions` moves its d x K arrays: ``spark`` (a broadcast in,
    ``treeReduce`` out: works on any cluster), ``shared-files`` (raw array files in a private folder
    of /dev/shm, memory-mapped by the tasks: needs the driver and the executors on one machine),
    ``driver`` (the blocks are collected once and every pass runs in the driver's process: no
    Spark job per pass) or ``auto``: ``driver`` for small blocks (:data:`DRIVER_PASS_MAX_PRODUCTS`,
    :data:`DRIVER_BLOCKS_MAX_BYTES`), else shared files when the master is local, else ``spark``.
    On a small corpus a pass computes in milliseconds and a Spark job costs ~0.2 s, so an
    optimizer's hundreds of passes per fit were almost all job overhead; on a large one the
    partitions' parallel work pays for the job. The shared files' folder is made by the first
    pass, sized by what that pass moves (later passes move no more: labels only drop out)."""

    def __init__(self, dataset: DataFrame, params: MultiLabelParams, *, exchange: Exchange | None = None) -> None:
        exchange = exchange or params.getOrDefault(params.passExchange)
        if exchange not in EXCHANGES:
            raise ValueError(f"passExchange must be one of {', '.join(EXCHANGES)}, got {exchange!r}")
        labels = list(params.getOrDefault(params.labelSpace))
        labels_col = params.getLabelsCol()
        if not labels:
            labels = sorted(
                row[0] for row in dataset.select(F.explode(labels_col)).distinct().collect() if row[0] is not None
            )
        if not labels:
            raise TrainingDataError(f"no labels to train: column {labels_col!r} holds no label")
        self.labels = labels
        block_rows = params.getOrDefault(params.blockRows)
        features_col = params.getFeaturesCol()

        def to_blocks(batches):
            yield from _arrow_blocks(batches, features_col=features_col, labels_col=labels_col,
                                     labels=labels, block_rows=block_rows)

        source = dataset.select(features_col, labels_col)
        cores = dataset.sparkSession.sparkContext.defaultParallelism
        if source.rdd.getNumPartitions() > cores:
            # Every partition sends one d x K result per optimizer pass: more partitions than
            # cores add transfer, not parallelism.
            source = source.coalesce(cores)
        rdd = (
            source
            .mapInArrow(to_blocks, "block binary")
            .rdd.map(lambda row: pickle.loads(row[0]))
        )
        self.rdd = rdd.persist(StorageLevel.MEMORY_AND_DISK)
        stats = self.rdd.map(
            lambda b: (b[0].shape[0], b[0].shape[1], np.asarray(b[1].sum(axis=0)).ravel(),
                       np.asarray(b[0].multiply(b[0]).sum(axis=0), dtype=np.float64).ravel(),
                       _csr_bytes(b[0]) + _csr_bytes(b[1]), b[0].nnz)
        ).collect()
        if not stats or sum(s[0] for s in stats) == 0:
            self.rdd.unpersist()
            raise TrainingDataError("no training rows")
        if len({s[1] for s in stats}) > 1:
            self.rdd.unpersist()
            raise TrainingDataError(f"feature vectors differ in size: {sorted({s[1] for s in stats})}")
        self.rows = sum(s[0] for s in stats)
        self.dim = stats[0][1]
        self.positives = np.sum([s[2] for s in stats], axis=0)
        self.feature_mean_squares = np.sum([s[3] for s in stats], axis=0) / self.rows
        self.nbytes = sum(s[4] for s in stats)
        self.nnz = sum(s[5] for s in stats)
        self.sc = dataset.sparkSession.sparkContext
        if exchange == "auto":
            if self.nnz * len(labels) <= DRIVER_PASS_MAX_PRODUCTS and self.nbytes <= DRIVER_BLOCKS_MAX_BYTES:
                exchange = "driver"
            else:
                exchange = "shared-files" if self.sc.master.startswith("local") else "spark"
        self.exchange = exchange
        self.exchange_folder: str | None = None
        self._driver_blocks: list[Block] | None = self.rdd.collect() if exchange == "driver" else None

    def unpersist(self) -> None:
        self.rdd.unpersist()
        self._driver_blocks = None
        if self.exchange_folder is not None:
            shutil.rmtree(self.exchange_folder, ignore_errors=True)

    def sum_partitions(self, partition_sum: PartitionSum, shared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One pass: ``partition_sum(blocks, shared) -> (small, large)`` on every partition, both
        summed over the partitions. ``shared`` (e.g. d x K weights) reaches every task read-only."""
        if self.exchange == "driver":
            if self._driver_blocks is None:
                raise RuntimeError("the training blocks were unpersisted: no pass can run on them")
            # read-only, as the tasks' broadcast copy or memory map is
            view = shared.view()
            view.flags.writeable = False
            return partition_sum(iter(self._driver_blocks), view)
        if self.exchange == "spark":
            return self._sum_through_spark(partition_sum, shared)
        if self.exchange_folder is None:
            # On file at a time: the shared array and one result per partition, sized like it
            # (weights in, gradients out); /dev/shm is chosen only with room for twice that.
            self.exchange_folder = _exchange_folder((self.rdd.getNumPartitions() + 1) * shared.nbytes)
        return self._sum_through_files(partition_sum, shared)

    def _sum_through_spark(self, partition_sum: PartitionSum, shared: np.ndarray):
        broadcast = self.sc.broadcast(shared)
        try:
            return self.rdd.mapPartitions(lambda blocks: [partition_sum(blocks, broadcast.value)]).treeReduce(_add_pairs)
        finally:
            broadcast.destroy()

    def _sum_through_files(self, partition_sum: PartitionSum, shared: np.ndarray):
        folder, shape, dtype = self.exchange_folder, shared.shape, shared.dtype
        _overwrite(os.path.join(folder, "shared"), shared)

        def run(index: int, blocks: Iterator[Block]):
            small, large = partition_sum(blocks, _mapped(os.path.join(folder, "shared"), shape, dtype))
            _overwrite(os.path.join(folder, f"part-{index}"), large)
            yield index, small, large.shape, large.dtype.str

        results = self.rdd.mapPartitionsWithIndex(run).collect()
        small = sum(result[1] for result in results)
        parts = [_mapped(os.path.join(folder, f"part-{index}"), part_shape, part_dtype)
                 for index, _, part_shape, part_dtype in results]
        large = np.array(parts[0])
        for part in parts[1:]:
            large += part
        return small, large

    def class_weights(self, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-label (w_pos, w_neg); ``balanced`` gives each class half the total weight."""
        K = len(self.labels)
        if mode == "none":
            return np.ones(K), np.ones(K)
        if mode != "balanced":
            raise ValueError(f"classWeight must be none or balanced, got {mode!r}")
        pos = np.clip(self.positives, 1, None)
        neg = np.clip(self.rows - self.positives, 1, None)
        return self.rows / (2.0 * pos), self.rows / (2.0 * neg)


def _csr_bytes(matrix: sp.csr_matrix) -> int:
    return matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes


def _add_pairs(a, b):
    return a[0] + b[0], a[1] + b[1]


def _overwrite(path: str, array: np.ndarray) -> None:
    """Write ``array``'s bytes over the start of ``path`` without truncating it: the file's pages
    are reused pass after pass instead of freed and allocated again (a retried task rewrites it)."""
    with open(path, "r+b" if os.path.exists(path) else "w+b") as file:
        file.write(memoryview(np.ascontiguousarray(array)).cast("B"))


def _mapped(path: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """The array at the start of ``path``, memory-mapped read-only (no copy)."""
    return np.asarray(np.memmap(path, dtype=dtype, mode="r", shape=shape))


def _exchange_folder(largest_bytes: int) -> str:
    """A private folder in /dev/shm (memory, so files cost no disk I/O) when it has room for
    ``largest_bytes`` twice over, else in the temp dir (containers often mount a 64 MB /dev/shm;
    the page cache still serves those files from memory)."""
    memory = "/dev/shm"
    roomy = (os.path.isdir(memory) and os.access(memory, os.W_OK)
             and shutil.disk_usage(memory).free >= 2 * largest_bytes)
    return tempfile.mkdtemp(prefix="jobtagger-exchange-", dir=memory if roomy else None)


def _arrow_blocks(batches, *, features_col: str, labels_col: str, labels: list[str], block_rows: int):
    """Arrow batches -> one-row batches holding a pickled ``(X, Y)`` block of ``block_rows`` rows.

    Whole batches are converted with Arrow compute (no Python loop over rows); incoming batches
    are re-cut so every block but a partition's last has exactly ``block_rows`` rows.
    """
    label_set = pa.array(labels, pa.string())
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= block_rows:
            table = pa.Table.from_batches(pending)
            yield _block_batch(table.slice(0, block_rows), features_col, labels_col, label_set)
            rest = table.slice(block_rows)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield _block_batch(pa.Table.from_batches(pending), features_col, labels_col, label_set)


def _block_batch(table: pa.Table, features_col: str, labels_col: str, label_set: pa.Array) -> pa.RecordBatch:
    vectors = table.column(features_col).combine_chunks()
    X = vectors_to_csr(vectors, width=max_vector_width(vectors), dtype=np.float32)
    row_labels = table.column(labels_col).combine_chunks()
    n = len(row_labels)
    lengths = pc.fill_null(pc.list_value_length(row_labels), 0).to_numpy(zero_copy_only=False)
    positions = pc.fill_null(pc.index_in(pc.list_flatten(row_labels), value_set=label_set), -1)
    positions = positions.to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(n), lengths)
    known = positions >= 0  # labels outside the label space are not trained
    Y = sp.csr_matrix((np.ones(int(known.sum()), np.float32), (rows[known], positions[known])),
                      shape=(n, len(label_set)))
    Y.sum_duplicates()
    Y.data[:] = 1.0  # a label listed twice is still one positive
    block = pickle.dumps((X, Y), protocol=pickle.HIGHEST_PROTOCOL)
    return pa.RecordBatch.from_arrays([pa.array([block], pa.binary())], names=["block"])


class Progress:
    """Records every pass or epoch (loss, labels done, elapsed seconds) in ``history`` and logs a
    line for the first, for the one that completes the labels or converges, and otherwise at most
    one every ``interval`` seconds: a solver makes hundreds of passes a minute, and a log read by
    a person or a scheduler wants a line every few seconds, not one per pass."""

    def __init__(self, name: str, total_labels: int, *, interval: float = 5.0) -> None:
        self.name, self.total, self.interval = name, total_labels, interval
        self.started = time.perf_counter()
        self._last_logged: float | None = None
        self.history: list[dict] = []

    def log(self, step: int, *, loss: float, labels_done: int, **extra) -> None:
        now = time.perf_counter()
        entry = {
            "event": f"{self.name}.progress", "step": step, "loss": round(float(loss), 6),
            "labels_done": int(labels_done), "labels": self.total,
            "elapsed_s": round(now - self.started, 2), **extra,
        }
        self.history.append(entry)
        finished = labels_done >= self.total or bool(extra.get("converged"))
        if self._last_logged is None or finished or now - self._last_logged >= self.interval:
            self._last_logged = now
            LOGGER.info(json.dumps(entry))


# ---------------------------------------------------------------------------- fitted model


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) without overflow; ~8x faster than ``np.logaddexp(0, z)`` on float32."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def forward_logits(arrays: dict[str, np.ndarray], X) -> np.ndarray:
    """Logits n x K of a linear (``weights``) or one-hidden-layer (``hidden_weights``) model."""
    if "hidden_weights" in arrays:
        hidden = np.maximum(X @ arrays["hidden_weights"] + arrays["hidden_bias"], 0.0)
        return hidden @ arrays["weights"] + arrays["bias"]
    return X @ arrays["weights"] + arrays["bias"]


def score_vector_batch(arrays: dict[str, np.ndarray], vectors: pa.StructArray) -> pa.ListArray:
    """Probabilities (``list<double>``, K per row, null for a null vector) of an Arrow vector batch."""
    first = arrays["hidden_weights"] if "hidden_weights" in arrays else arrays["weights"]
    X = vectors_to_csr(vectors, width=first.shape[0], dtype=first.dtype)
    probabilities = sigmoid(forward_logits(arrays, X) + arrays["logit_offset"])
    return dense_rows_to_lists(probabilities, vector_nulls(vectors))


class MultiLabelModel(Model, MultiLabelParams, MLReadable, MLWritable):
    """Fitted multi-label model: ``scores`` = K probabilities aligned with :attr:`labels`."""

    def __init__(self, labels: list[str] | None = None, arrays: dict[str, np.ndarray] | None = None) -> None:
        super().__init__()
        self.labels = list(labels or [])
        self.arrays = dict(arrays or {})
        self.training_summary: dict = {}

    def _transform(self, dataset: DataFrame) -> DataFrame:
        """Scores whole Arrow batches: one CSR x dense product per batch, weights broadcast once."""
        broadcast = dataset.sparkSession.sparkContext.broadcast(dict(self.arrays))

        @F.arrow_udf(ArrayType(DoubleType()))
        def score(vectors: pa.Array) -> pa.Array:
            return score_vector_batch(broadcast.value, vectors)

        return dataset.withColumn(self.getScoresCol(), score(F.col(self.getFeaturesCol())))

    def predict_matrix(self, X) -> np.ndarray:
        """Probabilities n x K for a CSR matrix (driver-side, for small sets and tests)."""
        return sigmoid(forward_logits(self.arrays, X) + self.arrays["logit_offset"])

    def top_features(self, label: str, n: int = 20) -> list[tuple[int, float]]:
        """The ``n`` input features with the largest positive weight for ``label``.

        For the one-hidden-layer model the weight of a feature is its effective linear weight
        ``hidden_weights @ weights[:, label]`` (exact for active ReLUs, a ranking aid otherwise).
        Feature indices map to terms through the feature pipeline's vocabulary.
        """
        k = self.labels.index(label)
        column = self.arrays["weights"][:, k]
        if "hidden_weights" in self.arrays:
            column = self.arrays["hidden_weights"] @ column
        order = np.argsort(-column)[:n]
        return [(int(i), float(column[i])) for i in order if column[i] > 0]

    def write(self) -> MLWriter:
        return _ArraysWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _ArraysReader(cls)


class _ArraysWriter(MLWriter):
    def __init__(self, instance: MultiLabelModel) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        model = self.instance
        DefaultParamsWriter.saveMetadata(
            model, path, self.sc,
            extraMetadata={"labels": model.labels, "arrays": sorted(model.arrays),
                           "training_summary": model.training_summary},
        )
        data = os.path.join(path, "data")
        os.makedirs(data, exist_ok=True)
        for name, array in model.arrays.items():
            np.save(os.path.join(data, f"{name}.npy"), np.ascontiguousarray(array), allow_pickle=False)


class _ArraysReader(MLReader):
    def __init__(self, cls) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str):
        metadata = DefaultParamsReader.loadMetadata(path, self.sc)
        arrays = {
            name: np.load(os.path.join(path, "data", f"{name}.npy"), allow_pickle=False)
            for name in metadata["arrays"]
        }
        model = self.cls(labels=metadata["labels"], arrays=arrays)
        model._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(model, metadata)
        model.training_summary = metadata.get("training_summary", {})
        return model


def finish_model(model: MultiLabelModel, estimator) -> MultiLabelModel:
    """Copy the estimator's Params onto its model (the Params both share)."""
    for param in estimator.params:
        if model.hasParam(param.name) and estimator.isSet(param):
            model._set(**{param.name: estimator.getOrDefault(param)})
    return model
