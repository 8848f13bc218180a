"""The feature pipeline's text stages (tokens -> stop words -> n-grams -> counts -> sublinear tf ->
IDF -> L2 norm) on whole Arrow batches, value for value as Spark.

What makes it match Spark exactly:
- the text is lower-cased as RegexTokenizer does (``String.toLowerCase()``, the executor's default
  locale: final sigma, dotted I) by the JVM's own mapping (:mod:`jobtagger.fused.lowercase`), or
  arrives lower-cased by the JVM;
- the terms are found by the compiled kernel of :mod:`jobtagger.fused.term_kernel`: TOKEN_PATTERN
  with the JVM's own ``[\\p{L}\\p{N}]`` (handed in as code point ranges), ``minTokenLength`` in
  UTF-16 units as Java's ``String.length``, stop words, n-grams, character n-grams and the
  vocabulary lookup;
- counts, ``1 + log(tf)``, ``tf * idf`` and the L2 norm are computed in float64 in Spark's order
  (the norm sums squares sequentially per row in column order, as ``Vectors.norm``), so the
  vectors are identical. Counting, idf and the norm are compiled (``+ * / sqrt`` are IEEE in numba
  as in numpy); ``1 + log(tf)`` is numpy's, looked up per count, as numba's ``log`` may differ in
  the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from jobtagger.fused.lowercase import JavaLowercase, Lowercaser
from jobtagger.fused.term_kernel import TermIndex
from jobtagger.text.features import sublinear_counts

_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)  # (lowest bit * this) >> 58 differs for each bit
_DE_BRUIJN_BITS = np.zeros(64, np.int64)  # ... and indexes that bit's position here
_DE_BRUIJN_BITS[[((1 << bit) * int(_DE_BRUIJN) % (1 << 64)) >> 58 for bit in range(64)]] = np.arange(64)


@dataclass(frozen=True, eq=False)
class TextFeatureParams:
    """What the fitted text stages hold, as plain values (shipped to the executors)."""

    letter_ranges: tuple[tuple[int, int], ...]  # the JVM's [\p{L}\p{N}], inclusive code point ranges
    min_token_length: int
    stop_words: tuple[str, ...]
    ngram_sizes: tuple[int, ...]
    vocabulary: tuple[str, ...]
    sublinear: bool
    idf: np.ndarray  # float64, one per vocabulary term
    lowercase: JavaLowercase | None = None  # None: the texts arrive lower-cased by the JVM
    char_ngram_sizes: tuple[int, ...] = ()  # character n-grams of the kept tokens (features.char_ngrams)


class TextFeaturizer:
    """Built once per Python worker from :class:`TextFeatureParams` (the kernel's tables; read-only
    after)."""

    def __init__(self, params: TextFeatureParams) -> None:
        self.params = params
        self.term_index = TermIndex(params)
        self.lowercaser = Lowercaser(params.lowercase) if params.lowercase is not None else None

    def features(self, texts: pa.Array, *, width: int) -> sp.csr_matrix:
        """Rows of TF-IDF features (float32 CSR, ``width`` columns, sorted indices) of the texts
        (lower-cased here when the params hold the JVM's mapping, else lower-cased already)."""
        if self.lowercaser is not None:
            texts = self.lowercaser.lowercased(texts)
        rows, terms = self.term_index.term_occurrences(texts)
        return self.vectors(rows, terms, len(texts), width=width)

    def vectors(self, rows: np.ndarray, terms: np.ndarray, n: int, *, width: int) -> sp.csr_matrix:
        """CountVectorizerModel -> SublinearTf -> IDFModel -> Normalizer (p=2) of the (row,
        vocabulary index) of each term, in row order, as float32 CSR."""
        indptr, columns, values = _tf_idf_rows(rows, terms, n, self._tf_values(rows, n), self.params.idf, width)
        return sp.csr_matrix((values, columns, indptr), shape=(n, width))

    def _tf_values(self, rows: np.ndarray, n: int) -> np.ndarray:
        """The tf weight of each count from 0 to the longest row's term count (no term can count
        more), by the very numpy function Spark's stage is tested against (numba's ``log`` may
        differ in the last bit)."""
        longest = int(np.diff(np.searchsorted(rows, np.arange(n + 1))).max(initial=0))
        tf = np.arange(longest + 1, dtype=np.float64)
        return sublinear_counts(tf) if self.params.sublinear else tf


@numba.njit(cache=True, nogil=True)
def _tf_idf_rows(rows, terms, n, tf_values, idf, width):
    """(row offsets, columns, float32 values) of each row's ``tf * idf`` divided by its L2 norm,
    from (row, vocabulary index) pairs in row order (as the term kernel finds them), without the
    columns at ``width`` and beyond (the classifier's scoring drops them). A row's terms are
    counted in a dense array and marked in a two-level bitmap (a bit per term, a bit per bitmap
    word), which yields them in ascending order without sorting: Spark's SparseVector order, in
    which the norm sums the squares (float64, as ``Vectors.norm``)."""
    indptr = np.zeros(n + 1, np.int64)
    term_counts = np.zeros(len(idf), np.int64)
    term_bits = np.zeros((len(idf) + 63) >> 6, np.uint64)
    word_bits = np.zeros((len(term_bits) + 63) >> 6, np.uint64)
    columns = np.empty(len(terms), np.int32)
    values = np.empty(len(terms), np.float32)
    row_columns = np.empty(len(terms), np.int64)  # the current row's distinct terms, ascending
    row_weights = np.empty(len(terms), np.float64)
    kept = 0
    i = 0
    for row in range(n):
        while i < len(rows) and rows[i] == row:
            term = terms[i]
            if term_counts[term] == 0:
                term_bits[term >> 6] |= np.uint64(1) << np.uint64(term & 63)
                word_bits[term >> 12] |= np.uint64(1) << np.uint64((term >> 6) & 63)
            term_counts[term] += 1
            i += 1
        distinct = 0
        squares = 0.0
        for summary in range(len(word_bits)):
            words = word_bits[summary]
            if words == 0:
                continue
            word_bits[summary] = 0
            while words:
                word = (summary << 6) + _lowest_bit(words)
                words &= words - np.uint64(1)
                bits = term_bits[word]
                term_bits[word] = 0
                while bits:
                    term = (word << 6) + _lowest_bit(bits)
                    bits &= bits - np.uint64(1)
                    weight = tf_values[term_counts[term]] * idf[term]
                    term_counts[term] = 0
                    squares += weight * weight
                    row_columns[distinct] = term
                    row_weights[distinct] = weight
                    distinct += 1
        norm = np.sqrt(squares)
        if norm == 0.0:  # a zero vector stays zero
            norm = 1.0
        for k in range(distinct):
            if row_columns[k] < width:
                columns[kept] = row_columns[k]
                values[kept] = np.float32(row_weights[k] / norm)
                kept += 1
        indptr[row + 1] = kept
    if i != len(rows):
        raise ValueError("(row, term) pairs must come in row order")
    return indptr, columns[:kept], values[:kept]


@numba.njit(cache=True, nogil=True)
def _lowest_bit(bits):
    """The index of the lowest set bit of a nonzero uint64 (de Bruijn multiplication)."""
    return _DE_BRUIJN_BITS[((bits & (~bits + np.uint64(1))) * _DE_BRUIJN) >> np.uint64(58)]
