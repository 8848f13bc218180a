"""The feature pipeline's text stages (tokens -> stop words -> n-grams -> counts -> sublinear tf ->
IDF -> L2 norm) on whole Arrow batches with pyarrow.compute and numpy, value for value as Spark.

What makes it match Spark exactly:
- the text arrives lower-cased by the JVM with the call RegexTokenizer makes
  (``String.toLowerCase()``, the executor's default locale: final sigma, dotted I);
- the letter/digit class of ``TOKEN_PATTERN`` is the JVM's own ``[\\p{L}\\p{N}]``, handed in as code
  point ranges (RE2's Unicode tables are newer than Java 17's);
- ``minTokenLength`` counts UTF-16 units, as Java's ``String.length``;
- counts, ``1 + log(tf)``, ``tf * idf`` and the L2 norm are computed in float64 in Spark's order
  (the norm sums squares sequentially per row, as ``Vectors.norm``; ``np.bincount`` adds in input
  order), so the vectors are identical.

Tokenizing without a per-row loop: RE2 in pyarrow has no find-all, so the text is split into
chunks of characters a token can hold (letters, digits, ``.-+#``); a chunk that is one token once
its leading junk and trailing ``.``/``-`` are trimmed (nearly all) is taken as is, and the rare
others (``a.-b``, ``c++b``) are tokenized by marking every match with a regex replacement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from jobtagger.text.features import sublinear_counts

# Characters besides letters and digits that TOKEN_PATTERN lets into a token: inner '.'/'-',
# trailing '+'/'#'.
_TOKEN_PUNCTUATION = ".-+#"
_SUPPLEMENTARY = r"[\x{10000}-\x{10FFFF}]"  # two UTF-16 units each in Java's String.length


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
    """Built once per partition from :class:`TextFeatureParams` (Arrow arrays, regex texts)."""

    def __init__(self, params: TextFeatureParams) -> None:
        self.params = params
        letters = "".join(
            f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}" for low, high in params.letter_ranges
        )
        letter = f"[{letters}]"
        token = f"{letter}+(?:[.\\-]{letter}+)*[+#]*"  # TOKEN_PATTERN with the JVM's class
        self.chunk_gap = f"[^{letters}.\\-+#]+"
        self.whole_token = f"^(?:{token})?$"
        self.mark_tokens = f"[^{letters}]*({token})|[^{letters}]+"
        self.stop_words = pa.array(params.stop_words, pa.string())
        self.vocabulary = pa.array(params.vocabulary, pa.string())

    def features(self, texts: pa.Array, *, width: int) -> sp.csr_matrix:
        """Rows of TF-IDF features (float32 CSR, ``width`` columns, sorted indices) of lower-cased texts."""
        rows, tokens = self.tokens(texts)
        rows, terms = self.terms(rows, tokens)
        return self.vectors(rows, terms, len(texts), width=width)

    def tokens(self, texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
        """(row of each token, token) in text order, after the length filter and the stop words."""
        chunk_lists = pc.split_pattern_regex(pc.fill_null(texts, ""), pattern=self.chunk_gap)
        chunk_rows = pc.list_parent_indices(chunk_lists).to_numpy()
        chunks = pc.list_flatten(chunk_lists)
        trimmed = pc.utf8_rtrim(pc.utf8_ltrim(chunks, characters=_TOKEN_PUNCTUATION), characters=".-")
        whole = pc.match_substring_regex(trimmed, pattern=self.whole_token).to_numpy(zero_copy_only=False)
        single = np.flatnonzero(whole & (pc.binary_length(trimmed).to_numpy() > 0))
        pieces, piece_chunks = self._tokens_of_irregular(chunks, np.flatnonzero(~whole))
        found = pa.concat_arrays([trimmed.take(single), pieces])
        owners = np.concatenate([single, piece_chunks])
        order = np.argsort(owners, kind="stable")  # two sorted runs: chunk order, pieces in order
        tokens = found.take(order)
        rows = chunk_rows[owners[order]]
        keep = self._long_enough(tokens) & ~pc.is_in(tokens, value_set=self.stop_words).to_numpy(zero_copy_only=False)
        return rows[keep], tokens.filter(keep)

    def _tokens_of_irregular(self, chunks: pa.Array, irregular: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """Tokens of the chunks that are not one token, each prefixed by a space, then split."""
        if irregular.size == 0:
            return pa.array([], chunks.type), np.zeros(0, np.int64)
        marked = pc.replace_substring_regex(chunks.take(irregular), pattern=self.mark_tokens, replacement=" \\1")
        split = pc.split_pattern(marked, " ")
        owners = irregular[pc.list_parent_indices(split).to_numpy()]
        pieces = pc.list_flatten(split)
        nonempty = pc.binary_length(pieces).to_numpy() > 0
        return pieces.filter(nonempty), owners[nonempty]

    def _long_enough(self, tokens: pa.Array) -> np.ndarray:
        """Java's ``length >= minTokenLength``: UTF-16 units, so a supplementary character counts 2."""
        length = pc.utf8_length(tokens).to_numpy().astype(np.int64)
        short = np.flatnonzero(length < self.params.min_token_length)
        if short.size:
            length[short] += pc.count_substring_regex(tokens.take(short), pattern=_SUPPLEMENTARY).to_numpy()
        return length >= self.params.min_token_length

    def terms(self, rows: np.ndarray, tokens: pa.Array) -> tuple[np.ndarray, pa.Array]:
        """Tokens followed by their n-grams (space-joined runs of n tokens within a row)."""
        all_rows, all_terms = [rows], [tokens]
        for n in self.params.ngram_sizes:
            starts = np.flatnonzero(rows[: max(len(rows) - n + 1, 0)] == rows[n - 1 :])
            parts = [tokens.take(starts + offset) for offset in range(n)]
            all_terms.append(pc.binary_join_element_wise(*parts, " "))
            all_rows.append(rows[starts])
        return np.concatenate(all_rows), pa.concat_arrays(all_terms)

    def vectors(self, rows: np.ndarray, terms: pa.Array, n: int, *, width: int) -> sp.csr_matrix:
        """CountVectorizerModel -> SublinearTf -> IDFModel -> Normalizer (p=2), as float32 CSR."""
        ids = pc.fill_null(pc.index_in(terms, value_set=self.vocabulary), -1).to_numpy()
        known = ids >= 0
        counts = sp.csr_matrix((np.ones(int(known.sum())), (rows[known], ids[known])),
                               shape=(n, len(self.params.vocabulary)))
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
