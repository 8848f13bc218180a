"""The feature pipeline's text stages (tokens -> stop words -> n-grams -> counts -> sublinear tf ->
IDF -> L2 norm) on whole Arrow batches, value for value as Spark.

What makes it match Spark exactly:
- the text arrives lower-cased by the JVM with the call RegexTokenizer makes
  (``String.toLowerCase()``, the executor's default locale: final sigma, dotted I);
- the terms are found by the compiled kernel of :mod:`jobtagger.fused.term_kernel`: TOKEN_PATTERN
  with the JVM's own ``[\\p{L}\\p{N}]`` (handed in as code point ranges), ``minTokenLength`` in
  UTF-16 units as Java's ``String.length``, stop words, n-grams and the vocabulary lookup;
- counts, ``1 + log(tf)``, ``tf * idf`` and the L2 norm are computed in float64 in Spark's order
  (the norm sums squares sequentially per row, as ``Vectors.norm``; ``np.bincount`` adds in input
  order), so the vectors are identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from jobtagger.fused.term_kernel import TermIndex
from jobtagger.text.features import sublinear_counts


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


class TextFeaturizer:
    """Built once per partition from :class:`TextFeatureParams` (the kernel's tables)."""

    def __init__(self, params: TextFeatureParams) -> None:
        self.params = params
        self.term_index = TermIndex(params)

    def features(self, texts: pa.Array, *, width: int) -> sp.csr_matrix:
        """Rows of TF-IDF features (float32 CSR, ``width`` columns, sorted indices) of lower-cased texts."""
        rows, terms = self.term_index.term_occurrences(texts)
        return self.vectors(rows, terms, len(texts), width=width)

    def vectors(self, rows: np.ndarray, terms: np.ndarray, n: int, *, width: int) -> sp.csr_matrix:
        """CountVectorizerModel -> SublinearTf -> IDFModel -> Normalizer (p=2) of the (row,
        vocabulary index) of each term, as float32 CSR."""
        counts = sp.csr_matrix((np.ones(len(terms)), (rows, terms)), shape=(n, len(self.params.vocabulary)))
        counts.sum_duplicates()  # indices sorted within each row, as in Spark's SparseVector
        entry_rows = np.repeat(np.arange(n), np.diff(counts.indptr))
        columns, values = counts.indices, counts.data
        if self.params.sublinear:
            values = sublinear_counts(values)
        values = values * self.params.idf[columns]
        norms = np.sqrt(np.bincount(entry_rows, weights=values * values, minlength=n))  # sequential per row
        values = values / np.where(norms != 0.0, norms, 1.0)[entry_rows]  # a zero vector stays zero
        inside = columns < width  # as the classifier's scoring: features beyond its width are dropped
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(entry_rows[inside], minlength=n), out=indptr[1:])
        return sp.csr_matrix((values[inside].astype(np.float32), columns[inside], indptr), shape=(n, width))
