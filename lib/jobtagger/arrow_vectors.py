"""Spark ML vectors as Arrow batches: what the vectorised (Arrow UDF) scoring and feature code share.

An Arrow UDF receives a ``VectorUDT`` column as its storage struct
``<type: int8, size: int32, indices: list<int32>, values: list<double>>`` (type 0 = sparse,
1 = dense, whose indices are null). Turning a whole batch into one scipy CSR matrix lets a model
score it with one sparse x dense product instead of one Python call per row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

SPARSE = 0


def vectors_to_csr(vectors: pa.StructArray, *, width: int, dtype=np.float64) -> sp.csr_matrix:
    """Rows of a vector batch as an n x ``width`` CSR matrix.

    Null vectors become empty rows (see :func:`vector_nulls`); entries at indices ``>= width``
    (features the model was not trained on) are dropped.
    """
    kind, _, indices, values = vectors.flatten()  # flatten() applies the struct's nulls and offset
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    data = pc.list_flatten(values).to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    columns = np.arange(len(data), dtype=np.int64) - np.repeat(indptr[:-1], lengths)  # dense: position
    sparse_rows = pc.fill_null(pc.equal(kind, SPARSE), False).to_numpy(zero_copy_only=False)
    if sparse_rows.any():
        columns[np.repeat(sparse_rows, lengths)] = pc.list_flatten(indices).to_numpy(zero_copy_only=False)
    keep = columns < width
    if not keep.all():
        rows = np.repeat(np.arange(len(vectors)), lengths)[keep]
        indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(vectors)), out=indptr[1:])
        data, columns = data[keep], columns[keep]
    return sp.csr_matrix((data, columns, indptr), shape=(len(vectors), width))


def max_vector_width(vectors: pa.StructArray) -> int:
    """The largest vector size in a batch: a sparse vector's ``size``, a dense one's length
    (VectorUDT leaves ``size`` null for dense vectors); 0 for a batch of null vectors."""
    kind, size, _, values = vectors.flatten()
    widths = pc.if_else(pc.equal(kind, SPARSE), size, pc.list_value_length(values))
    return pc.max(widths).as_py() or 0


def vector_nulls(vectors: pa.StructArray) -> np.ndarray:
    """Boolean mask of the null vectors of a batch."""
    return vectors.is_null().to_numpy(zero_copy_only=False)


def dense_rows_to_lists(matrix: np.ndarray, nulls: np.ndarray) -> pa.ListArray:
    """An n x K float array as an Arrow ``list<double>`` column (null where ``nulls``), zero-copy."""
    n, k = matrix.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    mask = pa.array(nulls) if nulls.any() else None
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(matrix, dtype=np.float64).ravel()),
                                    mask=mask)


def map_vector_values(vectors: pa.StructArray, function: Callable[[np.ndarray], np.ndarray]) -> pa.StructArray:
    """The same vectors with ``function`` applied to every stored value (indices, sizes, nulls kept)."""
    kind, size, indices, values = (vectors.field(i) for i in range(4))
    mapped = function(values.values.to_numpy(zero_copy_only=False))
    new_values = pa.ListArray.from_arrays(values.offsets, pa.array(mapped, type=values.type.value_type),
                                          type=values.type, mask=values.is_null() if values.null_count else None)
    return pa.StructArray.from_arrays(
        [kind, size, indices, new_values], fields=list(vectors.type),
        mask=vectors.is_null() if vectors.null_count else None,
    )
