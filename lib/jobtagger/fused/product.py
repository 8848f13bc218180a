"""The classifier's probabilities for the fused scorer: the model's own scoring
(``sigmoid(forward_logits(arrays, X) + logit_offset)``, :mod:`jobtagger.models.common`) with its
sparse x dense product compiled, value for value, and fewer n x K temporaries.

Why the compiled product is scipy's to the bit: scipy's CSR x dense product starts each output row
at zero and adds ``value * weights[column]`` for the row's entries in index order, in the common
dtype of both operands, each product rounded before its sum (its kernel is built without fused
multiply-add); numba compiles the same loop without fast-math, so LLVM neither fuses nor
reorders those operations. The bias and offset are then added in numpy's order (product + bias,
then + offset) while the row is in cache; the hidden layer's dense product and the sigmoid's
``tanh`` stay numpy's, the sigmoid computed in place (checked equal on every float32).
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp


def probabilities(arrays: dict[str, np.ndarray], X: sp.csr_matrix) -> np.ndarray:
    """``sigmoid(forward_logits(arrays, X) + arrays["logit_offset"])``, bit for bit."""
    if "hidden_weights" in arrays:
        hidden = np.maximum(affine(X, arrays["hidden_weights"], arrays["hidden_bias"]), 0.0)
        logits = hidden @ arrays["weights"] + arrays["bias"] + arrays["logit_offset"]
    else:
        logits = affine(X, arrays["weights"], arrays["bias"], arrays["logit_offset"])
    return _sigmoid_in_place(logits)


def affine(X: sp.csr_matrix, weights: np.ndarray, *addends: np.ndarray) -> np.ndarray:
    """``X @ weights + addends[0] + addends[1] ...`` (1-D addends, one value per column) as numpy
    and scipy compute it, for CSR ``X`` with sorted indices. An addend that would change the
    product's dtype, and every one after it, is added by numpy."""
    dtype = np.result_type(X.dtype, weights.dtype)
    fused = 0
    while fused < len(addends) and np.result_type(dtype, addends[fused].dtype) == dtype:
        fused += 1
    row_addends = np.array(addends[:fused], dtype).reshape(fused, weights.shape[1])
    result = _csr_affine(X.indptr, X.indices, X.data.astype(dtype, copy=False),
                         np.ascontiguousarray(weights, dtype=dtype), row_addends)
    for addend in addends[fused:]:
        result = result + addend
    return result


def _sigmoid_in_place(z: np.ndarray) -> np.ndarray:
    """``models.common.sigmoid`` (``0.5 * (1 + tanh(0.5 z))``) step by step in ``z`` itself:
    the same ufunc loops, without four n x K temporaries."""
    np.multiply(z, 0.5, out=z)
    np.tanh(z, out=z)
    np.add(z, 1.0, out=z)
    np.multiply(z, 0.5, out=z)
    return z


@numba.njit(cache=True, nogil=True)
def _csr_affine(indptr, indices, data, weights, row_addends):
    """Each row: zero, then ``+= value * weights[column]`` for its entries in order (scipy's
    ``csr_matvecs``), then ``+ row_addends[a]`` for each addend in order. Four entries are added
    per sweep over the row (left to right, so each output is rounded after every addition, in
    scipy's order): the row is loaded and stored a quarter as often."""
    n, width = len(indptr) - 1, weights.shape[1]
    result = np.zeros((n, width), data.dtype)
    for row in range(n):
        out = result[row]
        entry, end = indptr[row], indptr[row + 1]
        while entry + 4 <= end:
            v0, v1, v2, v3 = data[entry], data[entry + 1], data[entry + 2], data[entry + 3]
            w0, w1 = weights[indices[entry]], weights[indices[entry + 1]]
            w2, w3 = weights[indices[entry + 2]], weights[indices[entry + 3]]
            for k in range(width):
                out[k] = out[k] + v0 * w0[k] + v1 * w1[k] + v2 * w2[k] + v3 * w3[k]
            entry += 4
        for last in range(entry, end):
            value, weight_row = data[last], weights[indices[last]]
            for k in range(width):
                out[k] += value * weight_row[k]
        for addend in row_addends:
            for k in range(width):
                out[k] += addend[k]
    return result
